package admin

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDeleteRecords(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 2, nil)
	produce(t, cl, topic, 0, 100, 200)

	del := func(t *testing.T, topic string, p int32, at int64) kadm.DeleteRecordsResponse {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: at})
		resps, err := adm.DeleteRecords(ctxT(t), os)
		if err != nil && !errorsIsAny(err, kerr.UnknownTopicOrPartition) {
			t.Fatal(err)
		}
		r, ok := resps.Lookup(topic, p)
		if !ok {
			r.Err = err
		}
		return r
	}

	r := del(t, topic, 0, 40)
	wantErr(t, "delete below 40", r.Err, nil)
	if r.LowWatermark != 40 {
		t.Fatalf("low watermark %d, want 40", r.LowWatermark)
	}
	starts, err := adm.ListStartOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 40 {
		t.Fatalf("start offset %d after DeleteRecords, want 40", o.Offset)
	}
	// A consumer from the start begins at 40.
	if first := firstOffset(t, n, topic, 0); first != 40 {
		t.Fatalf("first record consumed at %d, want 40", first)
	}
	// Lower than the current start: nothing changes.
	if r := del(t, topic, 0, 10); r.Err != nil || r.LowWatermark != 40 {
		t.Fatalf("delete below 10 after 40: %+v", r)
	}
	for _, tc := range []struct {
		name      string
		topic     string
		partition int32
		at        int64
		want      *kerr.Error
	}{
		{"past the high watermark", topic, 0, 101, kerr.OffsetOutOfRange},
		{"negative", topic, 0, -5, kerr.OffsetOutOfRange},
		{"unknown partition", topic, 9, 0, kerr.UnknownTopicOrPartition},
		{"unknown topic", topic + "-nope", 0, 0, kerr.UnknownTopicOrPartition},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, del(t, tc.topic, tc.partition, tc.at).Err, tc.want)
		})
	}
	// -1 is the high watermark.
	if r := del(t, topic, 0, -1); r.Err != nil || r.LowWatermark != 100 {
		t.Fatalf("delete to the high watermark: %+v, want low watermark 100", r)
	}
	// The empty partition 1 too.
	if r := del(t, topic, 1, -1); r.Err != nil || r.LowWatermark != 0 {
		t.Fatalf("delete on an empty partition: %+v", r)
	}

	// The log start survives a restart.
	n.restart()
	_, adm = n.client(t)
	starts, err = adm.ListStartOffsets(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 100 {
		t.Fatalf("start offset %d after restart, want 100", o.Offset)
	}
}

func TestDeleteRecordsOnCompactedTopic(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, map[string]*string{"cleanup.policy": ptr("compact")})
	produce(t, cl, topic, 0, 10, 10)

	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 5})
	resps, err := adm.DeleteRecords(ctxT(t), os)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := resps.Lookup(topic, 0)
	wantErr(t, "delete records of a compacted topic", r.Err, kerr.PolicyViolation)

	alter(t, adm, topic, kadm.AlterConfig{Name: "cleanup.policy", Value: ptr("compact,delete")})
	resps, err = adm.DeleteRecords(ctxT(t), os)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = resps.Lookup(topic, 0)
	wantErr(t, "delete records with compact,delete", r.Err, nil)
}

// firstOffset consumes a partition from its start and returns the first
// record's offset.
func firstOffset(t testing.TB, n *node, topic string, partition int32) int64 {
	t.Helper()
	cl, _ := n.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}))
	// Closed at once: a fetch long poll left open would hold up a broker
	// shutdown.
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctxT(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume %s-%d: %v", topic, partition, err)
		}
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0].Offset
		}
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errorsIs(err, t) {
			return true
		}
	}
	return false
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	n := startNode(t)
	cl, adm := n.client(t)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, nil)
	produce(t, cl, topic, 0, 25, 10)

	md, err := adm.Metadata(ctxT(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	epoch := md.Topics[topic].Partitions[0].LeaderEpoch

	ask := func(t *testing.T, topic string, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.LeaderEpoch = current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := dialRaw(t, n.addr).do(versioned(req, 4)).(*kmsg.OffsetForLeaderEpochResponse)
		return resp.Topics[0].Partitions[0]
	}

	p := ask(t, topic, epoch, epoch)
	wantCode(t, "current epoch", p.ErrorCode, nil)
	if p.LeaderEpoch != epoch || p.EndOffset != 25 {
		t.Fatalf("epoch %d: answered epoch %d end %d, want %d and 25", epoch, p.LeaderEpoch, p.EndOffset, epoch)
	}
	p = ask(t, topic, -1, epoch+1)
	wantCode(t, "future epoch", p.ErrorCode, nil)
	if p.LeaderEpoch != -1 || p.EndOffset != -1 {
		t.Fatalf("epoch above the latest: %d/%d, want -1/-1", p.LeaderEpoch, p.EndOffset)
	}
	// A single node never changes leader, so the epoch stays 0 and a stale
	// current epoch (FENCED_LEADER_EPOCH) cannot be produced here.
	wantCode(t, "newer current epoch", ask(t, topic, epoch+1, epoch).ErrorCode, kerr.UnknownLeaderEpoch)
	wantCode(t, "unknown topic", ask(t, topic+"-nope", -1, 0).ErrorCode, kerr.UnknownTopicOrPartition)

	// kadm, as a consumer detecting truncation would use it.
	var req kadm.OffsetForLeaderEpochRequest
	req.Add(topic, 0, epoch)
	res, err := adm.OffsetForLeaderEpoch(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[topic][0]; r.Err != nil || r.EndOffset != 25 {
		t.Fatalf("kadm OffsetForLeaderEpoch: %+v", r)
	}
}
