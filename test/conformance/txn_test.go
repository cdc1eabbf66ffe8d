package conformance

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The transaction coordinator's APIs on a single node: protocol v1 (AddPartitionsToTxn
// v0-3, EndTxn v0-4) and v2 (KIP-890: AddPartitionsToTxn v4-5 from partition leaders,
// EndTxn v5 with its epoch bump). Markers, the last stable offset and transactional
// offset commits are checked in their own tests.

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

// clientAdd is the highest AddPartitionsToTxn version a producer sends: v4+ is the
// brokers' form.
func clientAdd(t testing.TB) int16 { return min(maxVersion(t, 24), 3) }

func addPartitions(t testing.TB, c *client, v int16, id string, pid int64, epoch int16, topic string, parts ...int32) kmsg.AddPartitionsToTxnResponse {
	t.Helper()
	if v >= 4 {
		t.Fatalf("addPartitions sends the producer's form (v0-3), not v%d", v)
	}
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
		if v >= 4 {
			brokerAddPartitions(t, c, v, id, pid, epoch, topic)
			return
		}
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

// brokerAdd sends the brokers' form (v4+) for one transaction and returns its
// partitions' codes in request order, or the top-level code.
func brokerAdd(t testing.TB, c *client, v int16, verifyOnly bool, id string, pid int64, epoch int16, topic string, parts ...int32) (int16, []int16) {
	t.Helper()
	req := versioned(kmsg.NewPtrAddPartitionsToTxnRequest(), v)
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = id, pid, epoch, verifyOnly
	rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	rt.Topic, rt.Partitions = topic, parts
	tx.Topics = append(tx.Topics, rt)
	req.Transactions = append(req.Transactions, tx)
	resp := c.do(req).(*kmsg.AddPartitionsToTxnResponse)
	if resp.ErrorCode != 0 {
		return resp.ErrorCode, nil
	}
	if len(resp.Transactions) != 1 || resp.Transactions[0].TransactionalID != id || len(resp.Transactions[0].Topics) != 1 {
		t.Fatalf("AddPartitionsToTxn v%d answer %+v", v, resp.Transactions)
	}
	var codes []int16
	for _, p := range resp.Transactions[0].Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	if len(codes) != len(parts) {
		t.Fatalf("AddPartitionsToTxn v%d: %d answers for %d partitions", v, len(codes), len(parts))
	}
	return 0, codes
}

// brokerAddPartitions: the brokers' form. VerifyOnly says whether the partitions are in
// the producer's transaction (TRANSACTION_ABORTABLE when not, INVALID_TXN_STATE at v4);
// without it the partitions are added, as a partition leader does for a Produce v12+
// write of transactions v2.
func brokerAddPartitions(t *testing.T, c *client, v int16, id string, pid int64, epoch int16, topic string) {
	notIn := kerr.TransactionAbortable
	if v < 5 {
		notIn = kerr.InvalidTxnState
	}
	_, codes := brokerAdd(t, c, v, true, id, pid, epoch, topic, 0, 1)
	wantCode(t, "verify before any add", codes[0], notIn)
	_, codes = brokerAdd(t, c, v, false, id, pid, epoch, topic, 0)
	wantCode(t, "add", codes[0], nil)
	_, codes = brokerAdd(t, c, v, true, id, pid, epoch, topic, 0, 1)
	wantCode(t, "verify the added partition", codes[0], nil)
	wantCode(t, "verify the other", codes[1], notIn)
	_, codes = brokerAdd(t, c, v, true, id, pid+1, epoch, topic, 0)
	wantCode(t, "verify another producer id", codes[0], kerr.InvalidProducerIDMapping)
	_, codes = brokerAdd(t, c, v, false, id, pid, epoch, topic+"-missing", 0)
	wantCode(t, "add to an unknown topic", codes[0], kerr.UnknownTopicOrPartition)
	if _, epoch2 := initTxn(t, c, id); epoch2 <= epoch {
		t.Fatalf("a second InitProducerId gave epoch %d, want more than %d", epoch2, epoch)
	}
	_, codes = brokerAdd(t, c, v, true, id, pid, epoch, topic, 0)
	wantCode(t, "verify the fenced epoch", codes[0], kerr.ProducerFenced)
	_, codes = brokerAdd(t, c, v, false, id, pid, epoch, topic, 0)
	wantCode(t, "add with the fenced epoch", codes[0], kerr.ProducerFenced)
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
		addPartitions(t, c, clientAdd(t), id, pid, epoch, topic, 0)
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
		if v >= 5 {
			// Transactions v2: the commit moved the producer to the next epoch,
			// which aborts with nothing open, to the one after.
			req := versioned(kmsg.NewPtrEndTxnRequest(), v)
			req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch+1, false
			resp := c.do(req).(*kmsg.EndTxnResponse)
			wantCode(t, "an empty abort at the next epoch", resp.ErrorCode, nil)
			if resp.ProducerID != pid || resp.ProducerEpoch != epoch+2 {
				t.Errorf("empty abort answered producer %d epoch %d, want %d epoch %d", resp.ProducerID, resp.ProducerEpoch, pid, epoch+2)
			}
			wantCode(t, "the epoch before the commit", endTxn(t, c, v, id, pid, epoch-1, false), kerr.ProducerFenced)
			return
		}
		wantCode(t, "a fenced epoch", endTxn(t, c, v, id, pid, epoch-1, false), kerr.ProducerFenced)
	})
}

