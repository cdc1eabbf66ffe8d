package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/sluicehq/sluice/internal/brokerclient"
	"github.com/sluicehq/sluice/internal/demux"
	"github.com/sluicehq/sluice/internal/testpki"
)

// TestTLSBetweenNodes runs three combined nodes whose listeners are all SSL, the
// inter-broker and CONTROLLER listeners too: Raft, the controller RPCs and replication
// all run over mutual TLS. The cluster elects a
// controller, replicates an RF=3 topic (acks=all), fails over to a follower whose log
// holds every acknowledged record, and refuses Raft and controller RPC connections that
// do not bring TLS with a trusted certificate.
func TestTLSBetweenNodes(t *testing.T) { testSecureCluster(t, "SSL") }

// TestSASLSSLInterBroker is TestTLSBetweenNodes with a SASL_SSL inter-broker (and
// client) listener: brokers log in to each other with PLAIN, as
// sasl.mechanism.inter.broker.protocol and the username and password of the listener's
// JAAS config say; Raft and the controller RPCs keep mutual TLS.
func TestSASLSSLInterBroker(t *testing.T) { testSecureCluster(t, "SASL_SSL") }

// TestSASLPlaintextInterBroker is the same cluster with SASL_PLAINTEXT between the
// brokers, to clients and on the CONTROLLER listener: replication and transaction
// markers log in with PLAIN over TCP, and so do Raft and the controller RPCs.
func TestSASLPlaintextInterBroker(t *testing.T) { testSecureCluster(t, "SASL_PLAINTEXT") }

