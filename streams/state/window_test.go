package state_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
)

func TestWindowKeyLayout(t *testing.T) {
	k := state.WindowKey([]byte("ab"), 0x0102030405060708, 9)
	want := []byte{'a', 'b', 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9}
	if !bytes.Equal(k, want) {
		t.Fatalf("key %x, want %x", k, want)
	}
	key, start, seq, err := state.SplitWindowKey(k)
	if err != nil || string(key) != "ab" || start != 0x0102030405060708 || seq != 9 {
		t.Fatalf("split = %q %x %d %v", key, start, seq, err)
	}
	if _, _, _, err := state.SplitWindowKey([]byte("short")); err == nil {
		t.Fatal("a key without its suffix split")
	}
}

// windowStore opens a typed window store of windows of 10ms kept for
// retention ms over a memory store, optionally logged into log.
func windowStore(t *testing.T, retention int64, duplicates bool, log *changes) *state.TypedWindowStore[string, string] {
	t.Helper()
	b := state.NewWindowStoreBuilder[string, string](state.InMemory("w"), retention, 10, serde.String, serde.String).
		WithRetainDuplicates(duplicates)
	inner, err := b.Supplier().Get("")
	if err != nil {
		t.Fatal(err)
	}
	var stack state.BytesStore = inner
	if log != nil {
		stack = state.NewLoggedStore(stack, log)
	}
	return b.Wrap(stack, "w-changelog", func() int64 { return 42 }).(*state.TypedWindowStore[string, string])
}

type changes struct{ kvs []state.KeyValue }

func (c *changes) LogChange(_ string, key, value []byte, ts int64) error {
	c.kvs = append(c.kvs, state.KeyValue{Key: key, Value: state.WithTimestamp(value, ts)})
	return nil
}

func fetch(t *testing.T, s state.ReadOnlyWindowStore[string, string], k string, from, to int64) string {
	t.Helper()
	var out []string
	if err := s.Fetch(k, from, to, func(start int64, v string) bool {
		out = append(out, fmt.Sprintf("%d=%s", start, v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func TestWindowStoreFetchRangesOneKeyInTimeOrder(t *testing.T) {
	s := windowStore(t, 1000, false, nil)
	// Keys chosen so that "a"'s range scan passes over "a\x00..." and
	// "ab" entries, which must not count as "a".
	for _, e := range []struct {
		k     string
		start int64
		v     string
	}{{"a", 30, "a30"}, {"a", 10, "a10"}, {"ab", 20, "ab20"}, {"a", 20, "a20"}, {"a\x00", 20, "x"}, {"b", 10, "b10"}} {
		if err := s.Put(e.k, e.v, e.start); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetch(t, s, "a", 0, 100); got != "10=a10 20=a20 30=a30" {
		t.Errorf("fetch a = %q", got)
	}
	if got := fetch(t, s, "a", 15, 30); got != "20=a20 30=a30" {
		t.Errorf("fetch a [15,30] = %q (bounds inclusive)", got)
	}
	if got := fetch(t, s, "ab", 0, 100); got != "20=ab20" {
		t.Errorf("fetch ab = %q", got)
	}
	v, ts, ok, err := s.GetWithTimestamp("a", 20)
	if err != nil || !ok || v != "a20" || ts != 42 {
		t.Errorf("get a@20 = %q %d %v %v", v, ts, ok, err)
	}
	var all []string
	if err := s.FetchAll(10, 20, func(k string, start int64, v string) bool {
		all = append(all, fmt.Sprintf("%q@%d", k, start))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(all, " "); got != `"a"@10 "b"@10 "a"@20 "a\x00"@20 "ab"@20` {
		t.Errorf("fetch all [10,20] = %s", got)
	}
	if err := s.Delete("a", 20); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, s, "a", 0, 100); got != "10=a10 30=a30" {
		t.Errorf("after delete: %q", got)
	}
}

func TestWindowStoreRetentionAndRestore(t *testing.T) {
	log := &changes{}
	s := windowStore(t, 100, false, log)
	for _, start := range []int64{0, 50, 100} {
		if err := s.Put("k", fmt.Sprint(start), start); err != nil {
			t.Fatal(err)
		}
	}
	// Stream time 100, retention 100: starts after 0 are kept.
	if got := fetch(t, s, "k", 0, 200); got != "50=50 100=100" {
		t.Errorf("fetch = %q", got)
	}
	// A put into an expired window is ignored. (The logging layer above
	// still logs it, as Kafka's does; restoring it drops it again.)
	if err := s.Put("k", "late", 0); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, s, "k", 0, 200); got != "50=50 100=100" {
		t.Errorf("fetch after a put into an expired window = %q", got)
	}

	// Restoring the changelog into a fresh store gives the same windows:
	// the composite keys and timestamped values go back as they were.
	r := windowStore(t, 100, false, nil)
	rs, _ := state.Unwrap[*state.RetentionStore](r.Bytes())
	if err := rs.PutAll(log.kvs); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, r, "k", 0, 200); got != "50=50 100=100" {
		t.Errorf("restored fetch = %q", got)
	}
	if n, _ := rs.Inner().ApproximateNumEntries(); n != 2 {
		t.Errorf("restored store holds %d entries, want 2 (expired ones dropped)", n)
	}
}

func TestWindowStoreRetainsDuplicates(t *testing.T) {
	s := windowStore(t, 1000, true, nil)
	for _, v := range []string{"x", "y", "z"} {
		if err := s.Put("k", v, 10); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetch(t, s, "k", 10, 10); got != "10=x 10=y 10=z" {
		t.Errorf("duplicates = %q", got)
	}
}

func TestWindowBuilderChangelogConfig(t *testing.T) {
	b := state.NewWindowStoreBuilder[string, string](state.InMemory("w"), 60_000, 10, nil, nil).
		WithLogging(true, map[string]string{"min.insync.replicas": "2"})
	cfg := b.LogConfig()
	if cfg["cleanup.policy"] != "compact,delete" || cfg["retention.ms"] != fmt.Sprint(60_000+24*60*60*1000) || cfg["min.insync.replicas"] != "2" {
		t.Errorf("config %v", cfg)
	}
}
