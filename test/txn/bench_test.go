package txn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transactional produce throughput beside idempotent throughput, in one run on one
// broker (docs/benchmarks.md):
//
//	make build && go test -run '^$' -bench TxnVsIdempotent -benchtime 5x ./test/txn
//
// Each iteration is a round: benchRecords records of benchRecordSize bytes produced as
// fast as one franz-go client can, idempotently; the same idempotently with a Flush
// every benchTxnRecords records; and the same in transactions of benchTxnRecords
// records each (the order reverses every other round). The metrics are the median
// records/s of each, the medians of the rounds' ratios of transactional to flat-out and
// to flushed idempotent throughput (each round's runs share the machine's load of the
// moment; the second ratio is what the transactions cost beyond the flushes they
// need), and the median time a commit takes (Flush to the end of EndTransaction).
//
// It runs at three producer batch sizes, the same for every client of a run: franz-go's
// default (1 MB per partition, so a 10 MB transaction fits in the five produce
// requests the client keeps in flight), 64 KiB, and Kafka's Java producer's default,
// 16 KiB (batch.size), whose pipeline is a few hundred KiB deep. Every Flush drains the
// client's pipeline, and the deeper the pipeline the longer the drain: the second ratio
// tells the transactions' own cost apart from that.

const (
	benchRecords    = 100_000
	benchTxnRecords = 10_000
	benchRecordSize = 1024
	benchParts      = 3
)

func BenchmarkTxnVsIdempotent(b *testing.B) {
	addr := startBenchBroker(b)
	for _, bc := range []struct {
		name  string
		bytes int32 // 0: the client's default
	}{{"batch=default", 0}, {"batch=64KiB", 64 << 10}, {"batch=16KiB", 16 << 10}} {
		// One topic per size, made here: b.Run may call its function more than once.
		name := fmt.Sprintf("bench-txn-%d", bc.bytes)
		makeTopic(b, context.Background(), newKgo(b, addr), name, benchParts)
		b.Run(bc.name, func(b *testing.B) { benchTxnVsIdempotent(b, addr, name, bc.bytes) })
	}
}

func benchTxnVsIdempotent(b *testing.B, addr, name string, batchBytes int32) {
	ctx := context.Background()
	value := make([]byte, benchRecordSize)
	for i := range value {
		value[i] = byte(i*7 + i/256) // not all zeros; no compression in this run
	}
	opts := []kgo.Opt{
		kgo.DefaultProduceTopic(name),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.MaxBufferedBytes(256 << 20),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
	if batchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(batchBytes))
	}
	idem := newKgo(b, addr, opts...)
	txn := newKgo(b, addr, append(opts, kgo.TransactionalID(name), kgo.TransactionTimeout(60*time.Second))...)
	// Connect both and initialise the producer ids before the clocks start.
	for _, cl := range []*kgo.Client{idem, txn} {
		if _, _, err := cl.ProducerID(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var idemRates, flushedRates, txnRates, ratios, flushedRatios, commits []float64
	b.ResetTimer()
	for i := range b.N {
		var ir, fr, tr float64
		runs := []func(){
			func() { ir, _ = produceRate(b, ctx, idem, value, benchRecords, 0, false) },
			// The idempotent client flushing as often as the transactional one
			// commits: what the transactions cost beyond the flushes they need.
			func() { fr, _ = produceRate(b, ctx, idem, value, benchRecords, benchTxnRecords, false) },
			func() {
				var c []float64
				tr, c = produceRate(b, ctx, txn, value, benchRecords, benchTxnRecords, true)
				commits = append(commits, c...)
			},
		}
		if i%2 == 1 {
			slices.Reverse(runs)
		}
		for _, run := range runs {
			run()
		}
		idemRates, flushedRates, txnRates = append(idemRates, ir), append(flushedRates, fr), append(txnRates, tr)
		ratios, flushedRatios = append(ratios, tr/ir), append(flushedRatios, tr/fr)
	}
	b.StopTimer()
	b.ReportMetric(median(idemRates), "idempotent-rec/s")
	b.ReportMetric(median(flushedRates), "idempotent-flushed-rec/s")
	b.ReportMetric(median(txnRates), "txn-rec/s")
	b.ReportMetric(median(ratios), "txn/idempotent")
	b.ReportMetric(median(flushedRatios), "txn/idempotent-flushed")
	b.ReportMetric(median(commits), "commit-ms")
	b.Logf("rounds: idempotent records/s %v; transactional (%d per transaction) records/s %v; ratios %.2f",
		rounded(idemRates), benchTxnRecords, rounded(txnRates), ratios)
}

// produceRate produces n records and returns records/s: flat out for perTxn 0, else in
// runs of perTxn records, each flushed before the next begins; with txn each run is a
// transaction, committed after its flush, and the milliseconds each commit took are
// returned.
func produceRate(b *testing.B, ctx context.Context, cl *kgo.Client, value []byte, n, perTxn int, txn bool) (float64, []float64) {
	var failed atomic.Pointer[error]
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	var commits []float64
	start := time.Now()
	for sent := 0; sent < n; {
		batch := n - sent
		if perTxn > 0 {
			batch = min(batch, perTxn)
		}
		if txn {
			if err := cl.BeginTransaction(); err != nil {
				b.Fatal(err)
			}
		}
		for range batch {
			cl.Produce(ctx, &kgo.Record{Value: value}, promise)
		}
		sent += batch
		if perTxn > 0 {
			at := time.Now()
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if txn {
				if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
					b.Fatal(err)
				}
				commits = append(commits, float64(time.Since(at).Microseconds())/1000)
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return float64(n) / elapsed.Seconds(), commits
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func rounded(xs []float64) []int64 {
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

// startBenchBroker starts bin/sluice (or $SLUICE_BIN) for a benchmark and waits until
// it answers: startBroker's launch, for a testing.TB.
func startBenchBroker(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv("SLUICE_BIN")
	if bin == "" {
		bin = filepath.Join("..", "..", "bin", "sluice")
	}
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("broker binary %s missing (%v): run `make build` first, or set SLUICE_BIN", bin, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logPath := filepath.Join(tb.TempDir(), "sluice.log")
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "server", "--set", "log.dirs="+tb.TempDir(), "--set", "listeners=PLAINTEXT://"+addr,
		"--set", "node.id=1", "--set", "http.addr=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(ioTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(ioTimeout)
	for {
		c, err := tryDial(addr)
		if err == nil {
			_, err = c.roundTrip(kmsg.NewPtrApiVersionsRequest())
			c.conn.Close()
		}
		if err == nil {
			return addr
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(logPath)
			tb.Fatalf("broker exited: %v\n%s", errors.Join(err, werr), log)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatal(fmt.Errorf("broker not answering on %s: %w", addr, err))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
