package replica

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

type fixture struct {
	meta *metadata.Store
	logs *storage.Manager
	m    *Manager
}

func newFixture(t *testing.T, overrides func(map[string]string) storage.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	meta, err := metadata.Open(ctx, metadata.Config{Dir: t.TempDir(), NodeID: 1, ClusterID: "test-cluster-id-0000", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	if err := meta.RegisterBroker(ctx, metadata.BrokerRegistration{NodeID: 1, Endpoints: []metadata.Endpoint{{Listener: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}}); err != nil {
		t.Fatal(err)
	}
	logs, err := storage.OpenManager(ctx, storage.ManagerConfig{Dirs: []string{t.TempDir()}, FS: vfs.OS(), Logger: logger, SchedulerInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logs.Close() })
	if overrides == nil {
		overrides = func(map[string]string) storage.Config { return storage.DefaultConfig() }
	}
	m := NewManager(1, logs, meta.Image, func(o map[string]string) (storage.Config, error) { return overrides(o), nil }, logger)
	t.Cleanup(meta.Subscribe(func(prev, next *metadata.Image) {
		if prev != nil {
			m.Apply(prev, next)
		}
	}))
	return &fixture{meta: meta, logs: logs, m: m}
}

func batch(t *testing.T, values ...string) []byte {
	t.Helper()
	b := record.NewBuilder(record.CodecNone)
	for _, v := range values {
		b.Add(time.Now().UnixMilli(), nil, []byte(v))
	}
	out, err := b.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPartitionLookupErrors(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	topic, err := f.meta.CreateTopic(ctx, metadata.TopicSpec{Name: "orders", Partitions: 2, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		topic string
		part  int32
		want  error
	}{
		{"unknown topic", "nope", 0, kerr.UnknownTopicOrPartition},
		{"partition past the end", "orders", 2, kerr.UnknownTopicOrPartition},
		{"negative partition", "orders", -1, kerr.UnknownTopicOrPartition},
		{"hosted", "orders", 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.Partition(tc.topic, tc.part)
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := f.m.PartitionByID([16]byte{1}, 0); !errors.Is(err, kerr.UnknownTopicID) {
		t.Fatalf("unknown id: err = %v", err)
	}
	p, err := f.m.PartitionByID(topic.ID, 0)
	if err != nil || p.TopicID() != topic.ID {
		t.Fatalf("by id: %v, %v", p, err)
	}
}

func TestAppendAdvancesHighWatermark(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.meta.CreateTopic(context.Background(), metadata.TopicSpec{Name: "t", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := f.m.Partition("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Append(batch(t, "a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if res.BaseOffset != 0 || res.LastOffset != 2 {
		t.Fatalf("offsets %d-%d, want 0-2", res.BaseOffset, res.LastOffset)
	}
	if hw := p.Log().HighWatermark(); hw != 3 {
		t.Fatalf("HW = %d, want 3 (the ISR is the leader alone)", hw)
	}
}

func TestDurableHighWatermarkFollowsFlush(t *testing.T) {
	f := newFixture(t, func(map[string]string) storage.Config {
		c := storage.DefaultConfig()
		c.FlushMessages = 1
		return c
	})
	if _, err := f.meta.CreateTopic(context.Background(), metadata.TopicSpec{Name: "d", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := f.m.Partition("d", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Durable() {
		t.Fatal("flush.messages=1 should make the partition durable")
	}
	res, err := p.Append(batch(t, "x", "y"))
	if err != nil {
		t.Fatal(err)
	}
	// The high watermark moves only once the data is flushed.
	if err := p.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
		t.Fatal(err)
	}
	if hw := p.Log().HighWatermark(); hw != 2 {
		t.Fatalf("HW after flush = %d, want 2", hw)
	}
	if fo := p.Log().FlushedOffset(); fo < 2 {
		t.Fatalf("flushed offset %d, want >= 2", fo)
	}
}

func TestLeaderEpochChecks(t *testing.T) {
	p := &Partition{leaderEpoch: 5}
	for _, tc := range []struct {
		client int32
		want   error
	}{
		{-1, nil}, {5, nil}, {4, kerr.FencedLeaderEpoch}, {6, kerr.UnknownLeaderEpoch},
	} {
		if err := p.CheckLeaderEpoch(tc.client); err != tc.want {
			t.Errorf("client epoch %d: err = %v, want %v", tc.client, err, tc.want)
		}
	}
}

func TestDeletedTopicLogIsRemoved(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	topic, err := f.meta.CreateTopic(ctx, metadata.TopicSpec{Name: "gone", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.m.Partition("gone", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(batch(t, "v")); err != nil {
		t.Fatal(err)
	}
	if err := f.meta.DeleteTopic(ctx, topic.ID); err != nil {
		t.Fatal(err)
	}
	// The subscriber runs before DeleteTopic returns.
	if _, ok := f.logs.Get(storage.TopicPartition{Topic: "gone", Partition: 0}); ok {
		t.Fatal("the deleted topic's log is still open")
	}
	// Re-created under the same name, the topic starts empty with a new ID.
	again, err := f.meta.CreateTopic(ctx, metadata.TopicSpec{Name: "gone", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := f.m.Partition("gone", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p2.TopicID() != again.ID || p2.Log().LogEndOffset() != 0 {
		t.Fatalf("re-created topic: id %x, LEO %d; want %x, 0", p2.TopicID(), p2.Log().LogEndOffset(), again.ID)
	}
}

func TestConfigChangeReachesLog(t *testing.T) {
	f := newFixture(t, func(o map[string]string) storage.Config {
		c := storage.DefaultConfig()
		if o["flush.messages"] == "1" {
			c.FlushMessages = 1
		}
		return c
	})
	ctx := context.Background()
	if _, err := f.meta.CreateTopic(ctx, metadata.TopicSpec{Name: "c", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	p, err := f.m.Partition("c", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.Durable() {
		t.Fatal("durable before the change")
	}
	one := "1"
	if err := f.meta.SetTopicConfigs(ctx, "c", map[string]*string{"flush.messages": &one}); err != nil {
		t.Fatal(err)
	}
	if !p.Durable() || p.Log().Config().FlushMessages != 1 {
		t.Fatalf("after the change: durable %v, log flush.messages %d", p.Durable(), p.Log().Config().FlushMessages)
	}
}

func TestOpenDeletesOrphanLogs(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.meta.CreateTopic(ctx, metadata.TopicSpec{Name: "kept", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// A log on disk whose topic the metadata does not know.
	if _, err := f.logs.GetOrCreate(storage.TopicPartition{Topic: "orphan", Partition: 0}, [16]byte{9}, storage.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Open(f.meta.Image()); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.logs.Get(storage.TopicPartition{Topic: "orphan", Partition: 0}); ok {
		t.Fatal("orphan log survived Open")
	}
	if _, ok := f.logs.Get(storage.TopicPartition{Topic: "kept", Partition: 0}); !ok {
		t.Fatal("the hosted partition's log was not opened")
	}
}

// After an unclean stop the checkpointed high watermark can lag the log
// end; a sole-ISR leader must expose everything it holds (issue found by the
// kill -9 restart test: acknowledged records stayed invisible).
func TestSoleLeaderRaisesHighWatermarkToLogEnd(t *testing.T) {
	f := newFixture(t, nil)
	topic, err := f.meta.CreateTopic(context.Background(), metadata.TopicSpec{Name: "hw", Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The log as recovery leaves it: data appended, HW behind.
	l, err := f.logs.GetOrCreate(storage.TopicPartition{Topic: "hw", Partition: 0}, topic.ID, storage.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(batch(t, "a", "b", "c", "d"), 0); err != nil {
		t.Fatal(err)
	}
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("precondition: HW = %d, want 0", hw)
	}
	p, err := f.m.Partition("hw", 0)
	if err != nil {
		t.Fatal(err)
	}
	if hw := p.Log().HighWatermark(); hw != 4 {
		t.Fatalf("HW after becoming leader = %d, want the log end 4", hw)
	}
}