// TestEndTxnV5BumpsTheEpoch: EndTxn v5 answers the producer's next epoch; the partition
// leader's add for the old epoch is fenced, for the new one it starts the next
// transaction.
func TestEndTxnV5BumpsTheEpoch(t *testing.T) {
	if maxVersion(t, 26) < 5 {
		t.Fatal("EndTxn v5 is not advertised")
	}
	c := dial(t, shared.addr)
	topic := topicName(t, "endtxn5")
	createTopic(t, c, topic, 1, nil)
	id := topic
	pid, epoch := initTxn(t, c, id)
	_, codes := brokerAdd(t, c, 5, false, id, pid, epoch, topic, 0)
	wantCode(t, "implicit add", codes[0], nil)
	req := versioned(kmsg.NewPtrEndTxnRequest(), 5)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, true
	resp := c.do(req).(*kmsg.EndTxnResponse)
	wantCode(t, "commit", resp.ErrorCode, nil)
	if resp.ProducerID != pid || resp.ProducerEpoch != epoch+1 {
		t.Fatalf("EndTxn v5 answered producer %d epoch %d, want %d epoch %d", resp.ProducerID, resp.ProducerEpoch, pid, epoch+1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, codes = brokerAdd(t, c, 5, false, id, pid, epoch+1, topic, 0)
		if codes[0] != kerr.ConcurrentTransactions.Code || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantCode(t, "the next transaction's add", codes[0], nil)
	_, codes = brokerAdd(t, c, 5, false, id, pid, epoch, topic, 0)
	wantCode(t, "an add of the committed epoch", codes[0], kerr.ProducerFenced)
}

// TestTransactionVersionFeature: ApiVersions v3+ finalizes transaction.version at 2, and
// from v4 lists its supported levels 0-2 (a v3 response leaves out the supported
// features whose minimum level is 0, KAFKA-17492).
func TestTransactionVersionFeature(t *testing.T) {
	c := dial(t, shared.addr)
	for v := int16(3); v <= maxVersion(t, 18); v++ {
		req := versioned(kmsg.NewPtrApiVersionsRequest(), v)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "sluice-conformance", "1"
		resp := c.do(req).(*kmsg.ApiVersionsResponse)
		wantCode(t, "ApiVersions", resp.ErrorCode, nil)
		if resp.FinalizedFeaturesEpoch < 0 || !slices.ContainsFunc(resp.FinalizedFeatures, func(f kmsg.ApiVersionsResponseFinalizedFeature) bool {
			return f.Name == "transaction.version" && f.MinVersionLevel == 2 && f.MaxVersionLevel == 2
		}) {
			t.Errorf("v%d: finalized features %+v (epoch %d), want transaction.version at level 2", v, resp.FinalizedFeatures, resp.FinalizedFeaturesEpoch)
		}
		supported := slices.ContainsFunc(resp.SupportedFeatures, func(f kmsg.ApiVersionsResponseSupportedFeature) bool {
			return f.Name == "transaction.version" && f.MinVersion == 0 && f.MaxVersion == 2
		})
		if supported != (v >= 4) {
			t.Errorf("v%d: supported features %+v; transaction.version 0-2 listed: %v, want %v", v, resp.SupportedFeatures, supported, v >= 4)
		}
	}
}

func TestDescribeTransactions(t *testing.T) {
	setup := dial(t, shared.addr)
	topic := topicName(t, "desctxn")
	createTopic(t, setup, topic, 2, nil)
	forVersions(t, 65, func(t *testing.T, v int16) {
		c := dial(t, shared.addr)
		id := fmt.Sprintf("%s-v%d", topic, v)
		pid, epoch := initTxn(t, c, id)
		addPartitions(t, c, clientAdd(t), id, pid, epoch, topic, 1, 0)
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
		addPartitions(t, c, clientAdd(t), id, pid, epoch, topic, 0)
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
