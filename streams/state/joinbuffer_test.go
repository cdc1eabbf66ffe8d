package state_test

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/sluicehq/sluice/streams/state"
)

func TestJoinBufferFetchesOneKeyInTimeOrder(t *testing.T) {
	b := NewJoinBuffer(NewMemoryStore("j"))
	put := func(key string, ts int64, v string) uint32 {
		t.Helper()
		seq, err := b.Put([]byte(key), ts, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	put("a", 10, "a10")
	put("a", -5, "a-5")
	put("a", 10, "a10bis") // same key and time: both kept
	put("ab", 7, "ab7")    // a key that extends "a" stays out of a's range
	put("a", 30, "a30")
	fetch := func(key string, from, to int64) string {
		t.Helper()
		var got []string
		err := b.Fetch([]byte(key), from, to, func(ts int64, _ uint32, v []byte) error {
			got = append(got, fmt.Sprintf("%d:%s", ts, v))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, " ")
	}
	if got := fetch("a", -10, 10); got != "-5:a-5 10:a10 10:a10bis" {
		t.Errorf("a over [-10, 10]: %q", got)
	}
	if got := fetch("a", 11, 30); got != "30:a30" {
		t.Errorf("a over [11, 30]: %q", got)
	}
	if got := fetch("ab", -100, 100); got != "7:ab7" {
		t.Errorf("ab: %q", got)
	}
	n, err := b.Purge(10)
	if err != nil || n != 2 {
		t.Fatalf("purge before 10 removed %d (%v), want 2", n, err)
	}
	if got := fetch("a", -100, 100); got != "10:a10 10:a10bis 30:a30" {
		t.Errorf("after purge: %q", got)
	}
}

func TestJoinBufferSeqSkipsEntriesLeftByAnEarlierRun(t *testing.T) {
	store := NewMemoryStore("j")
	first := NewJoinBuffer(store)
	if _, err := first.Put([]byte("k"), 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	// A reopened task starts its counter again at 0.
	again := NewJoinBuffer(store)
	seq, err := again.Put([]byte("k"), 1, []byte("y"))
	if err != nil || seq != 1 {
		t.Fatalf("seq %d (%v), want 1", seq, err)
	}
	if n, _ := store.ApproximateNumEntries(); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}

func TestOuterBufferScansInTimeOrder(t *testing.T) {
	o := NewOuterBuffer(NewMemoryStore("o"))
	for _, e := range []struct {
		ts    int64
		right bool
		key   string
	}{{20, false, "b"}, {-3, true, "a"}, {20, true, "a"}, {5, false, "zz"}} {
		if err := o.Put(e.ts, e.right, []byte(e.key), 0, []byte("v"+e.key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Delete(5, false, []byte("zz"), 0); err != nil {
		t.Fatal(err)
	}
	if err := o.Delete(5, false, []byte("absent"), 0); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := o.Scan(func(e OuterEntry) (bool, error) {
		got = append(got, fmt.Sprintf("%d/%v/%s/%s", e.Timestamp, e.Right, e.Key, e.Value))
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, " "); s != "-3/true/a/va 20/false/b/vb 20/true/a/va" {
		t.Errorf("scan: %q", s)
	}
}
