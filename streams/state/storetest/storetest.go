// Package storetest checks that a state.BytesStore behaves as the runtime
// expects; each store implementation runs it in its own tests.
package storetest

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/streams/state"
)

// Conformance runs the checks against a fresh store from open.
func Conformance(t *testing.T, open func(t *testing.T) state.BytesStore) {
	t.Run("GetPutDelete", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		if v, err := s.Get([]byte("a")); err != nil || v != nil {
			t.Fatalf("get of an absent key = %q, %v", v, err)
		}
		must(t, s.Put([]byte("a"), []byte("1")))
		must(t, s.Put([]byte("a"), []byte("2")))
		if v, _ := s.Get([]byte("a")); string(v) != "2" {
			t.Fatalf("get a = %q, want 2", v)
		}
		must(t, s.Put([]byte("e"), []byte{}))
		if v, _ := s.Get([]byte("e")); v == nil || len(v) != 0 {
			t.Fatalf("an empty value reads back as %v, want empty and present", v)
		}
		must(t, s.Put([]byte("a"), nil))
		if v, _ := s.Get([]byte("a")); v != nil {
			t.Fatalf("deleted key reads %q", v)
		}
	})
	t.Run("RangeIsOrderedAndInclusive", func(t *testing.T) {
		s := open(t)
		defer s.Close()
		var kvs []state.KeyValue
		for i := 9; i >= 0; i-- {
			kvs = append(kvs, state.KeyValue{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte{byte(i)}})
		}
		must(t, s.PutAll(kvs))
		must(t, s.PutAll([]state.KeyValue{{Key: []byte("k5"), Value: nil}}))
		if got := keys(t, s, []byte("k2"), []byte("k7")); got != "k2 k3 k4 k6 k7" {
			t.Fatalf("range k2..k7 = %q", got)
		}
		if got := keys(t, s, nil, nil); got != "k0 k1 k2 k3 k4 k6 k7 k8 k9" {
			t.Fatalf("all = %q", got)
		}
		n := 0
		must(t, s.Range(nil, nil, func(_, _ []byte) error {
			n++
			if n == 3 {
				return state.ErrStopIteration
			}
			return nil
		}))
		if n != 3 {
			t.Fatalf("stopped range visited %d entries, want 3", n)
		}
		if c, err := s.ApproximateNumEntries(); err != nil || c != 9 {
			t.Fatalf("entries = %d, %v; want 9", c, err)
		}
	})
	t.Run("ClosedStoreRefuses", func(t *testing.T) {
		s := open(t)
		must(t, s.Close())
		if _, err := s.Get([]byte("a")); err == nil {
			t.Fatal("a closed store answered a get")
		}
	})
}

// Keys lists the keys of s in from..to, space separated.
func keys(t *testing.T, s state.BytesStore, from, to []byte) string {
	t.Helper()
	out := ""
	must(t, s.Range(from, to, func(k, _ []byte) error {
		if out != "" {
			out += " "
		}
		out += string(k)
		return nil
	}))
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
