package pebblestore

import (
	"testing"

	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/state/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Conformance(t, func(t *testing.T) state.BytesStore {
		s, err := Open("s", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestContentsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Supplier("counts").Get(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Supplier("counts").Get(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("after reopen k = %q, %v; want v", v, err)
	}
}
