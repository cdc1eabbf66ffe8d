package conformance

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnOffsetCommit (key 28): every advertised version, Kafka's semantics.
// What a transaction's end does to the offsets (visible on commit, dropped
// on abort) needs EndTxn and the markers; here the offsets are checked to
// stay invisible while the transaction is open.

func init() {
	covered[28] = "TestTxnOffsetCommit"
}

// txnCommitReq builds a TxnOffsetCommit at version v of offsets (partition
// -> offset) of one topic, in producer pid's transaction at epoch, with the
// consumer's group metadata (sent from v3).
func txnCommitReq(v int16, group string, pid int64, epoch int16, gen int32, memberID, topic string, offsets map[int32]int64, metadata string) *kmsg.TxnOffsetCommitRequest {
	req := versioned(kmsg.NewPtrTxnOffsetCommitRequest(), v)
	req.TransactionalID, req.Group = "txn-"+group, group
	req.ProducerID, req.ProducerEpoch = pid, epoch
	req.Generation, req.MemberID = gen, memberID
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(maps.Keys(offsets)) {
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, offsets[p], 7, kmsg.StringPtr(metadata)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// txnCommit sends a TxnOffsetCommit and returns each partition's error,
// failing if the coordinator never gets ready.
func txnCommit(t testing.TB, c *client, req *kmsg.TxnOffsetCommitRequest) map[int32]int16 {
	t.Helper()
	coordinator(t, c, req.Group)
	resp := retry(t, c, req, func(r *kmsg.TxnOffsetCommitResponse) int16 {
		for _, rt := range r.Topics {
			for _, p := range rt.Partitions {
				if retriable(p.ErrorCode) {
					return p.ErrorCode
				}
			}
		}
		return 0
	})
	out := map[int32]int16{}
	for _, rt := range resp.Topics {
		if rt.Topic != req.Topics[0].Topic {
			t.Fatalf("TxnOffsetCommit v%d: answered topic %q, asked %q", req.Version, rt.Topic, req.Topics[0].Topic)
		}
		for _, p := range rt.Partitions {
			out[p.Partition] = p.ErrorCode
		}
	}
	return out
}

// stableOffsets asks a group's offsets of partitions with require_stable
// at OffsetFetch's highest version and returns each partition's offset and
// error.
func stableOffsets(t testing.TB, c *client, group, topic string, id [16]byte, partitions []int32) map[int32]fetchedOffset {
	t.Helper()
	v := maxVersion(t, 9)
	req := versioned(kmsg.NewPtrOffsetFetchRequest(), v)
	req.RequireStable = true
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rt := kmsg.NewOffsetFetchRequestGroupTopic()
	rt.Topic, rt.Partitions = topic, partitions
	if v >= 10 {
		rt.Topic, rt.TopicID = "", id
	}
	rg.Topics = append(rg.Topics, rt)
	req.Groups = append(req.Groups, rg)
	resp := c.do(req).(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 || len(resp.Groups[0].Topics) != 1 {
		t.Fatalf("OffsetFetch v%d with require_stable: %+v", v, resp.Groups)
	}
	out := map[int32]fetchedOffset{}
	for _, p := range resp.Groups[0].Topics[0].Partitions {
		out[p.Partition] = fetchedOffset{p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode}
	}
	return out
}

func TestTxnOffsetCommit(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "consumed")
	id := createTopic(t, setup, topic, 2, nil)
	if maxVersion(t, 9) < 8 {
		t.Fatalf("OffsetFetch v%d: stableOffsets needs v8+", maxVersion(t, 9))
	}

	forVersions(t, 28, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		ip := c.do(versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22))).(*kmsg.InitProducerIDResponse)
		if ip.ErrorCode != 0 {
			t.Fatalf("InitProducerId: %s", errName(ip.ErrorCode))
		}
		// producer is the producer id and epoch that commit a group's offsets.
		// Below v5 the broker takes any producer's; from v5 (transactions v2)
		// it adds the offsets to the producer's transaction itself, so the
		// producer must be the transactional id's ("txn-"+group), as a client's
		// is. A second call for a group moves that producer to its next epoch.
		producer := func(group string) (int64, int16) {
			if v < 5 {
				return ip.ProducerID, ip.ProducerEpoch
			}
			return initTxn(t, c, "txn-"+group)
		}
		pid, epoch := producer(groupName(t, "unused"))

		// A group outside the group protocol (generation -1): taken, and
		// invisible while the transaction is open.
		group := groupName(t, "simple")
		pid, epoch = producer(group)
		committed := commit(t, c, commitReq(maxVersion(t, 8), group, -1, "", topic, id, map[int32]int64{0: 3}, "plain"))
		wantCode(t, "plain commit", committed[0], nil)
		codes := txnCommit(t, c, txnCommitReq(v, group, pid, epoch, -1, "", topic, map[int32]int64{0: 42, 1: 7}, "meta"))
		wantCode(t, "txn commit p0", codes[0], nil)
		wantCode(t, "txn commit p1", codes[1], nil)
		got, _ := fetchOffsets(t, c, maxVersion(t, 9), group, topic, id, []int32{0, 1})
		if got[0].offset != 3 || got[1].offset != -1 {
			t.Errorf("offsets of an open transaction are visible: fetched p0 %d (want 3, the plain commit) and p1 %d (want -1)", got[0].offset, got[1].offset)
		}
		for p, f := range stableOffsets(t, c, group, topic, id, []int32{0, 1}) {
			wantCode(t, "require_stable on a partition of an open transaction", f.code, kerr.UnstableOffsetCommit)
			if f.offset != -1 {
				t.Errorf("require_stable: unstable p%d answered offset %d, want -1", p, f.offset)
			}
		}

		unknown := topicName(t, "missing")
		wantCode(t, "unknown topic", txnCommit(t, c, txnCommitReq(v, group, pid, epoch, -1, "", unknown, map[int32]int64{0: 1}, ""))[0], kerr.UnknownTopicOrPartition)
		wantCode(t, "unknown partition", txnCommit(t, c, txnCommitReq(v, group, pid, epoch, -1, "", topic, map[int32]int64{5: 1}, ""))[5], kerr.UnknownTopicOrPartition)
		wantCode(t, "metadata above offset.metadata.max.bytes", txnCommit(t, c, txnCommitReq(v, group, pid, epoch, -1, "", topic, map[int32]int64{0: 1}, strings.Repeat("m", 5000)))[0], kerr.OffsetMetadataTooLarge)
		empty := c.do(txnCommitReq(v, "", pid, epoch, -1, "", topic, map[int32]int64{0: 1}, "")).(*kmsg.TxnOffsetCommitResponse)
		wantCode(t, "empty group id", empty.Topics[0].Partitions[0].ErrorCode, kerr.InvalidGroupID)

		// Zombie fencing: once the producer's next epoch has committed,
		// the older epoch is refused (from v5 by the transaction coordinator,
		// which the next epoch's InitProducerId told).
		next := epoch + 1
		if v >= 5 {
			_, next = producer(group)
		}
		wantCode(t, "next epoch", txnCommit(t, c, txnCommitReq(v, group, pid, next, -1, "", topic, map[int32]int64{0: 50}, ""))[0], nil)
		wantCode(t, "stale epoch", txnCommit(t, c, txnCommitReq(v, group, pid, epoch, -1, "", topic, map[int32]int64{0: 51}, ""))[0], kerr.InvalidProducerEpoch)

		// A member of a Stable group (KIP-447's group metadata from v3).
		m := joinAndSync(t, c, groupName(t, "member"), subscription(topic))
		mpid, mepoch := pid, next
		if v >= 5 {
			mpid, mepoch = producer(m.group)
		}
		wantCode(t, "member commit", txnCommit(t, c, txnCommitReq(v, m.group, mpid, mepoch, m.generation, m.id, topic, map[int32]int64{0: 5}, ""))[0], nil)
		stale, stranger := kerr.IllegalGeneration, kerr.UnknownMemberID
		if v < 3 {
			// Nothing to check: the fields are not on the wire.
			stale, stranger = nil, nil
		}
		wantCode(t, "wrong generation", txnCommit(t, c, txnCommitReq(v, m.group, mpid, mepoch, m.generation+1, m.id, topic, map[int32]int64{0: 6}, ""))[0], stale)
		wantCode(t, "unknown member", txnCommit(t, c, txnCommitReq(v, m.group, mpid, mepoch, m.generation, "no-such-member", topic, map[int32]int64{0: 6}, ""))[0], stranger)
		if v >= 3 {
			none := groupName(t, "none")
			npid, nepoch := mpid, mepoch
			if v >= 5 {
				npid, nepoch = producer(none)
			}
			wantCode(t, "generation 3 of a group that does not exist", txnCommit(t, c, txnCommitReq(v, none, npid, nepoch, 3, "someone", topic, map[int32]int64{0: 6}, ""))[0], kerr.IllegalGeneration)
		}
		if got, _ := fetchOffsets(t, c, maxVersion(t, 9), m.group, topic, id, []int32{0}); got[0].offset != -1 {
			t.Errorf("member's group: offset %d of an open transaction is visible", got[0].offset)
		}
		if v >= 5 {
			// A producer the transaction coordinator does not know is refused
			// before anything is written.
			stranger := txnCommit(t, c, txnCommitReq(v, groupName(t, "stranger"), ip.ProducerID, ip.ProducerEpoch, -1, "", topic, map[int32]int64{0: 1}, ""))
			if stranger[0] == 0 {
				t.Errorf("v%d: a commit by a producer with no transaction was taken", v)
			}
		}
	})
}