// testSecureCluster runs three combined nodes whose client, inter-broker and CONTROLLER
// listeners map to proto (SSL, SASL_SSL or SASL_PLAINTEXT); nodes log in to CONTROLLER
// with their own user there. Besides replication and failover it runs transactions whose
// partitions lead on other nodes than their coordinator, so that the leaders' implicit
// AddPartitionsToTxn and the coordinator's markers cross the secured listener.
func testSecureCluster(t *testing.T, proto string) {
	withTLS := proto != "SASL_PLAINTEXT"
	withSASL := proto != "SSL"
	dir := t.TempDir()
	// One certificate every node uses, as its listeners' server certificate and as its
	// client certificate towards the others (and the test's).
	pki, err := testpki.New(dir, testpki.CAName("sluice cluster test CA"), testpki.Node("sluice-node"))
	if err != nil {
		t.Fatal(err)
	}

	// Three combined nodes (the voters) and a broker-only node, which takes the metadata
	// log from the controllers as an observer on its inter-broker listener, so that its
	// Raft share is secured as the listener says (mutual TLS, or a SASL login on
	// SASL_PLAINTEXT).
	const n, voterCount = 4, 3
	type node struct {
		id         int
		addr, ctrl string
		cmd        *exec.Cmd
		exited     chan struct{}
		log        *os.File
	}
	nodes := make([]*node, n)
	var voters []string
	for i := range nodes {
		nodes[i] = &node{id: i + 1, addr: freeAddr(t)}
		if i < voterCount {
			nodes[i].ctrl = freeAddr(t)
			voters = append(voters, fmt.Sprintf("%d@%s", i+1, nodes[i].ctrl))
		}
	}
	var clientOpts []kgo.Opt
	if withSASL {
		clientOpts = append(clientOpts, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism()))
	}
	for _, nd := range nodes {
		settings := append([]string{
			"node.id=" + strconv.Itoa(nd.id),
			"log.dirs=" + filepath.Join(dir, "node"+strconv.Itoa(nd.id)),
			"http.addr=",
			"process.roles=" + roles(nd.ctrl != ""),
			"listeners=" + proto + "://" + nd.addr + controllerListener(nd.ctrl),
			"listener.security.protocol.map=" + proto + ":" + proto + ",CONTROLLER:" + proto,
			"controller.listener.names=CONTROLLER",
			"inter.broker.listener.name=" + proto,
			"sasl.mechanism.inter.broker.protocol=PLAIN",
			"listener.name." + strings.ToLower(proto) + ".plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required " +
				`username="broker" password="broker-pw" user_broker="broker-pw" user_alice="alice-pw";`,
			"sasl.mechanism.controller.protocol=PLAIN",
			"listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required " +
				`username="controller" password="controller-pw" user_controller="controller-pw" user_alice="alice-pw";`,
			"controller.quorum.voters=" + strings.Join(voters, ","),
			"cluster.id=c2x1aWNlLXRscy1ub2Rlcw",
			"ssl.keystore.location=" + pki.Server,
			"ssl.truststore.location=" + pki.CA,
			"ssl.client.auth=required",
			// The CONTROLLER listener's Kafka share (ApiVersions, DescribeQuorum) takes
			// clients without certificates; its Raft and RPC shares still require one.
			"listener.name.controller.ssl.client.auth=none",
		}, clusterSettings...)
		args := []string{"server"}
		for _, kv := range settings {
			args = append(args, "--set", kv)
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", nd.id)))
		if err != nil {
			t.Fatal(err)
		}
		nd.log = logf
		nd.cmd = exec.Command(testBinary, args...)
		nd.cmd.Stdout, nd.cmd.Stderr = logf, logf
		if err := nd.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		nd.exited = make(chan struct{})
		go func() { _ = nd.cmd.Wait(); close(nd.exited) }()
	}
	t.Cleanup(func() {
		for _, nd := range nodes {
			_ = nd.cmd.Process.Kill()
			<-nd.exited
			nd.log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(nd.log.Name())
				t.Logf("node %d log tail:\n%s", nd.id, tailLines(string(b), 400))
			}
		}
	})

	seeds := func(except int) []string {
		var s []string
		for _, nd := range nodes {
			if nd.id != except {
				s = append(s, nd.addr)
			}
		}
		return s
	}
	newClient := func(seeds []string, opts ...kgo.Opt) *kgo.Client {
		base := []kgo.Opt{kgo.SeedBrokers(seeds...)}
		if withTLS {
			base = append(base, kgo.DialTLSConfig(pki.TLS(pki.ServerPair)))
		}
		cl, err := kgo.NewClient(append(append(base, clientOpts...), opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := newClient(seeds(0))
	adm := kadm.NewClient(cl)
	// metadata asks afresh, with a new client: kadm answers from the client's cached
	// metadata, which may predate the last brokers' registrations.
	metadata := func(seeds []string, topics ...string) (kadm.Metadata, error) {
		c := newClient(seeds)
		defer c.Close()
		return kadm.NewClient(c).Metadata(ctx, topics...)
	}

	// Every broker registers (its controller RPCs and Raft go over mutual TLS), and the
	// quorum has a leader.
	waitFor(t, ctx, "4 brokers registered and a controller elected", func() error {
		for _, nd := range nodes {
			select {
			case <-nd.exited:
				t.Fatalf("node %d exited", nd.id)
			default:
			}
		}
		md, err := metadata(seeds(0))
		if err != nil {
			return err
		}
		if len(md.Brokers) != n {
			return fmt.Errorf("%d brokers: %v", len(md.Brokers), md.Brokers)
		}
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = "__cluster_metadata"
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return errors.New("DescribeQuorum answered no partition")
		}
		if p := resp.Topics[0].Partitions[0]; p.LeaderID < 0 {
			return fmt.Errorf("no controller (error %d)", p.ErrorCode)
		}
		return nil
	})

	// An RF=3 topic whose followers join the ISR through Fetch over TLS.
	const topic = "tls-replicated"
	if _, err := adm.CreateTopic(ctx, 1, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("3")}, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	var leader int32
	waitFor(t, ctx, "all 3 replicas in the ISR", func() error {
		md, err := metadata(seeds(0), topic)
		if err != nil {
			return err
		}
		p, ok := md.Topics[topic].Partitions[0]
		if !ok || p.Err != nil {
			return fmt.Errorf("partition 0: %v", p.Err)
		}
		if len(p.ISR) != 3 {
			return fmt.Errorf("ISR %v", p.ISR)
		}
		leader = p.Leader
		return nil
	})

	// The broker-only node has the metadata log, which reaches it only over the Raft
	// share of its secured inter-broker listener.
	observer := nodes[voterCount]
	waitFor(t, ctx, "the broker-only node knows "+topic, func() error {
		md, err := metadata([]string{observer.addr}, topic)
		if err != nil {
			return err
		}
		if p := md.Topics[topic].Partitions[0]; len(p.ISR) != 3 {
			return fmt.Errorf("partition 0 at the broker-only node: %+v", p)
		}
		return nil
	})
	// Its Raft share takes only a node that authenticates: plaintext bytes are refused,
	// and on SASL_PLAINTEXT a wrong password too, while the brokers' own login passes.
	prefixRefused(t, observer.addr, demux.RaftPrefix, withTLS)
	if !withTLS {
		login := func(pass string) error {
			c, err := demux.Dial("tcp", observer.addr, demux.RaftPrefix, 3*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			return brokerclient.Authenticate(ctx, c, "test", "127.0.0.1", plain.Auth{User: "broker", Pass: pass}.AsMechanism())
		}
		if err := login("wrong"); err == nil || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
			t.Errorf("Raft login with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
		if err := login("broker-pw"); err != nil {
			t.Errorf("Raft login with the brokers' password: %v", err)
		}
	}

	// acks=all with min.insync.replicas=3: every record is on every replica when acked.
	prod := newClient(seeds(0), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const count = 200
	var want []string
	for i := range count {
		v := fmt.Sprintf("record-%03d", i)
		want = append(want, v)
		r := &kgo.Record{Value: []byte(v), Partition: 0}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}

	// Transactions across nodes: three partitions of one replica each, spread over the
	// nodes, so that most of them lead elsewhere than the transaction's coordinator.
	// Two transactions commit and one between them aborts; a read_committed consumer
	// gets exactly the committed records.
	const txnTopic = "secure-txn"
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, txnTopic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	waitFor(t, ctx, "a leader for every partition of "+txnTopic+" on two nodes at least", func() error {
		md, err := metadata(seeds(0), txnTopic)
		if err != nil {
			return err
		}
		leaders := map[int32]bool{}
		for _, p := range md.Topics[txnTopic].Partitions {
			if p.Err != nil || p.Leader < 0 {
				return fmt.Errorf("partition %d: leader %d, %v", p.Partition, p.Leader, p.Err)
			}
			leaders[p.Leader] = true
		}
		if len(md.Topics[txnTopic].Partitions) != 3 || len(leaders) < 2 {
			return fmt.Errorf("partitions %v", md.Topics[txnTopic].Partitions)
		}
		return nil
	})
	txp := newClient(seeds(0), kgo.TransactionalID("secure-txn-producer"), kgo.DefaultProduceTopic(txnTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var committed []string
	for i, commit := range []bool{true, false, true} {
		if err := txp.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction %d: %v", i, err)
		}
		for j := range 30 {
			v := fmt.Sprintf("txn%d-%02d", i, j)
			if err := txp.ProduceSync(ctx, &kgo.Record{Value: []byte(v), Partition: int32(j % 3)}).FirstErr(); err != nil {
				t.Fatalf("transactional produce %s: %v", v, err)
			}
			if commit {
				committed = append(committed, v)
			}
		}
		if err := txp.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction %d (commit %v): %v", i, commit, err)
		}
	}
	txc := newClient(seeds(0), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{txnTopic: {
			0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	gotTxn := map[string]int{}
	for len(gotTxn) < len(committed) && ctx.Err() == nil {
		fs := txc.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Errorf("read_committed fetch of %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { gotTxn[string(r.Value)]++ })
	}
	for _, v := range committed {
		if gotTxn[v] != 1 {
			t.Errorf("committed record %s read %d times, want once", v, gotTxn[v])
		}
		delete(gotTxn, v)
	}
	if len(gotTxn) > 0 {
		t.Errorf("read_committed returned records no committed transaction wrote: %v", gotTxn)
	}
	// Each partition holds the aborted transaction's records between the two committed
	// ones', so the consumer read past them to reach the last commit's.
	t.Logf("%d committed transactional records read back once each, none of the aborted", len(committed))

	if withSASL {
		opts := []kgo.Opt{kgo.SeedBrokers(seeds(0)...), kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism())}
		if withTLS {
			opts = append(opts, kgo.DialTLSConfig(pki.TLS(pki.ServerPair)))
		}
		bad, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kmsg.NewPtrMetadataRequest().RequestWith(ctx, bad)
		bad.Close()
		if err == nil || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
			t.Errorf("a client with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	}

	// The client and inter-broker listener serves no Raft or controller RPC share on a
	// voter (those are on CONTROLLER): a connection opening with their prefix is closed
	// at once rather than left waiting.
	for _, prefix := range []byte{demux.RaftPrefix, demux.ControlPrefix} {
		c, err := demux.Dial("tcp", nodes[0].addr, prefix, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if !errors.Is(err, io.EOF) {
			t.Errorf("%q connection to the client listener: read %v, want it closed (EOF)", prefix, err)
		}
	}

	// Kill the leader: a follower takes over, with every acknowledged record.
	for _, nd := range nodes {
		if int32(nd.id) == leader {
			if err := nd.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-nd.exited
		}
	}
	cl2 := newClient(seeds(int(leader)))
	adm2 := kadm.NewClient(cl2)
	waitFor(t, ctx, "a new leader", func() error {
		md, err := metadata(seeds(int(leader)), topic)
		if err != nil {
			return err
		}
		p := md.Topics[topic].Partitions[0]
		if p.Leader < 0 || p.Leader == leader {
			return fmt.Errorf("leader %d", p.Leader)
		}
		return nil
	})
	cons := newClient(seeds(int(leader)), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	var got []string
	for len(got) < count && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the new leader has %d records, want the %d acknowledged ones in order:\n got %v", len(got), count, got)
	}
	t.Logf("leader %d killed; the new leader serves all %d acknowledged records", leader, count)

	var ctrl string // a surviving voter's CONTROLLER listener
	for _, nd := range nodes {
		if int32(nd.id) != leader && nd.ctrl != "" {
			ctrl = nd.ctrl
		}
	}
	if withSASL {
		// The CONTROLLER listener's Kafka share answers DescribeQuorum only after a
		// login, with the listener's own users.
		describeQuorum := func(opts ...kgo.Opt) error {
			if withTLS {
				opts = append(opts, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.Pool, ServerName: "127.0.0.1"}))
			}
			c, err := kgo.NewClient(append(opts, kgo.SeedBrokers(ctrl))...)
			if err != nil {
				return err
			}
			defer c.Close()
			req := kmsg.NewPtrDescribeQuorumRequest()
			rt := kmsg.NewDescribeQuorumRequestTopic()
			rt.Topic = "__cluster_metadata"
			rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
			req.Topics = append(req.Topics, rt)
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			// Straight to the seed: kgo would send an admin request to the controller
			// its Metadata names, which a CONTROLLER listener does not serve.
			resp, err := c.SeedBrokers()[0].Request(qctx, req)
			if err != nil {
				return err
			}
			dq := resp.(*kmsg.DescribeQuorumResponse)
			if len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
				return errors.New("DescribeQuorum answered no partition")
			}
			if p := dq.Topics[0].Partitions[0]; p.LeaderID < 0 {
				return fmt.Errorf("no leader in DescribeQuorum (error %d)", p.ErrorCode)
			}
			return nil
		}
		if err := describeQuorum(); err == nil {
			t.Error("DescribeQuorum without a login on the SASL CONTROLLER listener was answered")
		}
		if err := describeQuorum(kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism())); err == nil {
			t.Error("DescribeQuorum after a login with a wrong password was answered")
		}
		if err := describeQuorum(kgo.SASL(plain.Auth{User: "alice", Pass: "alice-pw"}.AsMechanism())); err != nil {
			t.Errorf("DescribeQuorum after a login on the CONTROLLER listener: %v", err)
		}
	}
	if !withTLS {
		// Raft and controller RPC connections to CONTROLLER log in first too.
		for _, prefix := range []byte{demux.RaftPrefix, demux.ControlPrefix} {
			prefixRefused(t, ctrl, prefix, false)
		}
	}
	if withTLS {
		// Raft and controller RPC connections are refused unless they bring TLS with a
		// certificate the listener trusts, though the listener's ssl.client.auth is none;
		// a Kafka client without one is served there.
		noCert, err := kgo.NewClient(kgo.SeedBrokers(ctrl), kgo.DialTLSConfig(&tls.Config{RootCAs: pki.Pool, ServerName: "127.0.0.1"}))
		if err != nil {
			t.Fatal(err)
		}
		defer noCert.Close()
		if _, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, noCert); err != nil {
			t.Fatalf("ApiVersions without a certificate on the CONTROLLER listener: %v", err)
		}
		for _, prefix := range []byte{demux.RaftPrefix, demux.ControlPrefix} {
			prefixRefused(t, ctrl, prefix, true)

			tc, err := demux.DialTLS("tcp", ctrl, prefix, 3*time.Second, &tls.Config{RootCAs: pki.Pool, ServerName: "127.0.0.1"})
			if err == nil {
				// TLS 1.3: the server's refusal of the missing certificate arrives after the
				// client's side of the handshake.
				_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = tc.Read(make([]byte, 1))
				tc.Close()
			}
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("%q connection over TLS without a client certificate was accepted (err %v)", prefix, err)
			}
		}
	}

	// The survivors still replicate over TLS: acks=all needs both, with
	// min.insync.replicas lowered to 2 for the ISR left.
	if _, err := adm2.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: kadm.StringPtr("2")}}, topic); err != nil {
		t.Fatalf("alter min.insync.replicas: %v", err)
	}
	prod2 := newClient(seeds(int(leader)), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	waitFor(t, ctx, "acks=all produce after failover", func() error {
		return prod2.ProduceSync(ctx, &kgo.Record{Value: []byte("after-failover"), Partition: 0}).FirstErr()
	})
}

// prefixRefused checks that a connection opening with prefix at addr and going on in
// plaintext, without TLS or a SASL login, is closed by the node with nothing read: at most
// a TLS alert record (content type 21) comes back where the listener takes TLS.
func prefixRefused(t *testing.T, addr string, prefix byte, withTLS bool) {
	t.Helper()
	c, err := demux.Dial("tcp", addr, prefix, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Bytes that are neither a TLS ClientHello nor a SASL request: the start of a
	// plaintext message (as a frame size, 66,051 bytes).
	_, _ = c.Write([]byte("\x00\x01\x02\x03plaintext raft or rpc request\n"))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	reply, err := io.ReadAll(c)
	// A reset is a close too: the node closes with the unread rest in its buffer.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("plaintext %q connection to %s: not closed by the node: %v", prefix, addr, err)
	}
	if len(reply) > 0 && (!withTLS || reply[0] != 21) {
		t.Errorf("plaintext %q connection to %s: answered %q", prefix, addr, reply)
	}
}

// roles is a test node's process.roles.
func roles(voter bool) string {
	if voter {
		return "broker,controller"
	}
	return "broker"
}

// controllerListener is the CONTROLLER entry of a voter's listeners.
func controllerListener(addr string) string {
	if addr == "" {
		return ""
	}
	return ",CONTROLLER://" + addr
}

// waitFor polls check until it returns nil, failing the test when ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	var last error
	for {
		if last = check(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
