package metadata

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

func mustEncodeSnapshot(t *testing.T, img *Image) []byte {
	t.Helper()
	b, err := encodeSnapshot(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func samePointer(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }

// TestImageImmutable changes everything an image holds and checks that an image taken
// before is bit for bit what it was, and that unchanged maps are shared, not copied.
func TestImageImmutable(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	a, err := s.CreateTopic(ctx, TopicSpec{Name: "a.a", Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigs(ctx, map[string]*string{"b": ptr("1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNodeConfigs(ctx, 1, map[string]*string{"n": ptr("1")}); err != nil {
		t.Fatal(err)
	}
	old := s.Image()
	oldNode1 := old.NodeConfigs[1]
	oldBytes := mustEncodeSnapshot(t, old)
	oldTopic := old.Topic("a.a")

	steps := []func() error{
		func() error {
			return s.SetTopicConfigs(ctx, "a.a", map[string]*string{"k": ptr("changed"), "k2": ptr("new")})
		},
		func() error { return s.CreatePartitions(ctx, "a.a", 4) },
		func() error { return s.SetBrokerConfigs(ctx, map[string]*string{"b": nil, "c": ptr("2")}) },
		func() error { return s.SetNodeConfigs(ctx, 1, map[string]*string{"n": ptr("2"), "m": ptr("3")}) },
		func() error { return s.SetNodeConfigs(ctx, 2, map[string]*string{"o": ptr("4")}) },
		func() error { return s.SetBrokerFenced(ctx, 1, true) },
		func() error { return s.SetBrokerFenced(ctx, 1, false) },
		func() error { _, err := s.AllocateProducerIDs(ctx, 5); return err },
		func() error {
			_, err := s.CreateTopic(ctx, TopicSpec{Name: "b", Partitions: 1, ReplicationFactor: 1})
			return err
		},
		func() error { return s.DeleteTopic(ctx, a.ID) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if !bytes.Equal(mustEncodeSnapshot(t, old), oldBytes) {
		t.Fatal("an old image changed when later changes were applied")
	}
	if old.Topic("a.a") != oldTopic || len(oldTopic.Partitions) != 2 || oldTopic.Configs["k"] != "v" || old.Topic("b") != nil {
		t.Fatalf("old image's topic changed: %+v", oldTopic)
	}
	if len(old.NodeConfigs) != 1 || fmt.Sprint(oldNode1) != "map[n:1]" || !samePointer(old.NodeConfigs[1], oldNode1) {
		t.Fatalf("old image's node configs changed: %v", old.NodeConfigs)
	}
	if s.Image().Topic("a.a") != nil || s.Image().Topic("b") == nil {
		t.Fatal("changes missing from the current image")
	}

	// Copy on write: a config change shares the topic maps, a topic change shares the
	// broker map and every topic it did not touch.
	before := s.Image()
	if err := s.SetBrokerConfigs(ctx, map[string]*string{"d": ptr("3")}); err != nil {
		t.Fatal(err)
	}
	after := s.Image()
	if !samePointer(before.Topics, after.Topics) || !samePointer(before.TopicsByID, after.TopicsByID) || !samePointer(before.Brokers, after.Brokers) {
		t.Error("a broker config change copied the topic or broker maps")
	}
	if samePointer(before.BrokerConfigs, after.BrokerConfigs) {
		t.Error("a broker config change did not copy the broker config map")
	}
	if !samePointer(before.NodeConfigs, after.NodeConfigs) {
		t.Error("a cluster-wide broker config change copied the per-node config map")
	}
	if err := s.SetNodeConfigs(ctx, 2, map[string]*string{"o": ptr("5")}); err != nil {
		t.Fatal(err)
	}
	node := s.Image()
	if samePointer(after.NodeConfigs, node.NodeConfigs) || samePointer(after.NodeConfigs[2], node.NodeConfigs[2]) {
		t.Error("a per-node config change did not copy the maps it changed")
	}
	if !samePointer(after.NodeConfigs[1], node.NodeConfigs[1]) || !samePointer(after.BrokerConfigs, node.BrokerConfigs) {
		t.Error("a per-node config change copied another node's or the cluster-wide config map")
	}
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "c", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	last := s.Image()
	if !samePointer(after.Brokers, last.Brokers) || last.Topic("b") != after.Topic("b") {
		t.Error("creating a topic copied the broker map or an untouched topic")
	}
}

// TestSubscribe checks that subscribers see every image once, in log order, from the one
// current when they subscribed, also under concurrent writers, and nothing after cancel.
func TestSubscribe(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	ctx := context.Background()
	var mu sync.Mutex
	type call struct{ prev, next *Image }
	var calls []call
	start := s.Image()
	cancel := s.Subscribe(func(prev, next *Image) {
		mu.Lock()
		calls = append(calls, call{prev, next})
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				if _, err := s.CreateTopic(ctx, TopicSpec{Name: fmt.Sprintf("t%d-%d", i, j), Partitions: 1, ReplicationFactor: 1}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	final := s.Image()
	if err := s.SetBrokerConfigs(ctx, map[string]*string{"x": ptr("y")}); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 21 {
		t.Fatalf("%d calls, want 1 initial + 20 changes", len(calls))
	}
	if calls[0].prev != nil || calls[0].next != start {
		t.Fatalf("first call (%p, %p), want (nil, current image %p)", calls[0].prev, calls[0].next, start)
	}
	for i := 1; i < len(calls); i++ {
		c := calls[i]
		if c.prev != calls[i-1].next || c.next.Offset <= c.prev.Offset || len(c.next.Topics) != len(c.prev.Topics)+1 {
			t.Fatalf("call %d: prev %p (offset %d, %d topics), next offset %d (%d topics); previous next was %p",
				i, c.prev, c.prev.Offset, len(c.prev.Topics), c.next.Offset, len(c.next.Topics), calls[i-1].next)
		}
	}
	if calls[len(calls)-1].next != final {
		t.Fatal("last delivered image is not the current one")
	}
}

// TestSubscribeCancelInside cancels from inside the callback, which must not deadlock.
func TestSubscribeCancelInside(t *testing.T) {
	s := openWithBroker(t, testConfig(t, t.TempDir()))
	n := 0
	var cancel func()
	cancel = s.Subscribe(func(prev, next *Image) {
		n++
		if prev != nil {
			cancel()
		}
	})
	for i := 0; i < 3; i++ {
		if err := s.SetBrokerConfigs(context.Background(), map[string]*string{"x": ptr(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if n != 2 {
		t.Fatalf("%d calls, want 2 (initial, then the change that canceled)", n)
	}
}

// buildImage makes an image holding one of everything, through the state machine.
func buildImage(t *testing.T) *Image {
	t.Helper()
	img := emptyImage()
	rack := "rack-1"
	id1, id2 := NewUUID(), NewUUID()
	v := "v"
	batches := [][]Record{
		{&ClusterRecord{ClusterID: "c1"}, &LeaderChangeRecord{LeaderID: 1, Epoch: 3}},
		{&RegisterBrokerRecord{NodeID: 1, Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "h", Port: 9092, SecurityProtocol: "PLAINTEXT"}}, Rack: &rack, IncarnationID: NewUUID()}},
		{&RegisterBrokerRecord{NodeID: 2, Fenced: true}},
		{&TopicRecord{Name: "x.y", TopicID: id1}, newPartitionRecord(id1, 0, []int32{1, 2}), newPartitionRecord(id1, 1, []int32{2, 1}),
			&ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: "x.y", Name: "k", Value: &v}},
		{&TopicRecord{Name: "z", TopicID: id2}, &PartitionRecord{TopicID: id2, Replicas: []int32{2}, ISR: []int32{}, Leader: -1, LeaderEpoch: 4, PartitionEpoch: 7}},
		{&ConfigRecord{ResourceType: ConfigResourceBroker, Name: "bk", Value: &v}},
		{&ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "1", Name: "nk", Value: &v},
			&ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "3", Name: "nk", Value: &v},
			&ConfigRecord{ResourceType: ConfigResourceBroker, ResourceName: "3", Name: "nk2", Value: &v}},
		{&ProducerIDsRecord{BrokerID: 1, First: 0, Next: 2000}},
	}
	for i, recs := range batches {
		next, err := applyBatch(img, uint64(10+i), recs)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		img = next
	}
	return img
}

func TestSnapshotRoundTrip(t *testing.T) {
	img := buildImage(t)
	got, err := decodeSnapshot(mustEncodeSnapshot(t, img))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, img) {
		t.Fatalf("restored image differs:\n got %+v\nwant %+v", got, img)
	}
	if _, err := decodeSnapshot(mustEncodeSnapshot(t, emptyImage())); err != nil {
		t.Fatalf("snapshot of the empty image: %v", err)
	}
	for name, data := range map[string][]byte{
		"empty":       nil,
		"no header":   mustEncodeBatch(t, []Record{&ClusterRecord{ClusterID: "c"}}),
		"bad content": mustEncodeBatch(t, []Record{&SnapshotHeaderRecord{Offset: 1}, &PartitionRecord{TopicID: NewUUID(), Replicas: []int32{1}}}),
		"truncated":   mustEncodeSnapshot(t, img)[:40],
	} {
		if _, err := decodeSnapshot(data); err == nil {
			t.Errorf("%s: decodeSnapshot succeeded", name)
		}
	}
}

func mustEncodeBatch(t *testing.T, recs []Record) []byte {
	t.Helper()
	b, err := EncodeBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func boltFirstIndex(t *testing.T, dir string) uint64 {
	t.Helper()
	db, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first, err := db.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first
}

// TestSnapshotAndRestore snapshots, trims the log, and reopens: what came before the
// snapshot can only come back through Restore.
func TestSnapshotAndRestore(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.TrailingLogs = 2
	s := openWithBroker(t, cfg)
	ctx := context.Background()
	ids := map[string][16]byte{}
	create := func(name string) {
		tp, err := s.CreateTopic(ctx, TopicSpec{Name: name, Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"n": name}})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = tp.ID
	}
	for i := 0; i < 20; i++ {
		create(fmt.Sprintf("before-%d", i))
	}
	if _, err := s.AllocateProducerIDs(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	snapOffset := s.Image().Offset
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		create(fmt.Sprintf("after-%d", i))
	}
	want := s.Image()
	s.Close()

	if first := boltFirstIndex(t, cfg.Dir); first <= snapOffset-uint64(cfg.TrailingLogs) || first < 10 {
		t.Fatalf("log starts at %d after a snapshot at %d with 2 trailing entries: not trimmed", first, snapOffset)
	}
	s = openStore(t, cfg)
	defer s.Close()
	got := s.Image()
	if len(got.Topics) != len(want.Topics) {
		t.Fatalf("%d topics after restore, want %d", len(got.Topics), len(want.Topics))
	}
	for name, id := range ids {
		tp := got.Topic(name)
		if tp == nil || tp.ID != id || len(tp.Partitions) != 2 || tp.Configs["n"] != name || got.TopicByID(id) != tp {
			t.Fatalf("topic %s after restore: %+v", name, tp)
		}
	}
	if !reflect.DeepEqual(got.Brokers, want.Brokers) || got.NextProducerID != want.NextProducerID || got.ClusterID != want.ClusterID {
		t.Fatalf("brokers/producer ids/cluster after restore: %+v %d %q", got.Brokers, got.NextProducerID, got.ClusterID)
	}
	// The collision index came back with the snapshot.
	if _, err := s.CreateTopic(ctx, TopicSpec{Name: "before_0", Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("before_0 (no collision, no dot): %v", err)
	}
}

// TestPeriodicSnapshot checks raft snapshots by itself once the threshold is passed.
func TestPeriodicSnapshot(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.SnapshotThreshold = 8
	cfg.SnapshotInterval = 10 * time.Millisecond
	cfg.TrailingLogs = 4
	s := openWithBroker(t, cfg)
	for i := 0; i < 12; i++ {
		if _, err := s.CreateTopic(context.Background(), TopicSpec{Name: fmt.Sprint("t", i), Partitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// A second reader of the snapshot directory; it would warn about the temporary
	// directory of a snapshot in progress.
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, newHclog(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := snaps.List()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			if list[0].Index == 0 {
				t.Fatalf("snapshot at index %d", list[0].Index)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling for the condition, not waiting for it
	}
	s.Close()
	s = openStore(t, cfg)
	defer s.Close()
	if n := len(s.Image().Topics); n != 12 {
		t.Fatalf("%d topics after reopen, want 12", n)
	}
}
