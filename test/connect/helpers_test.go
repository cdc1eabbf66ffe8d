package connect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sluiceBin returns the binary under test, failing clearly when it is
// missing.
func sluiceBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", "sluice")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the sluice binary is missing (%v): build it first with `make build` (or go build -o bin/sluice ./cmd/sluice), or set SLUICE_BIN", err)
	}
	return p
}

// process is a running bin/sluice.
type process struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	waitErr error
}

// start runs bin/sluice with args, its output in a log file; it is killed
// when the test process dies.
func start(t testing.TB, logPath string, args ...string) *process {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sluiceBin(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start sluice %s: %v", strings.Join(args, " "), err)
	}
	p := &process{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p
}

func (p *process) log() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 6000 {
		b = append(append(b[:2000:2000], "\n...\n"...), b[len(b)-4000:]...)
	}
	return string(b)
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t testing.TB) {
	t.Helper()
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("pid %d exited with %v after SIGTERM\n%s", p.cmd.Process.Pid, p.waitErr, p.log())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("pid %d did not stop within 30s of SIGTERM\n%s", p.cmd.Process.Pid, p.log())
	}
}

// kill9 kills the process with SIGKILL and waits for it to be gone.
func (p *process) kill9(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d still running 10s after SIGKILL", p.cmd.Process.Pid)
	}
}

// freeAddr returns a free 127.0.0.1 port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	brokerOnce sync.Once
	brokerAddr string
	brokerProc *process
	brokerErr  error
	brokerDir  string
)

// TestMain stops the shared broker after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if adminCl != nil {
		adminCl.Close()
	}
	if brokerProc != nil && brokerProc.running() {
		_ = brokerProc.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-brokerProc.exited:
		case <-time.After(30 * time.Second):
			_ = brokerProc.cmd.Process.Kill()
		}
	}
	if brokerDir != "" {
		os.RemoveAll(brokerDir)
	}
	os.Exit(code)
}

// broker returns the address of the package's broker, a bin/sluice
// process started on first use. Consumer groups rebalance without the
// initial delay, so sink tasks join at once.
func broker(t testing.TB) string {
	t.Helper()
	brokerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-connect-test-")
		if err != nil {
			brokerErr = err
			return
		}
		brokerDir = dir
		addr := freeAddr(t)
		brokerProc = start(t, filepath.Join(dir, "broker.log"), "server",
			"--set", "log.dirs="+filepath.Join(dir, "data"),
			"--set", "listeners=PLAINTEXT://"+addr,
			"--set", "node.id=1",
			"--set", "http.addr=127.0.0.1:0",
			"--set", "group.initial.rebalance.delay.ms=0",
		)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			brokerErr = err
			return
		}
		defer cl.Close()
		for {
			if _, err := kadm.NewClient(cl).BrokerMetadata(ctx); err == nil {
				break
			}
			select {
			case <-ctx.Done():
				brokerErr = fmt.Errorf("broker on %s not ready within 30s:\n%s", addr, brokerProc.log())
				return
			case <-brokerProc.exited:
				brokerErr = fmt.Errorf("broker exited: %v\n%s", brokerProc.waitErr, brokerProc.log())
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		brokerAddr = addr
	})
	if brokerErr != nil {
		t.Fatal(brokerErr)
	}
	return brokerAddr
}

// worker is a `sluice connect standalone` process with its files.
type worker struct {
	dir       string
	rest      string
	workerCfg string
	connCfgs  []string
	proc      *process
	starts    int
}

