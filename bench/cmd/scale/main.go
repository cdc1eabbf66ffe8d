// Command scale measures a broker's fixed costs with the sluice binary:
//
//   - cold start: exec of an empty broker to its first successful
//     CreateTopics (-cold runs, each in a fresh data directory);
//   - many partitions: -topics topics of -parts partitions each, then the
//     broker's resident memory, the time of a Metadata request for every
//     topic, and the time from exec to ready after a clean restart (ready:
//     a Metadata answer lists every partition with a leader).
//
// It prints one JSON object.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type result struct {
	Workload         string    `json:"workload"`
	ColdStartMs      []float64 `json:"cold_start_ms"`
	Partitions       int       `json:"partitions"`
	CreateSeconds    float64   `json:"create_seconds"`
	ProducedSeconds  float64   `json:"produce_one_each_seconds"`
	RSSMiB           float64   `json:"rss_mib"`
	RestartRSSMiB    float64   `json:"restart_rss_mib"`
	MetadataMs       []float64 `json:"metadata_all_ms"`
	RestartReadyMs   float64   `json:"restart_ready_ms"`
	MetadataAfterMs  []float64 `json:"metadata_all_after_restart_ms"`
	MetadataResponse int       `json:"metadata_response_partitions"`
	// Error is why the run stopped early; the figures before it stand.
	Error string `json:"error,omitempty"`
}

func main() {
	bin := flag.String("sluice", "bin/sluice", "sluice binary")
	dir := flag.String("dir", os.TempDir(), "parent of the data directories")
	cold := flag.Int("cold", 3, "cold starts")
	topics := flag.Int("topics", 10, "topics")
	parts := flag.Int("parts", 1000, "partitions per topic")
	logLevel := flag.String("log-level", "warn", "the brokers' --log-level (their logs go to stderr)")
	flag.Parse()
	res, err := run(*bin, *logLevel, *dir, *cold, *topics, *parts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		if res == nil {
			os.Exit(1)
		}
		res.Error = err.Error()
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(res)
}

type broker struct {
	cmd    *exec.Cmd
	stderr *errorLine
	addr   string
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

// alive reports an error once the broker process has exited.
func (b *broker) alive() error {
	select {
	case <-b.exited:
		if line := b.stderr.get(); line != "" {
			return fmt.Errorf("broker exited (%v): %s", b.err, line)
		}
		return fmt.Errorf("broker exited: %v", b.err)
	default:
		return nil
	}
}

// errorLine keeps the first line a broker wrote that starts with "Error:"
// (cobra's report of why it stopped), cut to 300 bytes.
type errorLine struct {
	mu   sync.Mutex
	buf  []byte
	line string
}

func (e *errorLine) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.line != "" {
		return len(p), nil
	}
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			break
		}
		l := string(e.buf[:i])
		e.buf = e.buf[i+1:]
		if strings.HasPrefix(l, "Error:") {
			e.line = l[:min(len(l), 300)]
			e.buf = nil
			break
		}
	}
	if len(e.buf) > 1<<16 {
		e.buf = e.buf[len(e.buf)-1<<16:]
	}
	return len(p), nil
}

func (e *errorLine) get() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.line
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func start(bin, logLevel, data, addr string) (*broker, error) {
	cmd := exec.Command(bin, "server", "--set", "log.dirs="+data, "--set", "listeners=PLAINTEXT://"+addr,
		"--set", "http.addr=", "--log-level", logLevel)
	el := &errorLine{}
	cmd.Stdout, cmd.Stderr = os.Stderr, io.MultiWriter(os.Stderr, el)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &broker{cmd: cmd, addr: addr, stderr: el, exited: make(chan struct{})}
	go func() {
		b.err = cmd.Wait()
		close(b.exited)
	}()
	return b, nil
}

func (b *broker) stop() error {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
		return b.err
	case <-time.After(60 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
		return errors.New("broker did not stop within 60s; killed")
	}
}

func (b *broker) rssMiB() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", b.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

func client(addr string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryBackoffFn(func(int) time.Duration { return 2 * time.Millisecond }),
		kgo.RequestRetries(1000), kgo.RetryTimeout(30*time.Second))
}

// metadataAll asks for every topic and returns the time and the number of
// partitions with a leader.
func metadataAll(ctx context.Context, cl *kgo.Client) (time.Duration, int, error) {
	req := kmsg.NewPtrMetadataRequest()
	t0 := time.Now()
	resp, err := req.RequestWith(ctx, cl)
	d := time.Since(t0)
	if err != nil {
		return d, 0, err
	}
	n := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Leader >= 0 {
				n++
			}
		}
	}
	return d, n, nil
}

