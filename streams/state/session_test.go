package state_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/streams/serde"
	. "github.com/sluicehq/sluice/streams/state"
)

func TestSessionKeyLayoutIsKeyEndStart(t *testing.T) {
	got := SessionKeyBytes([]byte("k"), 5, 9)
	want := append([]byte("k"), 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5)
	if !bytes.Equal(got, want) {
		t.Fatalf("layout = %x, want %x", got, want)
	}
	k, start, end, err := SplitSessionKey(got)
	if err != nil || string(k) != "k" || start != 5 || end != 9 {
		t.Fatalf("split = %q [%d,%d] %v", k, start, end, err)
	}
	if _, _, _, err := SplitSessionKey([]byte("short")); err == nil {
		t.Fatal("a key without its 16 bytes of bounds split without an error")
	}
	// One key's sessions sort by end, then start.
	if bytes.Compare(SessionKeyBytes([]byte("k"), 8, 10), SessionKeyBytes([]byte("k"), 1, 11)) >= 0 {
		t.Fatal("a session ending earlier does not sort first")
	}
}

func sessions[K, V any](t *testing.T, find func(fn func(Session[K, V]) bool) error) string {
	t.Helper()
	var out []string
	must(t, find(func(s Session[K, V]) bool {
		out = append(out, fmt.Sprintf("%v[%d,%d]=%v", s.Key, s.Start, s.End, s.Value))
		return true
	}))
	return strings.Join(out, " ")
}

func TestFindSessionsByKeyAndTime(t *testing.T) {
	s := NewTypedSessionStore(NewMemoryStore("s"), "t", serde.String, serde.Int64, 1000, nil)
	must(t, s.Put("a", 0, 5, 1))
	must(t, s.Put("a", 10, 20, 2))
	must(t, s.Put("a", 30, 30, 3))
	// Keys of which "a" is a prefix sort inside a's range; they must not
	// show up as a's sessions.
	must(t, s.Put("ab", 12, 12, 4))
	must(t, s.Put("a\x00", 11, 15, 5))
	must(t, s.Put("b", 15, 25, 6))

	all := func(key string) string {
		return sessions(t, func(fn func(Session[string, int64]) bool) error { return s.Fetch(key, fn) })
	}
	if got := all("a"); got != "a[0,5]=1 a[10,20]=2 a[30,30]=3" {
		t.Fatalf("fetch a = %s", got)
	}
	if got := all("ab"); got != "ab[12,12]=4" {
		t.Fatalf("fetch ab = %s", got)
	}
	for _, c := range []struct {
		earliestEnd, latestStart int64
		want                     string
	}{
		{8, 25, "a[10,20]=2"},
		{5, 30, "a[0,5]=1 a[10,20]=2 a[30,30]=3"},
		{6, 9, ""},
		{21, 100, "a[30,30]=3"},
		{-10, 0, "a[0,5]=1"},
		{0, -1, ""},
		{20, 10, "a[10,20]=2"},
	} {
		got := sessions(t, func(fn func(Session[string, int64]) bool) error {
			return s.FindSessions("a", c.earliestEnd, c.latestStart, fn)
		})
		if got != c.want {
			t.Errorf("FindSessions(a, %d, %d) = %q, want %q", c.earliestEnd, c.latestStart, got, c.want)
		}
	}
	// A key range: "a\x00" and "ab" lie between "a" and "ab"; "b" does not.
	if got := sessions(t, func(fn func(Session[string, int64]) bool) error { return s.FetchRange("a", "ab", fn) }); got != "a\x00[11,15]=5 a[0,5]=1 a[10,20]=2 a[30,30]=3 ab[12,12]=4" {
		t.Fatalf("fetch a..ab = %q", got)
	}
	if got := sessions(t, func(fn func(Session[string, int64]) bool) error { return s.FetchRange("a\x00", "b", fn) }); got != "a\x00[11,15]=5 ab[12,12]=4 b[15,25]=6" {
		t.Fatalf("fetch a\\x00..b = %q", got)
	}
	if got := sessions(t, func(fn func(Session[string, int64]) bool) error { return s.FetchRange("b", "a", fn) }); got != "" {
		t.Fatalf("fetch b..a = %q", got)
	}
	// Stopping early.
	n := 0
	must(t, s.Fetch("a", func(Session[string, int64]) bool { n++; return false }))
	if n != 1 {
		t.Fatalf("fetch went on after fn returned false: %d calls", n)
	}
	must(t, s.Remove("a", 10, 20))
	if v, ok, err := s.FetchSession("a", 10, 20); err != nil || ok {
		t.Fatalf("removed session reads %v %v %v", v, ok, err)
	}
	if v, ok, err := s.FetchSession("a", 30, 30); err != nil || !ok || v != 3 {
		t.Fatalf("session a[30,30] = %v %v %v", v, ok, err)
	}
	if err := s.Put("a", 9, 8, 1); err == nil {
		t.Fatal("a session ending before it starts was stored")
	}
}