// newWorker writes the worker's config (with extra settings over the
// defaults) and the connectors' configs.
func newWorker(t testing.TB, extra map[string]string, connectors ...map[string]string) *worker {
	t.Helper()
	dir := t.TempDir()
	w := &worker{dir: dir, rest: freeAddr(t)}
	props := map[string]string{
		"bootstrap.servers":            broker(t),
		"key.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":              "org.apache.kafka.connect.json.JsonConverter",
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms":     "300",
		"listeners":                    "http://" + w.rest,
	}
	for k, v := range extra {
		props[k] = v
	}
	w.workerCfg = filepath.Join(dir, "worker.properties")
	writeProps(t, w.workerCfg, props)
	for i, c := range connectors {
		p := filepath.Join(dir, fmt.Sprintf("connector-%d.properties", i))
		writeProps(t, p, c)
		w.connCfgs = append(w.connCfgs, p)
	}
	t.Cleanup(func() {
		if w.proc != nil && w.proc.running() {
			w.stop(t)
		}
		if t.Failed() && w.proc != nil {
			t.Logf("worker log %s:\n%s", w.proc.logPath, w.proc.log())
		}
	})
	return w
}

func writeProps(t testing.TB, path string, props map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.ReplaceAll(props[k], `\`, `\\`))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start runs the worker and waits until its REST API answers with every
// connector's tasks running.
func (w *worker) start(t testing.TB, connectors ...string) {
	t.Helper()
	w.starts++
	args := append([]string{"connect", "standalone", w.workerCfg}, w.connCfgs...)
	w.proc = start(t, filepath.Join(w.dir, "worker.log"), args...)
	waitFor(t, 30*time.Second, "the worker's connectors running", func() (bool, string) {
		if !w.proc.running() {
			t.Fatalf("worker exited: %v\n%s", w.proc.waitErr, w.proc.log())
		}
		for _, c := range connectors {
			var st status
			if code := getJSON(t, w.url("/connectors/"+c+"/status"), &st); code != 200 {
				return false, fmt.Sprintf("GET status of %s: HTTP %d", c, code)
			}
			if st.Connector.State != "RUNNING" || len(st.Tasks) == 0 {
				return false, fmt.Sprintf("%s: %+v", c, st)
			}
			for _, task := range st.Tasks {
				if task.State != "RUNNING" {
					return false, fmt.Sprintf("%s: %+v", c, st)
				}
			}
		}
		return true, ""
	})
}

func (w *worker) stop(t testing.TB)  { t.Helper(); w.proc.stop(t) }
func (w *worker) kill9(t testing.TB) { t.Helper(); w.proc.kill9(t) }
func (w *worker) url(path string) string {
	return "http://" + w.rest + path
}

// status is GET /connectors/{name}/status.
type status struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"tasks"`
}

// getJSON GETs url into v and returns the HTTP status (0 when the request
// failed, as while the worker starts).
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, body)
		}
	}
	return resp.StatusCode
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if detail != "" {
			last = detail
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newClient returns a franz-go client for the broker, closed with the test.
func newClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with one replica.
func createTopic(t testing.TB, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := admin(t).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

var (
	adminOnce sync.Once
	adminCl   *kgo.Client
)

// admin returns a client shared by the package's checks, closed after the
// tests.
func admin(t testing.TB) *kadm.Client {
	t.Helper()
	addr := broker(t)
	adminOnce.Do(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			t.Fatal(err)
		}
		adminCl = cl
	})
	return kadm.NewClient(adminCl)
}

// endOffset returns the sum of a topic's partitions' end offsets.
func endOffset(t testing.TB, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// readTopic reads n records of a topic from the start.
func readTopic(t testing.TB, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: got %d records of %d", topic, len(out), n)
		}
		f.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("read %s: %v", topic, err)
			}
		})
		out = append(out, f.Records()...)
	}
	return out
}

// lineCount counts the complete lines of a file.
func lineCount(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}

// readLines returns a file's lines.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

var nameSeq int

// uniqueName is a topic or connector name unique to the test and to the
// run: under go test -count=2 the tests run again against the same broker,
// which still holds the first run's topics and the groups of its sink
// connectors (connect-<name>).
func uniqueName(t testing.TB, what string) string {
	nameSeq++
	n := strings.NewReplacer("/", "-", "_", "-", "=", "-").Replace(strings.ToLower(t.Name()))
	return n + "-" + what + "-" + strconv.Itoa(nameSeq) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
}
