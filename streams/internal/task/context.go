package task

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
)

// nodeContext is the processor.NodeContext of one node in one task.
type nodeContext struct {
	task *Task
	node *nodeState
}

func (c *nodeContext) ApplicationID() string    { return c.task.cfg.AppID }
func (c *nodeContext) TaskID() processor.TaskID { return c.task.cfg.ID }
func (c *nodeContext) StreamTime() int64        { return c.task.streamTime }
func (c *nodeContext) CurrentSystemTime() int64 { return c.task.cfg.Now() }
func (c *nodeContext) RequestCommit()           { c.task.commitAsked = true }

func (c *nodeContext) RecordMetadata() (processor.RecordMetadata, bool) {
	if c.task.current == nil {
		return processor.RecordMetadata{}, false
	}
	return *c.task.current, true
}

func (c *nodeContext) Store(name string) (state.Store, error) {
	if s, ok := c.task.stores[name]; ok {
		return s, nil
	}
	if s, ok := c.task.cfg.GlobalStores[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("processor %s: no store %s in task %s", c.node.node.Name, name, c.task.cfg.ID)
}

func (c *nodeContext) Forward(r processor.AnyRecord, child string) error {
	prevTS := c.task.currentTS
	c.task.currentTS = r.Timestamp
	err := c.task.forward(c.node, r, child)
	c.task.currentTS = prevTS
	return err
}

func (c *nodeContext) Schedule(interval time.Duration, typ processor.PunctuationType, fn func(int64) error) (processor.Cancellable, error) {
	ms := interval.Milliseconds()
	if ms < 1 {
		return nil, fmt.Errorf("processor %s: punctuation interval %v is under 1ms", c.node.node.Name, interval)
	}
	p := &punctuator{ctx: c, interval: ms, typ: typ, fn: fn, next: -1}
	if typ == processor.WallClockTime {
		p.next = c.task.cfg.Now() + ms
	}
	c.task.punctuators = append(c.task.punctuators, p)
	return p, nil
}

// punctuator is one scheduled function. A stream-time punctuator first
// fires at the first stream time it sees and then every interval after it;
// a wall-clock one every interval from when it was scheduled. A clock that
// jumps several intervals fires it once, and the next time is the next
// multiple of the interval after now, as in Kafka Streams.
type punctuator struct {
	ctx       *nodeContext
	interval  int64
	typ       processor.PunctuationType
	fn        func(int64) error
	next      int64
	cancelled bool
}

func (p *punctuator) Cancel() { p.cancelled = true }

func (p *punctuator) due(now int64) bool {
	if p.cancelled {
		return false
	}
	if p.next < 0 { // stream time: first record seen
		p.next = now
	}
	return now >= p.next
}

func (p *punctuator) fire(now int64) error {
	p.next += p.interval * ((now-p.next)/p.interval + 1)
	t := p.ctx.task
	prev := t.currentTS
	t.currentTS = now
	err := p.fn(now)
	t.currentTS = prev
	if err != nil {
		return fmt.Errorf("task %s: punctuator of %s: %w", t.cfg.ID, p.ctx.node.node.Name, err)
	}
	return nil
}

func (t *Task) punctuate(typ processor.PunctuationType, now int64) error {
	if now < 0 {
		return nil
	}
	for _, p := range t.punctuators {
		if p.typ == typ && p.due(now) {
			if err := p.fire(now); err != nil {
				return err
			}
		}
	}
	return nil
}

// PunctuateStreamTime fires the stream-time punctuators that are due.
func (t *Task) PunctuateStreamTime() error {
	return t.punctuate(processor.StreamTime, t.streamTime)
}

// PunctuateWallClock fires the wall-clock punctuators that are due.
func (t *Task) PunctuateWallClock() error {
	return t.punctuate(processor.WallClockTime, t.cfg.Now())
}

// NextWallClock is when the next wall-clock punctuator is due (-1: none).
func (t *Task) NextWallClock() int64 {
	next := int64(-1)
	for _, p := range t.punctuators {
		if p.typ == processor.WallClockTime && !p.cancelled && (next < 0 || p.next < next) {
			next = p.next
		}
	}
	return next
}