func TestSessionRetentionExpiresByObservedStreamTime(t *testing.T) {
	inner := NewMemoryStore("s")
	s := NewTypedSessionStore(inner, "t", serde.String, serde.Int64, 100, nil)
	must(t, s.Put("a", 0, 10, 1))
	must(t, s.Put("a", 40, 50, 2))
	must(t, s.Put("b", 105, 110, 3)) // stream time 110: live sessions end at 10 or later
	if got := sessions(t, func(fn func(Session[string, int64]) bool) error { return s.Fetch("a", fn) }); got != "a[0,10]=1 a[40,50]=2" {
		t.Fatalf("after stream time 110, a = %q; a[0,10] ends at the horizon and is live", got)
	}
	must(t, s.Put("b", 111, 111, 3)) // horizon 11
	if got := sessions(t, func(fn func(Session[string, int64]) bool) error { return s.Fetch("a", fn) }); got != "a[40,50]=2" {
		t.Fatalf("after stream time 111, a = %q; a[0,10] is expired", got)
	}
	if _, ok, _ := s.FetchSession("a", 0, 10); ok {
		t.Fatal("an expired session is still fetched")
	}
	// The first expiry scan ran at horizon 10, the next is due at 60: the
	// expired sessions are hidden but not deleted yet.
	must(t, s.Put("b", 140, 140, 4))
	must(t, s.Put("b", 155, 155, 5)) // horizon 55: a[40,50] expired
	if got := sessions(t, func(fn func(Session[string, int64]) bool) error { return s.Fetch("a", fn) }); got != "" {
		t.Fatalf("after stream time 155, a = %q", got)
	}
	for _, w := range [][2]int64{{0, 10}, {40, 50}} {
		if v, _ := inner.Get(SessionKeyBytes([]byte("a"), w[0], w[1])); v == nil {
			t.Fatalf("a%v deleted before the expiry scan was due", w)
		}
	}
	must(t, s.Put("b", 160, 160, 6)) // horizon 60: scan due
	for _, w := range [][2]int64{{0, 10}, {40, 50}} {
		if v, _ := inner.Get(SessionKeyBytes([]byte("a"), w[0], w[1])); v != nil {
			t.Fatalf("a%v is still in the byte store after the expiry scan", w)
		}
	}
	if n, _ := inner.ApproximateNumEntries(); n != 5 {
		t.Fatalf("byte store holds %d sessions, want b's 5", n)
	}
	// A put of an expired session is dropped, as in Kafka.
	must(t, s.Put("c", 20, 30, 9))
	if n, _ := inner.ApproximateNumEntries(); n != 5 {
		t.Fatalf("an expired session was stored: %d entries", n)
	}
	if st, _ := s.ObservedStreamTime(); st != 160 {
		t.Fatalf("observed stream time = %d, want 160", st)
	}
}

func TestSessionStoreFindsStreamTimeOfWhatItHolds(t *testing.T) {
	// A store reopened (or restored straight into its byte store) learns
	// its stream time from the sessions it holds and drops the expired.
	inner := NewMemoryStore("s")
	first := NewTypedSessionStore(inner, "t", serde.String, serde.Int64, 100, nil)
	must(t, first.Put("a", 0, 0, 1))
	must(t, first.Put("a", 50, 60, 2))
	must(t, first.Put("b", 500, 500, 3))
	// first has expired a's sessions already; put them back as a restore
	// would, under a store that has not seen them.
	must(t, inner.PutAll([]KeyValue{{Key: SessionKeyBytes([]byte("a"), 0, 0), Value: WithTimestamp(binary.BigEndian.AppendUint64(nil, 1), 0)}}))
	again := NewTypedSessionStore(inner, "t", serde.String, serde.Int64, 100, nil)
	if st, err := again.ObservedStreamTime(); err != nil || st != 500 {
		t.Fatalf("observed stream time = %d, %v; want 500", st, err)
	}
	if n, _ := inner.ApproximateNumEntries(); n != 1 {
		t.Fatalf("reopened store holds %d sessions, want only b's", n)
	}
}

