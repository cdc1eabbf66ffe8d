package storage

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/producerstate"
)

func TestEpochCacheEndOffsetFor(t *testing.T) {
	var c epochCache
	for _, e := range []EpochEntry{{1, 0}, {3, 10}, {4, 25}} {
		c.assign(e.Epoch, e.StartOffset)
	}
	const leo = 40
	tests := []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{-1, -1, -1}, // undefined epoch
		{0, 0, 0},    // below every epoch: the first epoch's start
		{1, 1, 10},
		{2, 1, 10}, // unknown epoch between: the one below, ending where 3 starts
		{3, 3, 25},
		{4, 4, leo}, // the latest: the log end
		{5, -1, -1}, // above the latest
	}
	for _, tc := range tests {
		ep, end := c.endOffsetFor(tc.epoch, leo)
		if ep != tc.wantEpoch || end != tc.wantEnd {
			t.Errorf("endOffsetFor(%d) = (%d, %d), want (%d, %d)", tc.epoch, ep, end, tc.wantEpoch, tc.wantEnd)
		}
	}
	var empty epochCache
	if ep, end := empty.endOffsetFor(1, leo); ep != -1 || end != -1 {
		t.Errorf("empty cache: (%d, %d)", ep, end)
	}
}

func TestEpochCacheAssignAndTruncate(t *testing.T) {
	var c epochCache
	if !c.assign(2, 5) || c.assign(2, 9) || c.assign(1, 20) || c.assign(-1, 30) {
		t.Fatal("assign: only a new, higher epoch changes the cache")
	}
	c.assign(4, 12)
	c.assign(6, 20)
	// A new epoch starting below existing entries replaces them.
	c.assign(7, 15)
	if got, want := c.snapshot(), []EpochEntry{{2, 5}, {4, 12}, {7, 15}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after assign %v, want %v", got, want)
	}
	c.truncateFromEnd(12)
	if got, want := c.snapshot(), []EpochEntry{{2, 5}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after truncateFromEnd(12) %v, want %v", got, want)
	}
	c.assign(4, 12)
	c.assign(5, 30)
	c.truncateFromStart(20)
	if got, want := c.snapshot(), []EpochEntry{{4, 20}, {5, 30}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after truncateFromStart(20) %v, want %v", got, want)
	}
	if c.truncateFromStart(3) {
		t.Fatal("truncateFromStart below the first entry changed the cache")
	}
}

func TestLeaderEpochCheckpointFile(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	for _, ep := range []int32{0, 0, 2, 2, 5} {
		if _, err := l.Append(build(t, batchSpec{n: 2, ts: e.clock.Ms()}), ep); err != nil {
			t.Fatal(err)
		}
	}
	data, err := readSmallFile(e.fs, filepath.Join(l.Dir(), LeaderEpochCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0\n3\n0 0\n2 4\n5 8\n"; string(data) != want {
		t.Fatalf("leader-epoch-checkpoint:\n%q\nwant\n%q", data, want)
	}
	// Batches carry the epoch they were appended in.
	hs := readAll(t, l, 0)
	if hs[2].PartitionLeaderEpoch != 2 || hs[4].PartitionLeaderEpoch != 5 {
		t.Fatalf("batch epochs %d %d", hs[2].PartitionLeaderEpoch, hs[4].PartitionLeaderEpoch)
	}
	e.reopen()
	l = e.log(DefaultConfig())
	if ep, end := l.EndOffsetForEpoch(2); ep != 2 || end != 8 {
		t.Fatalf("EndOffsetForEpoch(2) after reopen (%d, %d)", ep, end)
	}
}

func TestAppendReplicated(t *testing.T) {
	e := newEnv(t, nil)
	leader := e.log(DefaultConfig())
	ts := e.clock.Ms()
	for i, ep := range []int32{3, 3, 4} {
		if _, err := leader.Append(build(t, batchSpec{n: 3, ts: ts, pid: 9, seq: int32(3 * i)}), ep); err != nil {
			t.Fatal(err)
		}
	}
	r, err := leader.Read(0, 1<<20, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	all, err := r.Bytes()
	r.Release()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300 // a roll between the replicated batches
	follower, err := e.m.GetOrCreate(TopicPartition{"events", 1}, [16]byte{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A corrupt batch is refused whole.
	bad := append([]byte(nil), all...)
	bad[len(bad)-1] ^= 1
	if err := follower.AppendReplicated(bad); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("corrupt replicated batches: %v", err)
	}
	if follower.LogEndOffset() != 0 {
		t.Fatal("a refused replication changed the log")
	}
	if err := follower.AppendReplicated(all); err != nil {
		t.Fatal(err)
	}
	if follower.LogEndOffset() != 9 {
		t.Fatalf("follower LEO %d", follower.LogEndOffset())
	}
	if got, want := follower.LeaderEpochs(), []EpochEntry{{3, 0}, {4, 6}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("follower epochs %v, want %v", got, want)
	}
	// Bytes are kept as the leader wrote them.
	hs := readAll(t, follower, 0)
	if len(hs) != 3 || hs[2].BaseOffset != 6 || hs[2].PartitionLeaderEpoch != 4 {
		t.Fatalf("follower batches %+v", hs)
	}
	// Replaying the same batches again is refused (below the log end).
	if err := follower.AppendReplicated(all); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("replicated batches below the log end: %v", err)
	}
	// Producer state followed: the leader's last batch is a duplicate on
	// the follower too (were it to become leader).
	var entry bool
	follower.ProducerState(func(ps *producerstate.State) {
		_, entry = ps.Entry(9)
	})
	if !entry {
		t.Fatal("follower producer state does not know producer 9")
	}
}
