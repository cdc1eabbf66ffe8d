package streams

import (
	"bytes"
	"testing"

	"github.com/sluicehq/sluice/streams/serde"
)

// The windowed serdes write Kafka Streams' byte layouts, so that a Java
// consumer reads Sluice's windowed output: the key, then the start (time
// windows), or the key, then the end, then the start (session windows).
func TestWindowedSerdesMatchKafkaLayout(t *testing.T) {
	w := Windowed[string]{Key: "alice", Window: Window{Start: 0x0102030405060708, End: 0x0102030405060708 + 5000}}

	tw := TimeWindowedSerde(serde.String, 5000)
	b, err := tw.Serialize("t", w)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("alice\x01\x02\x03\x04\x05\x06\x07\x08")
	if !bytes.Equal(b, want) {
		t.Fatalf("time-windowed key = %x, want %x", b, want)
	}
	back, err := tw.Deserialize("t", b)
	if err != nil || back != w {
		t.Fatalf("time-windowed round trip = %v, %v; want %v", back, err, w)
	}

	sw := SessionWindowedSerde(serde.String)
	b, err = sw.Serialize("t", w)
	if err != nil {
		t.Fatal(err)
	}
	want = []byte("alice\x01\x02\x03\x04\x05\x06\x1a\x90\x01\x02\x03\x04\x05\x06\x07\x08")
	if !bytes.Equal(b, want) {
		t.Fatalf("session-windowed key = %x, want %x", b, want)
	}
	back, err = sw.Deserialize("t", b)
	if err != nil || back != w {
		t.Fatalf("session-windowed round trip = %v, %v; want %v", back, err, w)
	}

	if _, err := tw.Deserialize("t", []byte("short")); err == nil {
		t.Error("a time-windowed key shorter than 8 bytes decoded without an error")
	}
	if _, err := sw.Deserialize("t", make([]byte, 15)); err == nil {
		t.Error("a session-windowed key shorter than 16 bytes decoded without an error")
	}
}
