package connectdist

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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

	"github.com/sluicehq/sluice/connect/postgres/pgtest"
)

// sluiceBin returns the binary under test.
func sluiceBin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_BIN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", "sluice")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the sluice binary is missing (%v): build it first with `make build`, or set SLUICE_BIN", err)
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

// start runs bin/sluice with args, its output in a log file; it dies with
// the test process.
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
	if len(b) > 8000 {
		b = append(append(b[:2000:2000], "\n...\n"...), b[len(b)-6000:]...)
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
	adminCl    *kgo.Client

	pg *pgtest.Server
)

// TestMain starts PostgreSQL, and stops it and the shared broker after the
// tests.
func TestMain(m *testing.M) {
	var err error
	if pg, err = pgtest.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	pg.Stop()
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

// broker returns the address of the package's broker, started on first
// use. Groups rebalance without the initial delay and accept short
// sessions, so a killed worker is noticed within seconds.
func broker(t testing.TB) string {
	t.Helper()
	brokerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-connectdist-test-")
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
			"--set", "group.min.session.timeout.ms=1000",
		)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			brokerErr = err
			return
		}
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
		adminCl = cl
		brokerAddr = addr
	})
	if brokerErr != nil {
		t.Fatal(brokerErr)
	}
	return brokerAddr
}

func admin(t testing.TB) *kadm.Client {
	broker(t)
	return kadm.NewClient(adminCl)
}

// cluster is a group of `sluice connect distributed` workers.
type cluster struct {
	t       testing.TB
	dir     string
	group   string
	extra   map[string]string
	workers []*worker
}

// worker is one distributed worker process.
type worker struct {
	rest string
	cfg  string
	proc *process
}

func (w *worker) url(path string) string { return "http://" + w.rest + path }

// newCluster starts n workers of a new group, with their own internal
// topics, and waits until they all answer.
func newCluster(t *testing.T, n int, extra map[string]string) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), group: uniqueName(t, "connect"), extra: extra}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, w := range c.workers {
			if w.proc.running() {
				wg.Add(1)
				go func() { defer wg.Done(); w.proc.stop(t) }()
			}
		}
		wg.Wait()
		if t.Failed() {
			for i, w := range c.workers {
				t.Logf("worker %d (%s) log:\n%s", i, w.rest, w.proc.log())
			}
		}
	})
	for range n {
		c.add()
	}
	for _, w := range c.workers {
		waitFor(t, 60*time.Second, "worker "+w.rest+" answers", func() (bool, string) {
			if !w.proc.running() {
				t.Fatalf("worker exited: %v\n%s", w.proc.waitErr, w.proc.log())
			}
			code, text := call(t, "GET", w.url("/connectors"), nil, nil)
			return code == 200, fmt.Sprintf("HTTP %d %s", code, text)
		})
	}
	return c
}

// add starts one more worker.
func (c *cluster) add() *worker {
	t := c.t
	i := len(c.workers)
	w := &worker{rest: freeAddr(t)}
	props := map[string]string{
		"bootstrap.servers":                 broker(t),
		"group.id":                          c.group,
		"config.storage.topic":              c.group + "-configs",
		"offset.storage.topic":              c.group + "-offsets",
		"status.storage.topic":              c.group + "-status",
		"config.storage.replication.factor": "1",
		"offset.storage.replication.factor": "1",
		"status.storage.replication.factor": "1",
		"offset.storage.partitions":         "5",
		"status.storage.partitions":         "2",
		"key.converter":                     "org.apache.kafka.connect.json.JsonConverter",
		"value.converter":                   "org.apache.kafka.connect.json.JsonConverter",
		"offset.flush.interval.ms":          "300",
		"session.timeout.ms":                "3000",
		"heartbeat.interval.ms":             "500",
		"scheduled.rebalance.max.delay.ms":  "2000",
		"consumer.session.timeout.ms":       "3000",
		"consumer.heartbeat.interval.ms":    "500",
		"listeners":                         "http://" + w.rest,
	}
	for k, v := range c.extra {
		props[k] = v
	}
	w.cfg = filepath.Join(c.dir, fmt.Sprintf("worker-%d.properties", i))
	writeProps(t, w.cfg, props)
	w.proc = start(t, filepath.Join(c.dir, fmt.Sprintf("worker-%d.log", i)), "connect", "distributed", w.cfg)
	c.workers = append(c.workers, w)
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

// call sends a request with a JSON body (nil: none) and decodes a 2xx
// answer into out; it returns the status (0 when the worker did not
// answer) and the body.
func call(t testing.TB, method, url string, body, out any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 60 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 && len(b) > 0 {
		// Decode into a zero value: json merges into existing maps.
		v := reflect.ValueOf(out).Elem()
		v.Set(reflect.Zero(v.Type()))
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// mustCall is call that retries while the cluster rebalances (409, or no
// answer from a worker just being forwarded to) and wants the status.
func mustCall(t testing.TB, want int, method, url string, body, out any) string {
	t.Helper()
	var code int
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, text = call(t, method, url, body, out)
		if code == want {
			return text
		}
		if (code != 409 && code != 0) || time.Now().After(deadline) {
			t.Fatalf("%s %s: HTTP %d, want %d: %s", method, url, code, want, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// waitState waits until a connector and its tasks (at least one, unless
// the state is STOPPED) show state.
func waitState(t testing.TB, w *worker, name, state string) status {
	t.Helper()
	var st status
	waitFor(t, 60*time.Second, name+" "+state, func() (bool, string) {
		st = status{}
		if code, text := call(t, "GET", w.url("/connectors/"+name+"/status"), nil, &st); code != 200 {
			return false, fmt.Sprintf("HTTP %d %s", code, text)
		}
		if st.Connector.State != state || (len(st.Tasks) == 0) != (state == "STOPPED") {
			return false, fmt.Sprintf("%+v", st)
		}
		for _, task := range st.Tasks {
			if task.State != state {
				return false, fmt.Sprintf("%+v", st)
			}
		}
		return true, ""
	})
	return st
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
		time.Sleep(50 * time.Millisecond)
	}
}

// endOffset returns the sum of a topic's end offsets.
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

// appendLines appends lines to a file.
func appendLines(t testing.TB, path string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

var nameSeq int

// uniqueName is a group, topic or connector name unique to the test and to
// the run: under go test -count=2 the tests run again against the same
// broker, which still holds the first run's internal topics, connectors'
// groups (connect-<name>) and transactional ids.
func uniqueName(t testing.TB, what string) string {
	nameSeq++
	n := strings.NewReplacer("/", "-", "_", "-", "=", "-").Replace(strings.ToLower(t.Name()))
	return n + "-" + what + "-" + strconv.Itoa(nameSeq) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
}
