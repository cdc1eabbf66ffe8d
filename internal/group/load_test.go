package group

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func consumerMetadata(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	m.Topics = topics
	return m.AppendTo(nil)
}

// TestStateSurvivesRestart: a Stable group and its offsets come back from
// the log, and the members carry on with their ids and generation.
func TestStateSurvivesRestart(t *testing.T) {
	h := newHarness(t, nil)
	inst := "static-1"
	ids, gen := h.stableGroup("g", 2)
	now(t, h.c.CommitOffsets(commitReq("g", gen, ids[0], co("t", 0, 42), co("t", 1, 43))))
	now(t, h.c.CommitOffsets(commitReq("simple", -1, "", co("u", 0, 5))))
	r := joinReq("s", "")
	r.InstanceID = &inst
	js := now(t, h.c.JoinGroup(r))
	now(t, h.c.SyncGroup(SyncRequest{Group: "s", Generation: js.Generation, MemberID: js.MemberID, InstanceID: &inst, Assignments: assignments(js.MemberID)}))
	before, _ := h.c.DescribeGroup("g")

	h.start()

	after, err := h.c.DescribeGroup("g")
	if err != nil {
		t.Fatal(err)
	}
	if after.State != "Stable" || after.Protocol != "range" || len(after.Members) != 2 {
		t.Fatalf("after restart %+v", after)
	}
	for i, m := range after.Members {
		b := before.Members[i]
		if m.MemberID != b.MemberID || !bytes.Equal(m.Assignment, b.Assignment) || !bytes.Equal(m.Metadata, b.Metadata) || m.ClientHost != b.ClientHost {
			t.Fatalf("member %d after restart %+v, before %+v", i, m, b)
		}
	}
	for _, id := range ids {
		wantErr(t, "heartbeat after restart", h.heartbeat("g", id, gen), nil)
	}
	if got := h.offsetOf("g", "t", 1); got != 43 {
		t.Fatalf("offset after restart %d", got)
	}
	if got := h.offsetOf("simple", "u", 0); got != 5 {
		t.Fatalf("simple group's offset after restart %d", got)
	}
	wantErr(t, "static member after restart", h.c.Heartbeat(HeartbeatRequest{Group: "s", Generation: js.Generation, MemberID: js.MemberID, InstanceID: &inst}), nil)
	// Members that do not come back after the restart time out.
	h.clock.Advance(session + 1)
	if got := h.state("g"); got != "Empty" {
		t.Fatalf("state %s once the members' sessions end after the restart", got)
	}
}

// TestLoadSkipsUnknownAndBadRecords: records of later key versions
// (KIP-848) are skipped, and a malformed one does not stop the load.
func TestLoadSkipsUnknownAndBadRecords(t *testing.T) {
	h := newHarness(t, nil)
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 1))))
	h.store.mu.Lock()
	h.store.parts[0] = append(h.store.parts[0],
		memRecord{key: []byte{0, 5, 0, 1, 'x'}, value: []byte{1, 2, 3}}, // a v5 key
		memRecord{key: []byte{0, 1, 0, 9}, value: []byte{0, 3}},         // truncated offset key
		memRecord{key: offsetKey("g", "t", 1), value: []byte{0, 3, 1}},  // truncated value
	)
	h.store.mu.Unlock()
	h.start()
	if got := h.offsetOf("g", "t", 0); got != 1 {
		t.Fatalf("offset %d after loading around bad records", got)
	}
}

