package conformance

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transaction coordinator's APIs on a single node (protocol v1). Markers, the last
// stable offset and transactional offset commits are checked in their own tests.

func init() {
	covered[24] = "TestAddPartitionsToTxn"
	covered[25] = "TestAddOffsetsToTxn"
	covered[26] = "TestEndTxn"
	covered[65] = "TestDescribeTransactions"
	covered[66] = "TestListTransactions"
}

// initTxn finds the coordinator of id (creating __transaction_state) and gets its
// producer id and epoch, retrying while the coordinator loads.
func initTxn(t testing.TB, c *client, id string) (int64, int16) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fc := versioned(kmsg.NewPtrFindCoordinatorRequest(), 3)
		fc.CoordinatorType, fc.CoordinatorKey = 1, id
		fresp := c.do(fc).(*kmsg.FindCoordinatorResponse)
		if fresp.ErrorCode == 0 {
			req := versioned(kmsg.NewPtrInitProducerIDRequest(), maxVersion(t, 22))
			req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
			resp := c.do(req).(*kmsg.InitProducerIDResponse)
			if resp.ErrorCode == 0 {
				return resp.ProducerID, resp.ProducerEpoch
			}
			switch err := kerr.ErrorForCode(resp.ErrorCode); err {
			case kerr.CoordinatorLoadInProgress, kerr.NotCoordinator, kerr.ConcurrentTransactions:
			default:
				t.Fatalf("InitProducerId(%s): %v", id, err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("InitProducerId(%s): no coordinator after 20 s (FindCoordinator: %s)", id, errName(fresp.ErrorCode))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func addPartitions(t testing.TB, c *client, v int16, id string, pid int64, epoch int16, topic string, parts ...int32) kmsg.AddPartitionsToTxnResponse {
	t.Helper()
	req := versioned(kmsg.NewPtrAddPartitionsToTxnRequest(), v)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, parts
	req.Topics = append(req.Topics, rt)
	return *c.do(req).(*kmsg.AddPartitionsToTxnResponse)
}

func endTxn(t testing.TB, c *client, v int16, id string, pid int64, epoch int16, commit bool) int16 {
	t.Helper()
	req := versioned(kmsg.NewPtrEndTxnRequest(), v)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return c.do(req).(*kmsg.EndTxnResponse).ErrorCode
}

func TestAddPartitionsToTxn(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "apt")
	createTopic(t, setup, topic, 2, nil)
	forVersions(t, 24, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := fmt.Sprintf("%s-v%d", topic, v)
		pid, epoch := initTxn(t, c, id)
		resp := addPartitions(t, c, v, id, pid, epoch, topic, 0, 1)
		for _, p := range resp.Topics[0].Partitions {
			wantCode(t, "AddPartitionsToTxn", p.ErrorCode, nil)
		}
		// An unknown topic: it gets UNKNOWN_TOPIC_OR_PARTITION, the rest are not tried.
		req := versioned(kmsg.NewPtrAddPartitionsToTxnRequest(), v)
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
		for _, name := range []string{topic, topic + "-missing"} {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			req.Topics = append(req.Topics, rt)
		}
		mixed := c.do(req).(*kmsg.AddPartitionsToTxnResponse)
		wantCode(t, "known topic beside an unknown one", mixed.Topics[0].Partitions[0].ErrorCode, kerr.OperationNotAttempted)
		wantCode(t, "unknown topic", mixed.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
		// Another producer id, and a fenced epoch.
		wantCode(t, "another producer id", addPartitions(t, c, v, id, pid+1, epoch, topic, 0).Topics[0].Partitions[0].ErrorCode, kerr.InvalidProducerIDMapping)
		// A new incarnation: its transaction (open here) is aborted with a fencing epoch,
		// and it gets the epoch after that.
		if _, epoch2 := initTxn(t, c, id); epoch2 <= epoch {
			t.Fatalf("a second InitProducerId gave epoch %d, want more than %d", epoch2, epoch)
		}
		wantCode(t, "the fenced epoch", addPartitions(t, c, v, id, pid, epoch, topic, 0).Topics[0].Partitions[0].ErrorCode, kerr.ProducerFenced)
	})
}

func TestAddOffsetsToTxn(t *testing.T) {
	forVersions(t, 25, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := topicName(t, fmt.Sprintf("aot-v%d", v))
		pid, epoch := initTxn(t, c, id)
		req := versioned(kmsg.NewPtrAddOffsetsToTxnRequest(), v)
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, pid, epoch, id+"-group"
		wantCode(t, "AddOffsetsToTxn", c.do(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode, nil)
		req.ProducerEpoch = epoch - 1
		wantCode(t, "a fenced epoch", c.do(req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode, kerr.ProducerFenced)
	})
}

func TestEndTxn(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "endtxn")
	createTopic(t, setup, topic, 1, nil)
	forVersions(t, 26, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := fmt.Sprintf("%s-v%d", topic, v)
		pid, epoch := initTxn(t, c, id)
		wantCode(t, "EndTxn with no transaction", endTxn(t, c, v, id, pid, epoch, true), kerr.InvalidTxnState)
		addPartitions(t, c, maxVersion(t, 24), id, pid, epoch, topic, 0)
		wantCode(t, "commit", endTxn(t, c, v, id, pid, epoch, true), nil)
		// Until its markers are written the transaction is not complete: a retry
		// answers CONCURRENT_TRANSACTIONS or, once complete, success.
		deadline := time.Now().Add(10 * time.Second)
		for {
			code := endTxn(t, c, v, id, pid, epoch, true)
			if code == 0 {
				break
			}
			if kerr.ErrorForCode(code) != kerr.ConcurrentTransactions || time.Now().After(deadline) {
				t.Fatalf("retried commit: %s", errName(code))
			}
			time.Sleep(10 * time.Millisecond)
		}
		wantCode(t, "abort after commit", endTxn(t, c, v, id, pid, epoch, false), kerr.InvalidTxnState)
		wantCode(t, "a fenced epoch", endTxn(t, c, v, id, pid, epoch-1, false), kerr.ProducerFenced)
	})
}

func TestDescribeTransactions(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "desctxn")
	createTopic(t, setup, topic, 2, nil)
	forVersions(t, 65, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := fmt.Sprintf("%s-v%d", topic, v)
		pid, epoch := initTxn(t, c, id)
		addPartitions(t, c, maxVersion(t, 24), id, pid, epoch, topic, 1, 0)
		req := versioned(kmsg.NewPtrDescribeTransactionsRequest(), v)
		req.TransactionalIDs = []string{id, id + "-unknown"}
		resp := c.do(req).(*kmsg.DescribeTransactionsResponse)
		if len(resp.TransactionStates) != 2 {
			t.Fatalf("answers %+v", resp.TransactionStates)
		}
		st := resp.TransactionStates[0]
		wantCode(t, "DescribeTransactions", st.ErrorCode, nil)
		if st.State != "Ongoing" || st.ProducerID != pid || st.ProducerEpoch != epoch || st.TimeoutMillis != 60000 || st.StartTimestamp <= 0 ||
			len(st.Topics) != 1 || st.Topics[0].Topic != topic || fmt.Sprint(st.Topics[0].Partitions) != "[0 1]" {
			t.Errorf("described %+v", st)
		}
		wantCode(t, "unknown id", resp.TransactionStates[1].ErrorCode, kerr.TransactionalIDNotFound)
	})
}

