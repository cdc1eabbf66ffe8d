package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/builtin"
	"github.com/sluicehq/sluice/connect/data"
)

// Offsets become committable only up to the first record not yet in
// Kafka, per source partition.
func TestSubmittedOrder(t *testing.T) {
	s := newSubmitted()
	pa := map[string]any{"filename": "a"}
	pb := map[string]any{"filename": "b"}
	a1 := s.add(pa, map[string]any{"position": int64(1)})
	a2 := s.add(pa, map[string]any{"position": int64(2)})
	b1 := s.add(pb, map[string]any{"position": int64(10)})
	a3 := s.add(pa, map[string]any{"position": int64(3)})
	if s.add(nil, map[string]any{"x": 1}) != nil {
		t.Fatal("a record without a source partition is not tracked")
	}
	a2.ack()
	a3.ack()
	if e, pending := s.committable(); len(e) != 0 || pending != 4 {
		t.Fatalf("nothing is committable before a1: %v %d", e, pending)
	}
	b1.ack()
	a1.ack()
	e, pending := s.committable()
	got := map[string]any{}
	for _, x := range e {
		got[x.Partition["filename"].(string)] = x.Offset["position"]
	}
	if got["a"] != int64(3) || got["b"] != int64(10) || pending != 0 {
		t.Fatalf("committable %v, pending %d", got, pending)
	}
	if e, _ := s.committable(); len(e) != 0 {
		t.Fatal("offsets are handed out once")
	}
}

func testHandler(t *testing.T, props map[string]string) *errorHandler {
	t.Helper()
	props["name"], props["connector.class"] = "c", "FileStreamSource"
	cfg, err := ConnectorConfig(false).Parse(props)
	if err != nil {
		t.Fatal(err)
	}
	return newErrorHandler("c", 0, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestErrorHandler(t *testing.T) {
	boom := errors.New("boom")
	none := testHandler(t, map[string]string{})
	ok, err := none.run(context.Background(), StageValueConverter, "X", failedRecord{}, func() error { return boom })
	if ok || err == nil || !errors.Is(err, boom) {
		t.Fatalf("tolerance none: %v %v", ok, err)
	}
	all := testHandler(t, map[string]string{"errors.tolerance": "all"})
	ok, err = all.run(context.Background(), StageValueConverter, "X", failedRecord{}, func() error { return boom })
	if ok || err != nil || all.skipped != 1 {
		t.Fatalf("tolerance all skips: %v %v", ok, err)
	}
	// Retriable errors are retried within errors.retry.timeout; others are not.
	retry := testHandler(t, map[string]string{"errors.retry.timeout": "5000", "errors.retry.delay.max.ms": "10"})
	calls := 0
	ok, err = retry.run(context.Background(), StageTransformation, "X", failedRecord{}, func() error {
		calls++
		if calls < 3 {
			return connect.Retriable(boom)
		}
		return nil
	})
	if !ok || err != nil || calls != 3 {
		t.Fatalf("retried %d times: %v %v", calls, ok, err)
	}
	calls = 0
	retry.run(context.Background(), StageTransformation, "X", failedRecord{}, func() error { calls++; return boom })
	if calls != 1 {
		t.Fatalf("a non-retriable error was tried %d times", calls)
	}
	short := testHandler(t, map[string]string{"errors.retry.timeout": "50", "errors.retry.delay.max.ms": "10"})
	start := time.Now()
	ok, err = short.run(context.Background(), StageTransformation, "X", failedRecord{}, func() error { return connect.Retriable(boom) })
	if ok || err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("retries must stop at the timeout: %v %v after %v", ok, err, time.Since(start))
	}
}

func TestChain(t *testing.T) {
	reg := builtin.Registry()
	c, err := newChain(reg, map[string]string{
		"transforms":                "hoist,drop",
		"transforms.hoist.type":     "HoistField$Value",
		"transforms.hoist.field":    "f",
		"transforms.drop.type":      "Filter",
		"transforms.drop.predicate": "t",
		"transforms.drop.negate":    "true",
		"predicates":                "t",
		"predicates.t.type":         "TopicNameMatches",
		"predicates.t.pattern":      "keep.*",
	})
	if err != nil {
		t.Fatal(err)
	}
	h := testHandler(t, map[string]string{})
	in := &connect.SourceRecord{Record: connect.Record{Topic: "keep-me", Value: "v", ValueSchema: data.StringSchema}}
	out, err := c.apply(context.Background(), h, failedRecord{}, in)
	if err != nil || out == nil || out.Base().Value.(*data.Struct).Get("f") != "v" {
		t.Fatalf("kept record: %v %v", out, err)
	}
	in.Topic = "other"
	if out, err := c.apply(context.Background(), h, failedRecord{}, in); out != nil || err != nil {
		t.Fatalf("negated predicate: the Filter applies to other topics: %v %v", out, err)
	}
	for _, bad := range []map[string]string{
		{"transforms": "x"},
		{"transforms": "x", "transforms.x.type": "NoSuch"},
		{"transforms": "x", "transforms.x.type": "Filter", "transforms.x.predicate": "p"},
		{"transforms": "x", "transforms.x.type": "Filter", "transforms.x.negate": "true"},
		{"transforms": "x", "transforms.x.type": "Cast$Value"},
	} {
		if _, err := newChain(reg, bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestClientOptions(t *testing.T) {
	if _, err := ClientOptions(map[string]string{"acks": "all", "linger.ms": "5", "compression.type": "zstd"}, producerClient, nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{{"acks": "2"}, {"compression.type": "brotli"}, {"security.protocol": "SASL_SSL"}, {"linger.ms": "x"}} {
		if _, err := ClientOptions(bad, producerClient, nil); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}
