package state_test

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/sluicehq/sluice/streams/state"
)

func rangeKeys(t *testing.T, s BytesStore, from, to string) string {
	t.Helper()
	var f, tb []byte
	if from != "" {
		f = []byte(from)
	}
	if to != "" {
		tb = []byte(to)
	}
	var out []string
	must(t, s.Range(f, tb, func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%s=%s", k, v))
		return nil
	}))
	return strings.Join(out, " ")
}

func TestBoundedRangesThroughCacheAndMemoryStore(t *testing.T) {
	inner := NewMemoryStore("s")
	// A budget of about three entries: writes evict (and write down) the
	// least recently used, so the range merges cache and store.
	cs := NewCachingStore(inner, NewCache(3*(64+4)), nil)
	for i := 9; i >= 0; i-- {
		must(t, cs.Put([]byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprint(i))))
	}
	if n, _ := inner.ApproximateNumEntries(); n < 6 {
		t.Fatalf("only %d entries were evicted to the store", n)
	}
	if got := rangeKeys(t, cs, "k3", "k6"); got != "k3=3 k4=4 k5=5 k6=6" {
		t.Fatalf("cache range k3..k6 = %q", got)
	}
	must(t, cs.Put([]byte("k4"), nil))          // a cached delete hides the stored entry
	must(t, cs.Put([]byte("k55"), []byte("x"))) // a new key between two
	if got := rangeKeys(t, cs, "k3", "k6"); got != "k3=3 k5=5 k55=x k6=6" {
		t.Fatalf("cache range after a delete and an insert = %q", got)
	}
	if got := rangeKeys(t, cs, "", "k1"); got != "k0=0 k1=1" {
		t.Fatalf("cache range ..k1 = %q", got)
	}
	if got := rangeKeys(t, cs, "k8", ""); got != "k8=8 k9=9" {
		t.Fatalf("cache range k8.. = %q", got)
	}
	must(t, cs.Flush())
	if got := rangeKeys(t, inner, "k3", "k6"); got != "k3=3 k5=5 k55=x k6=6" {
		t.Fatalf("store range after flush = %q", got)
	}
	if got := rangeKeys(t, inner, "k6", "k3"); got != "" {
		t.Fatalf("an empty range (from > to) = %q", got)
	}
}

func TestCacheEvictedDirtyEntryIsWrittenOnceAndRequeuedWhenDirtiedAgain(t *testing.T) {
	inner := NewMemoryStore("s")
	cs := NewCachingStore(inner, NewCache(3*66), nil) // three 1-byte entries
	var flushed []string
	cs.SetFlushListener(func(e FlushedEntry) error {
		flushed = append(flushed, fmt.Sprintf("%s=%s", e.Key, e.New))
		return nil
	})
	for _, kv := range []string{"a1", "b1", "c1", "d1", "a2"} {
		must(t, cs.Put([]byte(kv[:1]), []byte(kv[1:])))
	}
	// d evicted a, and a's return evicted b: both written down then.
	if got := strings.Join(flushed, " "); got != "a=1 b=1" {
		t.Fatalf("written on eviction: %q", got)
	}
	must(t, cs.FlushCache())
	// The rest in the order they became dirty, a last (dirtied again after
	// its eviction), each once.
	if got := strings.Join(flushed, " "); got != "a=1 b=1 c=1 d=1 a=2" {
		t.Fatalf("written: %q", got)
	}
	must(t, cs.FlushCache())
	if len(flushed) != 5 {
		t.Fatalf("a second flush wrote again: %q", flushed)
	}
	if got := rangeKeys(t, inner, "", ""); got != "a=2 b=1 c=1 d=1" {
		t.Fatalf("store = %q", got)
	}
}