func run(bin, logLevel, parent string, cold, topics, parts int) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	res := &result{Workload: "scale", Partitions: topics * parts}

	for i := range cold {
		data, err := os.MkdirTemp(parent, "sluice-cold-")
		if err != nil {
			return res, err
		}
		addr, err := freePort()
		if err != nil {
			return res, err
		}
		t0 := time.Now()
		b, err := start(bin, logLevel, data, addr)
		if err != nil {
			return res, err
		}
		cl, err := client(addr)
		if err != nil {
			return res, err
		}
		for {
			r, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "cold-"+strconv.Itoa(i))
			if err == nil && r.Err == nil {
				break
			}
			if ctx.Err() != nil || b.alive() != nil {
				return res, fmt.Errorf("cold start: %v %v %v", err, r.Err, b.alive())
			}
			time.Sleep(time.Millisecond)
		}
		res.ColdStartMs = append(res.ColdStartMs, float64(time.Since(t0).Microseconds())/1000)
		cl.Close()
		b.stop()
		os.RemoveAll(data)
	}

	data, err := os.MkdirTemp(parent, "sluice-scale-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(data)
	addr, err := freePort()
	if err != nil {
		return res, err
	}
	b, err := start(bin, logLevel, data, addr)
	if err != nil {
		return res, err
	}
	cl, err := client(addr)
	if err != nil {
		b.stop()
		return res, err
	}
	adm := kadm.NewClient(cl)
	for { // wait for the listener
		if _, _, err := metadataAll(ctx, cl); err == nil || ctx.Err() != nil || b.alive() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t0 := time.Now()
	for i := range topics {
		name := fmt.Sprintf("scale-%03d", i)
		r, err := adm.CreateTopic(ctx, int32(parts), 1, nil, name)
		if err == nil {
			err = r.Err
		}
		if err != nil {
			b.stop()
			return res, fmt.Errorf("create %s: %w", name, err)
		}
	}
	// Ready: every partition listed with a leader.
	for {
		_, n, err := metadataAll(ctx, cl)
		if err == nil && n >= topics*parts {
			break
		}
		if ctx.Err() != nil || b.alive() != nil {
			b.stop()
			return res, fmt.Errorf("partitions not ready: %d of %d, %v %v", n, topics*parts, err, b.alive())
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.CreateSeconds = time.Since(t0).Seconds()
	// One record in every partition, so that every log exists on disk.
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.stop()
		return res, err
	}
	for i := range topics {
		for p := range parts {
			pcl.Produce(ctx, &kgo.Record{Topic: fmt.Sprintf("scale-%03d", i), Partition: int32(p), Value: []byte("x")}, nil)
		}
	}
	if err := pcl.Flush(ctx); err != nil {
		b.stop()
		return res, fmt.Errorf("produce to every partition: %w", err)
	}
	pcl.Close()
	res.ProducedSeconds = time.Since(t0).Seconds() - res.CreateSeconds
	for range 5 {
		d, n, err := metadataAll(ctx, cl)
		if err != nil {
			b.stop()
			return res, err
		}
		res.MetadataMs = append(res.MetadataMs, float64(d.Microseconds())/1000)
		res.MetadataResponse = n
	}
	res.RSSMiB = b.rssMiB()
	cl.Close()
	if err := b.stop(); err != nil {
		return res, fmt.Errorf("stop: %w", err)
	}

	t0 = time.Now()
	b, err = start(bin, logLevel, data, addr)
	if err != nil {
		return res, err
	}
	defer b.stop()
	cl, err = client(addr)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	for {
		_, n, err := metadataAll(ctx, cl)
		if err == nil && n >= topics*parts {
			break
		}
		if time.Since(t0) > 2*time.Minute || b.alive() != nil {
			return res, fmt.Errorf("not ready %v after restart: %d of %d partitions, %v %v", time.Since(t0), n, topics*parts, err, b.alive())
		}
		time.Sleep(time.Millisecond)
	}
	res.RestartReadyMs = float64(time.Since(t0).Microseconds()) / 1000
	for range 5 {
		d, _, err := metadataAll(ctx, cl)
		if err != nil {
			return res, err
		}
		res.MetadataAfterMs = append(res.MetadataAfterMs, float64(d.Microseconds())/1000)
	}
	res.RestartRSSMiB = b.rssMiB()
	return res, nil
}