func TestListTransactions(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "listtxn")
	createTopic(t, setup, topic, 1, nil)
	forVersions(t, 66, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := fmt.Sprintf("%s-v%d", topic, v)
		pid, epoch := initTxn(t, c, id)
		addPartitions(t, c, maxVersion(t, 24), id, pid, epoch, topic, 0)
		list := func(states ...string) *kmsg.ListTransactionsResponse {
			req := versioned(kmsg.NewPtrListTransactionsRequest(), v)
			req.StateFilters = states
			req.DurationFilterMillis = -1
			return c.do(req).(*kmsg.ListTransactionsResponse)
		}
		has := func(resp *kmsg.ListTransactionsResponse) bool {
			return slices.ContainsFunc(resp.TransactionStates, func(s kmsg.ListTransactionsResponseTransactionState) bool {
				return s.TransactionalID == id && s.ProducerID == pid
			})
		}
		if resp := list(); !has(resp) {
			t.Errorf("%s not listed: %+v", id, resp.TransactionStates)
		}
		if resp := list("Ongoing", "Bogus"); !has(resp) || fmt.Sprint(resp.UnknownStateFilters) != "[Bogus]" {
			t.Errorf("state filter Ongoing: listed %+v, unknown filters %v", resp.TransactionStates, resp.UnknownStateFilters)
		}
		if resp := list("CompleteCommit"); has(resp) {
			t.Errorf("state filter CompleteCommit lists the ongoing %s", id)
		}
	})
}
