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

// TestAuthenticatedShare: a connection of an Authenticated share reaches its server only
// after its login passed; a failed login closes it, and the server's read fails.
func TestAuthenticatedShare(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := New(ln, nil, RaftPrefix)
	defer d.Close()
	// The login reads one byte: 'y' lets the peer in.
	share := Authenticated(d.Prefixed(RaftPrefix), func(c net.Conn) error {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return err
		}
		if b[0] != 'y' {
			return io.ErrUnexpectedEOF
		}
		return nil
	})

	for _, tc := range []struct {
		send   string
		passes bool
	}{{"yhello", true}, {"nhello", false}} {
		c, err := Dial("tcp", ln.Addr().String(), RaftPrefix, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(tc.send)); err != nil {
			t.Fatal(err)
		}
		sc, err := share.Accept()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 5)
		_, err = io.ReadFull(sc, got)
		if tc.passes && (err != nil || string(got) != "hello") {
			t.Errorf("login passed: server read %q, %v; want hello", got, err)
		}
		if !tc.passes {
			if err == nil {
				t.Errorf("login failed, yet the server read %q", got)
			}
			// The node closed the connection: the peer sees its end.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Error("the refused connection is still open")
			}
		}
		c.Close()
		sc.Close()
	}
}
