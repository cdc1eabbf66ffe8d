package task

import (
	"context"
	"log/slog"
)

// RecordDropped counts a record that a processor skipped on purpose (a
// record too late for its window, a null key), Kafka's
// dropped-records-total of the task, and logs why at debug level. DSL
// processors reach it through an optional interface of their context.
func (c *nodeContext) RecordDropped(reason string, attrs ...any) {
	c.task.dropped++
	if c.task.cfg.Log.Enabled(context.Background(), slog.LevelDebug) {
		args := append([]any{"task", c.task.cfg.ID.String(), "node", c.node.node.Name}, attrs...)
		if c.task.current != nil {
			args = append(args, "topic", c.task.current.Topic, "partition", c.task.current.Partition, "offset", c.task.current.Offset)
		}
		c.task.cfg.Log.Debug("dropping record: "+reason, args...)
	}
}

// DroppedRecords is how many records the task's processors skipped.
func (t *Task) DroppedRecords() int64 { return t.dropped }
