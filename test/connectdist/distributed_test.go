package connectdist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/connect/postgres/pgtest"
)

// dbLines returns the lines the sink wrote to the table lines.
func dbLines(t testing.TB, conn *pgx.Conn) map[string]bool {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT line FROM lines`)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return map[string]bool{}
		}
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		out[l] = true
	}
	return out
}

// waitLines waits until the table holds exactly the lines written.
func waitLines(t testing.TB, conn *pgx.Conn, want map[string]bool) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("%d lines in PostgreSQL", len(want)), func() (bool, string) {
		got := dbLines(t, conn)
		var missing []string
		for l := range want {
			if !got[l] {
				missing = append(missing, l)
			}
		}
		for l := range got {
			if !want[l] {
				t.Fatalf("the table has a line never written: %q", l)
			}
		}
		slices.Sort(missing)
		return len(missing) == 0, fmt.Sprintf("%d of %d missing, e.g. %.5q", len(missing), len(want), missing)
	})
}

// Three workers run three file sources and a PostgreSQL sink. One worker
// is killed with SIGKILL while lines are being written: its tasks move to
// the others, and every line reaches the table. Pause, resume, restart,
// stop, offset changes and deletion through the REST API of a worker that
// forwards them to the leader then take effect.
func TestDistributedFailoverAndLifecycle(t *testing.T) {
	c := newCluster(t, 3, map[string]string{
		"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
	})
	dbURL := pg.Database(t)
	conn := pgtest.Connect(t, dbURL)
	topic := c.group + "-lines"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin(t).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w0 := c.workers[0]
	srcs := []string{uniqueName(t, "src0"), uniqueName(t, "src1"), uniqueName(t, "src2")}
	db := uniqueName(t, "db")
	all := []string{srcs[0], srcs[1], srcs[2], db}
	files := make([]string, 3)
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("in-%d.txt", i))
		if err := os.WriteFile(files[i], nil, 0o644); err != nil {
			t.Fatal(err)
		}
		var info struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Tasks []any  `json:"tasks"`
		}
		mustCall(t, 201, "POST", w0.url("/connectors"), map[string]any{"name": srcs[i], "config": map[string]string{
			"connector.class": "FileStreamSource", "file": files[i], "topic": topic}}, &info)
		if info.Name != srcs[i] || info.Type != "source" {
			t.Fatalf("POST /connectors answered %+v", info)
		}
	}
	mustCall(t, 201, "POST", w0.url("/connectors"), map[string]any{"name": db, "config": map[string]string{
		"connector.class": "PostgresSink", "topics": topic, "connection.url": dbURL, "table.name.format": "lines",
		"transforms": "hoist", "transforms.hoist.type": "HoistField$Value", "transforms.hoist.field": "line",
		"insert.mode": "upsert", "pk.mode": "record_value", "pk.fields": "line", "auto.create": "true"}}, nil)

	want := map[string]bool{}
	var mu sync.Mutex
	next := 0
	write := func(files []string, n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, f := range files {
			var lines []string
			for range n {
				l := fmt.Sprintf("%s-line-%06d", filepath.Base(f), next)
				next++
				lines = append(lines, l)
				want[l] = true
			}
			appendLines(t, f, lines)
		}
	}
	snapshot := func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[string]bool, len(want))
		for l := range want {
			out[l] = true
		}
		return out
	}
	write(files, 100)
	for _, n := range all {
		waitState(t, w0, n, "RUNNING")
	}
	waitLines(t, conn, snapshot())

	// The work is spread: every worker runs something. Kill one that is
	// not the one the connectors were created on.
	running := map[string][]string{}
	for _, n := range all {
		st := waitState(t, w0, n, "RUNNING")
		for _, task := range st.Tasks {
			running[task.WorkerID] = append(running[task.WorkerID], fmt.Sprintf("%s-%d", n, task.ID))
		}
	}
	if len(running) != 3 {
		t.Fatalf("4 tasks on 3 workers run on every worker: %v", running)
	}
	victim := c.workers[1]
	if len(running[victim.rest]) == 0 {
		victim = c.workers[2]
	}
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				write(files, 5)
			}
		}
	}()
	// Lines flow before, during and after the kill.
	written := func() int { mu.Lock(); defer mu.Unlock(); return next }
	from := written()
	waitFor(t, 10*time.Second, "the writer to be under way", func() (bool, string) { return written() >= from+100, "" })
	t.Logf("killing worker %s, which runs %v", victim.rest, running[victim.rest])
	victim.proc.kill9(t)
	for _, n := range all {
		waitFor(t, 60*time.Second, n+" running on the living workers", func() (bool, string) {
			var st status
			if code, _ := call(t, "GET", w0.url("/connectors/"+n+"/status"), nil, &st); code != 200 {
				return false, "no status"
			}
			for _, task := range st.Tasks {
				if task.State != "RUNNING" || task.WorkerID == victim.rest {
					return false, fmt.Sprintf("%+v", st)
				}
			}
			return len(st.Tasks) == 1 && st.Connector.WorkerID != victim.rest && st.Connector.State == "RUNNING", fmt.Sprintf("%+v", st)
		})
	}
	close(stop)
	<-writerDone
	write(files, 50)
	waitLines(t, conn, snapshot())

	// The rest goes through a worker that is not necessarily the leader.
	var w1 *worker
	for _, w := range c.workers[1:] {
		if w != victim {
			w1 = w
		}
	}
	endOf := func() int64 { return endOffset(t, topic) }

	// Pause: the task stops producing.
	mustCall(t, 202, "PUT", w1.url("/connectors/"+srcs[0]+"/pause"), nil, nil)
	waitState(t, w1, srcs[0], "PAUSED")
	before := endOf()
	write(files[:1], 20)
	held := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(held) {
		if n := endOf(); n != before {
			t.Fatalf("a paused source produced: end offset %d, was %d", n, before)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustCall(t, 202, "PUT", w1.url("/connectors/"+srcs[0]+"/resume"), nil, nil)
	waitState(t, w1, srcs[0], "RUNNING")
	waitLines(t, conn, snapshot())

	// Restarts.
	var restarting status
	mustCall(t, 202, "POST", w1.url("/connectors/"+srcs[0]+"/restart?includeTasks=true"), nil, &restarting)
	if restarting.Connector.State != "RESTARTING" || len(restarting.Tasks) != 1 || restarting.Tasks[0].State != "RESTARTING" {
		t.Fatalf("restart with includeTasks answers the status with RESTARTING: %+v", restarting)
	}
	waitState(t, w1, srcs[0], "RUNNING")
	mustCall(t, 204, "POST", w1.url("/connectors/"+db+"/tasks/0/restart"), nil, nil)
	mustCall(t, 204, "POST", w1.url("/connectors/"+srcs[1]+"/restart"), nil, nil)
	write(files, 20)
	waitState(t, w1, db, "RUNNING")
	waitLines(t, conn, snapshot())

	// Stop, rewind the offsets, resume: the file is read again.
	mustCall(t, 204, "PUT", w1.url("/connectors/"+srcs[0]+"/stop"), nil, nil)
	waitState(t, w1, srcs[0], "STOPPED")
	var offs struct {
		Offsets []struct {
			Partition map[string]any `json:"partition"`
			Offset    map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, 200, "GET", w1.url("/connectors/"+srcs[0]+"/offsets"), nil, &offs)
	if len(offs.Offsets) != 1 || offs.Offsets[0].Partition["filename"] != files[0] || offs.Offsets[0].Offset["position"] != float64(fi.Size()) {
		t.Fatalf("GET offsets of the stopped source: %+v, file size %d", offs, fi.Size())
	}
	lines0 := int64(strings.Count(string(must(os.ReadFile(files[0]))), "\n"))
	before = endOf()
	mustCall(t, 200, "PATCH", w1.url("/connectors/"+srcs[0]+"/offsets"), map[string]any{"offsets": []any{map[string]any{
		"partition": map[string]any{"filename": files[0]}, "offset": map[string]any{"position": 0}}}}, nil)
	mustCall(t, 202, "PUT", w1.url("/connectors/"+srcs[0]+"/resume"), nil, nil)
	waitState(t, w1, srcs[0], "RUNNING")
	waitFor(t, 60*time.Second, "the rewound source to send its file again", func() (bool, string) {
		n := endOf()
		return n >= before+lines0, fmt.Sprintf("%d new records of %d", n-before, lines0)
	})
	waitLines(t, conn, snapshot()) // the same lines again: upserts change nothing

	// Delete.
	mustCall(t, 204, "DELETE", w1.url("/connectors/"+srcs[2]), nil, nil)
	waitFor(t, 30*time.Second, srcs[2]+" gone from every worker", func() (bool, string) {
		for _, w := range c.workers {
			if w == victim {
				continue
			}
			if code, _ := call(t, "GET", w.url("/connectors/"+srcs[2]), nil, nil); code != 404 {
				return false, fmt.Sprintf("%s: HTTP %d", w.rest, code)
			}
		}
		return true, ""
	})
	var names []string
	mustCall(t, 200, "GET", w0.url("/connectors"), nil, &names)
	if !slices.Equal(names, slices.Sorted(slices.Values([]string{db, srcs[0], srcs[1]}))) {
		t.Fatalf("GET /connectors after deleting %s: %v", srcs[2], names)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
