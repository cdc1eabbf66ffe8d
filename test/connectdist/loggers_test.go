package connectdist

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A logging level set with ?scope=cluster (KIP-976) on one worker reaches
// the other through the config topic (a logger-cluster-<namespace>
// record); one set for the worker only does not. A worker that starts
// later does not apply it. The level changes what the workers write: at
// the next rebalance both log the group join at DEBUG.
func TestClusterLoggerLevel(t *testing.T) {
	c := newCluster(t, 2, nil)
	w0, w1 := c.workers[0], c.workers[1]
	level := func(w *worker, name string) string {
		var ll struct{ Level string }
		mustCall(t, 200, "GET", w.url("/admin/loggers/"+name), nil, &ll)
		return ll.Level
	}
	if got := level(w1, "connect.distributed"); got != "INFO" {
		t.Fatalf("connect.distributed starts at %s", got)
	}

	// Worker scope: only w0.
	var changed []string
	mustCall(t, 200, "PUT", w0.url("/admin/loggers/connect.rest"), map[string]string{"level": "WARN"}, &changed)
	if strings.Join(changed, ",") != "connect.rest" || level(w0, "connect.rest") != "WARN" || level(w1, "connect.rest") != "INFO" {
		t.Fatalf("worker scope: changed %v, w0 %s, w1 %s", changed, level(w0, "connect.rest"), level(w1, "connect.rest"))
	}

	// Cluster scope: 204, then both.
	mustCall(t, 204, "PUT", w0.url("/admin/loggers/connect.distributed?scope=cluster"), map[string]string{"level": "DEBUG"}, nil)
	if got := level(w0, "connect.distributed"); got != "DEBUG" {
		t.Fatalf("the worker that took the request: %s", got)
	}
	waitFor(t, 10*time.Second, "the other worker applies the cluster level", func() (bool, string) {
		got := level(w1, "connect.distributed")
		return got == "DEBUG", got
	})
	if got := level(w1, "root"); got != "INFO" {
		t.Fatalf("root changed with connect.distributed: %s", got)
	}

	// The record, as Kafka writes it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker(t)), kgo.ConsumeTopics(c.group+"-configs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var found string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for found == "" && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "logger-cluster-connect.distributed" {
				found = string(r.Value)
			}
		})
	}
	if found != `{"level":"DEBUG"}` {
		t.Fatalf("logger-cluster-connect.distributed record: %q", found)
	}

	// A worker that joins later keeps its own level; the rebalance it
	// causes is logged at DEBUG by the two others.
	w2 := c.add()
	waitFor(t, 60*time.Second, "the third worker answers", func() (bool, string) {
		code, text := call(t, "GET", w2.url("/connectors"), nil, nil)
		return code == 200, text
	})
	if got := level(w2, "connect.distributed"); got != "INFO" {
		t.Fatalf("a worker started after the request applied it: %s", got)
	}
	for _, w := range []*worker{w0, w1} {
		waitFor(t, 20*time.Second, "a DEBUG line of the group join", func() (bool, string) {
			return strings.Contains(w.proc.log(), "level=DEBUG msg=\"connect: joined the worker group\""), ""
		})
	}
	if strings.Contains(w2.proc.log(), "level=DEBUG") {
		t.Fatal("the third worker logs at DEBUG")
	}
}