func TestRecordsCodec(t *testing.T) {
	v := offsetValue{Offset: 9, LeaderEpoch: 2, Metadata: "m", CommitTime: 1000, ExpireTime: -1}
	d, err := decodeRecord(offsetKey("g", "t", 3), encodeOffsetValue(v))
	if err != nil || d.kind != kindOffset || d.group != "g" || d.topic != "t" || d.partition != 3 || *d.offset != v {
		t.Fatalf("offset record: %+v %v", d, err)
	}
	v.ExpireTime = 5000 // written as value v1
	d, err = decodeRecord(offsetKey("g", "t", 3), encodeOffsetValue(v))
	if err != nil || *d.offset != (offsetValue{Offset: 9, LeaderEpoch: -1, Metadata: "m", CommitTime: 1000, ExpireTime: 5000}) {
		t.Fatalf("offset record v1: %+v %v", d.offset, err)
	}
	d, err = decodeRecord(offsetKey("g", "t", 3), nil)
	if err != nil || d.kind != kindOffset || d.offset != nil {
		t.Fatalf("offset tombstone: %+v %v", d, err)
	}
	d, err = decodeRecord(groupKey("g"), nil)
	if err != nil || d.kind != kindGroup || d.group != "g" || d.meta != nil {
		t.Fatalf("group tombstone: %+v %v", d, err)
	}
	if _, err := decodeRecord([]byte{0}, nil); err == nil {
		t.Fatal("a one-byte key decoded")
	}
	// What Kafka writes: value v3 with a leader epoch, read back.
	kv := kmsg.NewOffsetCommitValue()
	kv.Version = 3
	kv.Offset, kv.LeaderEpoch, kv.Metadata, kv.CommitTimestamp = 1, 7, "", 2
	d, err = decodeRecord(offsetKey("g", "t", 0), kv.AppendTo(nil))
	if err != nil || d.offset.LeaderEpoch != 7 {
		t.Fatalf("Kafka's v3 value: %+v %v", d.offset, err)
	}
	_ = kerr.UnknownMemberID
}

func TestPartitionFor(t *testing.T) {
	cases := []struct {
		group string
		n     int32
		want  int32
	}{
		{"", 50, 0},
		{"foo", 50, 101574 % 50},      // "foo".hashCode() == 101574
		{"polygenelubricants", 50, 0}, // hashCode is Integer.MIN_VALUE: Utils.abs gives 0
		{"my-group", 50, 12},          // hashCode -1906497762 (negative)
		{"é", 50, 233 % 50},           // one UTF-16 unit, U+00E9
		{"😀", 50, 1772899 % 50},       // a surrogate pair: 0xD83D, 0xDE00
		{"console-consumer-1", 1, 0},
	}
	for _, tc := range cases {
		if got := PartitionFor(tc.group, tc.n); got != tc.want {
			t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.group, tc.n, got, tc.want)
		}
	}
	if h := javaStringHash("polygenelubricants"); h != -2147483648 {
		t.Fatalf("hash of polygenelubricants %d", h)
	}
}

// TestLoadRetry: a partition whose load fails answers
// COORDINATOR_LOAD_IN_PROGRESS and is loaded again later.
func TestLoadRetry(t *testing.T) {
	h := newHarness(t, nil)
	now(t, h.c.CommitOffsets(commitReq("g", -1, "", co("t", 0, 7))))
	h.c.Stop()
	h.store.loadFail = 1
	c := New(h.cfg, h.store, h.clock, nil)
	t.Cleanup(c.Stop)
	c.Start()
	c.Lead([16]byte{1}, 1, []int32{0})
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.store.mu.Lock()
		failed := h.store.loadFail == 0
		h.store.mu.Unlock()
		if failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("load not attempted")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := c.FetchOffsets("g", nil, false); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("fetch after a failed load: %v, want COORDINATOR_LOAD_IN_PROGRESS", err)
	}
	// The retry is armed once the failed load has finished: advance until
	// the partition has loaded.
	for {
		h.clock.Advance(loadRetry)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		err := c.waitLoaded(ctx, 0)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partition not loaded after the retry: %v", err)
		}
	}
	out, err := c.FetchOffsets("g", []TopicPartitions{{Topic: "t", Partitions: []int32{0}}}, false)
	if err != nil || out[0].Partitions[0].Offset != 7 {
		t.Fatalf("after the retried load: %+v %v", out, err)
	}
}
