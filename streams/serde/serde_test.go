package serde

import (
	"bytes"
	"testing"
)

func roundTrip[T comparable](t *testing.T, s Serde[T], v T, want []byte) {
	t.Helper()
	b, err := s.Serialize("t", v)
	if err != nil {
		t.Fatalf("serialize %v: %v", v, err)
	}
	if want != nil && !bytes.Equal(b, want) {
		t.Fatalf("serialize %v = %x, want %x", v, b, want)
	}
	got, err := s.Deserialize("t", b)
	if err != nil {
		t.Fatalf("deserialize %x: %v", b, err)
	}
	if got != v {
		t.Fatalf("round trip of %v gave %v", v, got)
	}
}

func TestKafkaEncodings(t *testing.T) {
	roundTrip(t, String, "héllo", []byte("héllo"))
	roundTrip(t, Int64, -2, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe})
	roundTrip(t, Int32, 258, []byte{0, 0, 1, 2})
	roundTrip(t, Int, 7, []byte{0, 0, 0, 0, 0, 0, 0, 7})
	roundTrip(t, Float64, 1.5, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0})
	type point struct{ X, Y int }
	roundTrip(t, JSON[point](), point{1, 2}, []byte(`{"X":1,"Y":2}`))
	b, _ := Bytes.Serialize("t", []byte{1, 2})
	if !bytes.Equal(b, []byte{1, 2}) {
		t.Fatalf("bytes serde changed its input: %x", b)
	}
}

func TestWrongLengthIsAnError(t *testing.T) {
	if _, err := Int64.Deserialize("t", []byte{1, 2, 3}); err == nil {
		t.Fatal("3 bytes read as an int64")
	}
	if _, err := Int32.Deserialize("t", []byte{1}); err == nil {
		t.Fatal("1 byte read as an int32")
	}
	if _, err := JSON[map[string]int]().Deserialize("t", []byte("{")); err == nil {
		t.Fatal("broken JSON read")
	}
}

func TestDefaultByType(t *testing.T) {
	if _, ok := Default[string]().(stringSerde); !ok {
		t.Fatal("string default is not String")
	}
	if _, ok := Default[int64]().(int64Serde); !ok {
		t.Fatal("int64 default is not Int64")
	}
	type word string
	roundTrip(t, Default[word](), word("x"), []byte(`"x"`))
}
