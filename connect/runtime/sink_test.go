package runtime

import (
	"context"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/connect"
)

// openRecorder is a sink task that records the partitions it is given.
type openRecorder struct {
	ctx            connect.SinkTaskContext
	atStart        []connect.TopicPartition // the assignment Start saw
	opened, closed [][]connect.TopicPartition
}

func (r *openRecorder) Version() string { return "test" }
func (r *openRecorder) Start(ctx connect.SinkTaskContext, _ map[string]string) error {
	r.ctx = ctx
	r.atStart = ctx.Assignment()
	return nil
}
func (r *openRecorder) Put([]*connect.SinkRecord) error              { return nil }
func (r *openRecorder) Flush(map[connect.TopicPartition]int64) error { return nil }
func (r *openRecorder) Stop() error                                  { return nil }
func (r *openRecorder) Open(parts []connect.TopicPartition) error {
	r.opened = append(r.opened, parts)
	return nil
}
func (r *openRecorder) Close(parts []connect.TopicPartition) error {
	r.closed = append(r.closed, parts)
	return nil
}

// TestSinkAssignedBeforeStart: franz-go may call OnPartitionsAssigned while the task
// is still starting. Those partitions must be taken and opened once it has started;
// before this, they were dropped, and the task never committed an offset for them
// (TestDeadLetterQueue waited 30 s for offsets in about one run of twelve).
func TestSinkAssignedBeforeStart(t *testing.T) {
	rec := &openRecorder{}
	st := &sinkTask{task: rec, topics: &topicSet{}}
	ctx := context.Background()

	st.onAssigned(ctx, nil, map[string][]int32{"b": {0}, "a": {1, 0}})
	st.onRevoked(ctx, nil, map[string][]int32{"a": {1}})
	st.onAssigned(ctx, nil, map[string][]int32{"c": {3}})
	st.onLost(ctx, nil, map[string][]int32{"c": {3}})
	if len(rec.opened) != 0 || len(rec.closed) != 0 {
		t.Fatalf("the task saw partitions before it started: opened %v, closed %v", rec.opened, rec.closed)
	}
	if err := st.start(); err != nil {
		t.Fatal(err)
	}
	want := []connect.TopicPartition{{Topic: "a", Partition: 0}, {Topic: "b", Partition: 0}}
	if len(rec.opened) != 1 || !slices.Equal(rec.opened[0], want) {
		t.Fatalf("opened %v after start, want once %v", rec.opened, want)
	}
	if got := rec.ctx.Assignment(); !slices.Equal(got, want) {
		t.Fatalf("assignment %v after start, want %v", got, want)
	}
	if len(rec.atStart) != 0 {
		t.Errorf("Start saw assignment %v, want none yet (Kafka opens partitions after start)", rec.atStart)
	}

	// After start, assignments and revocations reach the task at once.
	st.onAssigned(ctx, nil, map[string][]int32{"c": {2}})
	want = append(want, connect.TopicPartition{Topic: "c", Partition: 2})
	if got := rec.ctx.Assignment(); !slices.Equal(got, want) || len(rec.opened) != 2 {
		t.Fatalf("assignment %v (opened %v), want %v", got, rec.opened, want)
	}
	st.onLost(ctx, nil, map[string][]int32{"a": {0}})
	if got := rec.ctx.Assignment(); !slices.Equal(got, want[1:]) || len(rec.closed) != 1 {
		t.Fatalf("assignment %v (closed %v) after losing a-0, want %v", got, rec.closed, want[1:])
	}
}
