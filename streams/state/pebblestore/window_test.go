package pebblestore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/streams/serde"
	"github.com/sluicehq/sluice/streams/state"
)

// TestWindowStoreOnPebble runs a typed window store over pebble: range
// fetches of one key in time order, and the contents after reopening.
func TestWindowStoreOnPebble(t *testing.T) {
	dir := t.TempDir()
	b := state.NewWindowStoreBuilder[string, int64](Supplier("w"), 1000, 10, serde.String, serde.Int64)
	open := func() *state.TypedWindowStore[string, int64] {
		bs, err := b.Supplier().Get(dir)
		if err != nil {
			t.Fatal(err)
		}
		return b.Wrap(bs, "w-changelog", nil).(*state.TypedWindowStore[string, int64])
	}
	s := open()
	for _, e := range []struct {
		k     string
		start int64
	}{{"a", 300}, {"ab", 100}, {"a", 100}, {"b", 200}, {"a", 200}} {
		if err := s.Put(e.k, e.start, e.start); err != nil {
			t.Fatal(err)
		}
	}
	list := func(s *state.TypedWindowStore[string, int64]) string {
		var out []string
		if err := s.Fetch("a", 100, 250, func(start, v int64) bool {
			out = append(out, fmt.Sprint(start, "=", v))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " ")
	}
	if got := list(s); got != "100=100 200=200" {
		t.Errorf("fetch a [100,250] = %q", got)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	if got := list(s); got != "100=100 200=200" {
		t.Errorf("after reopening, fetch a [100,250] = %q", got)
	}
}
