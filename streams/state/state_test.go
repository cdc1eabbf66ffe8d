package state_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/streams/serde"
	. "github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.Conformance(t, func(*testing.T) BytesStore { return NewMemoryStore("m") })
}

type logRecorder struct{ lines []string }

func (l *logRecorder) LogChange(store string, key, value []byte, ts int64) error {
	if value == nil {
		l.lines = append(l.lines, fmt.Sprintf("%s %s=null@%d", store, key, ts))
	} else {
		l.lines = append(l.lines, fmt.Sprintf("%s %s=%s@%d", store, key, value, ts))
	}
	return nil
}

func TestLoggedStoreLogsPlainValueWithTimestamp(t *testing.T) {
	log := &logRecorder{}
	s := NewTypedStore(NewLoggedStore(NewMemoryStore("counts"), log), "app-counts-changelog", serde.String, serde.String, func() int64 { return 42 })
	must(t, s.Put("a", "x"))
	must(t, s.PutWithTimestamp("b", "y", 7))
	must(t, s.Delete("a"))
	if got := strings.Join(log.lines, ", "); got != "counts a=x@42, counts b=y@7, counts a=null@0" {
		t.Fatalf("changelog = %s", got)
	}
	if v, ts, ok, err := s.GetWithTimestamp("b"); err != nil || !ok || v != "y" || ts != 7 {
		t.Fatalf("b = %q@%d %v %v", v, ts, ok, err)
	}
}

func TestCacheHoldsWritesUntilFlushAndForwardsOldValues(t *testing.T) {
	log := &logRecorder{}
	cache := NewCache(1 << 20)
	inner := NewMemoryStore("s")
	cs := NewCachingStore(NewLoggedStore(inner, log), cache, func() int64 { return 77 })
	var flushed []string
	cs.SetFlushListener(func(e FlushedEntry) error {
		nv, _, _ := SplitTimestamp(e.New)
		ov, _, _ := SplitTimestamp(e.Old)
		flushed = append(flushed, fmt.Sprintf("%s:%s<-%s(%v)", e.Key, nv, ov, e.Timestamp))
		return nil
	})
	s := NewTypedStore(cs, "t", serde.String, serde.Int64, nil)
	for i := int64(1); i <= 3; i++ {
		must(t, s.Put("a", i))
		must(t, s.Put("b", 10*i))
	}
	if len(log.lines) != 0 {
		t.Fatalf("cached writes reached the changelog before a flush: %v", log.lines)
	}
	if v, ok, _ := s.Get("a"); !ok || v != 3 {
		t.Fatalf("a read through the cache = %d, %v", v, ok)
	}
	must(t, cs.Flush())
	if len(log.lines) != 2 || len(flushed) != 2 {
		t.Fatalf("after flush: changelog %v, forwarded %v; want one record per key", log.lines, flushed)
	}
	must(t, s.Put("a", 4))
	must(t, cs.Flush())
	if got := flushed[2]; got != "a:\x00\x00\x00\x00\x00\x00\x00\x04<-\x00\x00\x00\x00\x00\x00\x00\x03(77)" {
		t.Fatalf("second flush of a forwarded %q, want new 4 and old 3", got)
	}
	if cache.UsedBytes() <= 0 {
		t.Fatal("cache accounts no bytes while holding entries")
	}
	must(t, cs.Close())
	if cache.UsedBytes() != 0 {
		t.Fatalf("closed store leaves %d bytes accounted", cache.UsedBytes())
	}
}

func TestCacheEvictsLeastRecentlyUsedWhenFull(t *testing.T) {
	log := &logRecorder{}
	cache := NewCache(3 * (64 + 10))
	cs := NewCachingStore(NewLoggedStore(NewMemoryStore("s"), log), cache, nil)
	for _, k := range []string{"k1", "k2", "k3", "k4", "k5"} {
		must(t, cs.Put([]byte(k), WithTimestamp([]byte("v"), 0)))
	}
	if len(log.lines) == 0 || !strings.HasPrefix(log.lines[0], "s k1=") {
		t.Fatalf("a full cache did not write its oldest entry down first: %v", log.lines)
	}
	if cache.UsedBytes() > cache.MaxBytes() {
		t.Fatalf("cache holds %d bytes over its %d budget", cache.UsedBytes(), cache.MaxBytes())
	}
	// Zero bytes: no caching, every write goes through at once.
	log.lines = nil
	off := NewCachingStore(NewLoggedStore(NewMemoryStore("s"), log), NewCache(0), nil)
	must(t, off.Put([]byte("a"), WithTimestamp([]byte("1"), 0)))
	if len(log.lines) != 1 {
		t.Fatalf("with a zero budget a write was held: %v", log.lines)
	}
}

func TestCacheRangeMergesWithStore(t *testing.T) {
	inner := NewMemoryStore("s")
	must(t, inner.PutAll([]KeyValue{{[]byte("a"), []byte("old")}, {[]byte("c"), []byte("old")}, {[]byte("e"), []byte("old")}}))
	cs := NewCachingStore(inner, NewCache(1<<20), nil)
	must(t, cs.Put([]byte("b"), []byte("new")))
	must(t, cs.Put([]byte("c"), []byte("new")))
	must(t, cs.Put([]byte("e"), nil))
	must(t, cs.Put([]byte("f"), []byte("new")))
	var got []string
	must(t, cs.Range(nil, nil, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}))
	if s := strings.Join(got, " "); s != "a=old b=new c=new f=new" {
		t.Fatalf("merged range = %s", s)
	}
	got = nil
	must(t, cs.Range(nil, nil, func(k, v []byte) error {
		got = append(got, string(k))
		if len(got) == 2 {
			return ErrStopIteration
		}
		return nil
	}))
	if len(got) != 2 {
		t.Fatalf("stopped merged range visited %v", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
