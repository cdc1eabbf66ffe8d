package demux

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestSplitsByFirstByte(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := New(ln, nil, RaftPrefix, ControlPrefix)
	defer d.Close()
	addr := ln.Addr().String()

	// A Kafka frame: its first byte is the size's high byte, left in place.
	kc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	frame := []byte{0, 0, 0, 2, 'h', 'i'}
	if _, err := kc.Write(frame); err != nil {
		t.Fatal(err)
	}
	got, err := d.Kafka().Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if _, ok := got.(*net.TCPConn); !ok {
		t.Fatalf("Kafka connection is a %T, want the original *net.TCPConn (sendfile needs it)", got)
	}
	buf := make([]byte, len(frame))
	if _, err := io.ReadFull(got, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != string(frame) {
		t.Fatalf("Kafka connection read %q, want %q", buf, frame)
	}

	for _, p := range []byte{RaftPrefix, ControlPrefix} {
		rc, err := Dial("tcp", addr, p, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := rc.Write([]byte("payload")); err != nil {
			t.Fatal(err)
		}
		c, err := d.Prefixed(p).Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, len("payload"))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != "payload" {
			t.Fatalf("prefix %q: read %q, want the bytes after the prefix", p, buf)
		}
	}
}

func TestCloseEndsAccept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := New(ln, nil, RaftPrefix)
	errs := make(chan error, 2)
	go func() { _, err := d.Kafka().Accept(); errs <- err }()
	go func() { _, err := d.Prefixed(RaftPrefix).Accept(); errs <- err }()
	d.Close()
	for range 2 {
		if err := <-errs; err == nil {
			t.Fatal("Accept after Close returned no error")
		}
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("the shared listener still accepts after Close")
	}
}
