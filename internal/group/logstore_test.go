package group

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/record"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// newReplicaStorage is a ReplicaStorage over a real single-node log of a
// one-partition __consumer_offsets, and that partition.
func newReplicaStorage(t *testing.T) (*ReplicaStorage, *replica.Partition) {
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
	m := replica.NewManager(1, logs, meta.Image, func(map[string]string) (storage.Config, error) { return storage.DefaultConfig(), nil }, logger)
	t.Cleanup(meta.Subscribe(func(prev, next *metadata.Image) {
		if prev != nil {
			m.Apply(prev, next)
		}
	}))
	if _, err := meta.CreateTopic(ctx, metadata.TopicSpec{Name: Topic, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	part, err := m.Partition(Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return NewReplicaStorage(m), part
}

func offsetRecord(group, topic string, p int32, off int64) Record {
	return Record{Key: offsetKey(group, topic, p), Value: encodeOffsetValue(offsetValue{Offset: off, LeaderEpoch: -1, ExpireTime: -1})}
}

// TestReplicaStorageTransactional: transactional batches pass the log's
// producer checks one after another (the sequence continues), a stale
// epoch is refused by the log, and Load hands back each record's producer
// and the marker; a coordinator loading the partition commits the
// producer's offsets.
func TestReplicaStorageTransactional(t *testing.T) {
	s, part := newReplicaStorage(t)
	if _, _, err := s.Append(0, []Record{offsetRecord("g", "t", 0, 1)}); err != nil {
		t.Fatal(err)
	}
	lasts := []int64{}
	for _, tc := range []struct {
		epoch int16
		recs  []Record
	}{
		{0, []Record{offsetRecord("g", "t", 0, 10), offsetRecord("g", "t", 1, 10)}},
		{0, []Record{offsetRecord("g", "t", 0, 11), offsetRecord("g", "t", 1, 11)}}, // same size: no duplicate
		{0, []Record{offsetRecord("g", "t", 0, 11), offsetRecord("g", "t", 1, 11)}},
		{1, []Record{offsetRecord("g", "t", 2, 12)}}, // a new epoch restarts at sequence 0
	} {
		last, _, err := s.AppendTransactional(0, 5, tc.epoch, tc.recs)
		if err != nil {
			t.Fatalf("transactional append at epoch %d: %v", tc.epoch, err)
		}
		lasts = append(lasts, last)
	}
	if want := []int64{2, 4, 6, 7}; !slices.Equal(lasts, want) {
		t.Fatalf("last offsets %v, want %v (each batch appended once)", lasts, want)
	}
	if _, _, err := s.AppendTransactional(0, 5, 0, []Record{offsetRecord("g", "t", 0, 99)}); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("append of a stale epoch: %v, want INVALID_PRODUCER_EPOCH", err)
	}
	// The marker, as a leader's log holds it (written here through the
	// replication path, which takes a batch as it is).
	marker, err := record.BuildMarker(nil, 5, 1, 0, true, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	record.SetBaseOffset(marker, part.Log().LogEndOffset())
	if err := part.Log().AppendReplicated(marker); err != nil {
		t.Fatal(err)
	}

	// What Load says of each record besides its key and value.
	type seen struct {
		Offset          int64
		ProducerID      int64
		ProducerEpoch   int16
		Control, Commit bool
	}
	var got []seen
	err = s.Load(context.Background(), 0, func(r LoadedRecord) error {
		got = append(got, seen{r.Offset, r.ProducerID, r.ProducerEpoch, r.Control, r.Commit})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []seen{{0, -1, -1, false, false}}
	for o := int64(1); o <= 6; o++ {
		want = append(want, seen{o, 5, 0, false, false})
	}
	want = append(want, seen{7, 5, 1, false, false}, seen{8, 5, 1, true, true})
	if !slices.Equal(got, want) {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}

	c := New(testConfig(), s, newFakeClock(), nil)
	t.Cleanup(c.Stop)
	c.Start()
	c.Lead([16]byte{1}, 1, []int32{0})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.waitLoaded(ctx, 0); err != nil {
		t.Fatal(err)
	}
	out, err := c.FetchOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{0, 1, 2}}}, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []int64{11, 11, 12} {
		if f := out[0].Partitions[i]; f.Offset != w || f.Err != nil {
			t.Fatalf("t/%d after the load: %+v, want offset %d", i, f, w)
		}
	}
	// The coordinator's own commits continue the producer's sequence.
	for _, off := range []int64{20, 21} {
		errs := <-c.TxnOffsetCommit(txnReq("g", 5, 1, co("t", 0, off)))
		wantErr(t, "txn commit after the load", errs[0], nil)
	}
	if err := c.CompleteTransaction(0, 5, 1, false); err != nil {
		t.Fatal(err)
	}
	out, _ = c.FetchOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, true)
	if f := out[0].Partitions[0]; f.Offset != 11 || f.Err != nil {
		t.Fatalf("t/0 after an abort: %+v, want 11", f)
	}
}