func TestSessionStoreChangelogAndRestore(t *testing.T) {
	log := &logRecorder{}
	cache := NewCache(1 << 20)
	inner := NewMemoryStore("sessions")
	cs := NewCachingStore(NewLoggedStore(inner, log), cache, nil)
	ts := int64(0)
	s := NewTypedSessionStore(cs, "app-sessions-changelog", serde.String, serde.String, 1000, func() int64 { return ts })
	ts = 7
	must(t, s.Put("k", 1, 7, "x"))
	must(t, s.Put("k", 20, 20, "y"))
	// Reads see the cache before it is flushed.
	if got := sessions(t, func(fn func(Session[string, string]) bool) error { return s.Fetch("k", fn) }); got != "k[1,7]=x k[20,20]=y" {
		t.Fatalf("fetch through the cache = %q", got)
	}
	must(t, s.Remove("k", 20, 20))
	ts = 30
	must(t, s.Put("k", 1, 30, "xz"))
	must(t, s.Remove("k", 1, 7))
	must(t, s.Flush())
	want := []string{
		"sessions " + string(SessionKeyBytes([]byte("k"), 1, 7)) + "=null@0",
		"sessions " + string(SessionKeyBytes([]byte("k"), 20, 20)) + "=null@0",
		"sessions " + string(SessionKeyBytes([]byte("k"), 1, 30)) + "=xz@30",
	}
	if strings.Join(log.lines, "|") != strings.Join(want, "|") {
		t.Fatalf("changelog = %q, want %q", log.lines, want)
	}
	// Restore as the runtime does: each changelog record into a fresh
	// byte store, the record timestamp in front of the value.
	restored := NewMemoryStore("sessions")
	for _, l := range log.lines {
		rest := strings.TrimPrefix(l, "sessions ")
		i := strings.LastIndex(rest, "=")
		key, val := rest[:i], rest[i+1:]
		var v []byte
		if !strings.HasPrefix(val, "null@") {
			var ts int64
			at := strings.LastIndex(val, "@")
			fmt.Sscan(val[at+1:], &ts)
			v = WithTimestamp([]byte(val[:at]), ts)
		}
		must(t, restored.PutAll([]KeyValue{{Key: []byte(key), Value: v}}))
	}
	r := NewTypedSessionStore(restored, "app-sessions-changelog", serde.String, serde.String, 1000, nil)
	if got := sessions(t, func(fn func(Session[string, string]) bool) error { return r.Fetch("k", fn) }); got != "k[1,30]=xz" {
		t.Fatalf("restored = %q", got)
	}
}

func TestSessionStoreBuilderChangelogConfig(t *testing.T) {
	b := NewSessionStoreBuilder[string, int64](InMemory("s"), nil, nil, 5000)
	cfg := b.LogConfig()
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != "86405000" {
		t.Fatalf("changelog config = %v", cfg)
	}
	b.WithLogging(true, map[string]string{"retention.ms": "1", "segment.ms": "2"})
	cfg = b.LogConfig()
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != "1" || cfg["segment.ms"] != "2" {
		t.Fatalf("changelog config with overrides = %v", cfg)
	}
	if cfg := NewSessionStoreBuilder[string, int64](InMemory("s"), nil, nil, math.MaxInt64).LogConfig(); cfg["retention.ms"] != fmt.Sprint(int64(math.MaxInt64)) {
		t.Fatalf("an unbounded retention overflowed: %v", cfg)
	}
	st := b.Wrap(NewMemoryStore("s"), "t", nil)
	if _, err := AsSession[string, int64](st); err != nil {
		t.Fatal(err)
	}
	if _, err := AsSession[string, string](st); err == nil {
		t.Fatal("a session store of int64 values was taken as one of strings")
	}
	if _, err := AsKeyValue[string, int64](st); err == nil {
		t.Fatal("a session store was taken as a key-value store")
	}
}
