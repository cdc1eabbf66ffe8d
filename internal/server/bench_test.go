package server

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// BenchmarkPipelined measures small requests pipelined on one connection
// (decode, dispatch, encode, coalesced writes).
func BenchmarkPipelined(b *testing.B) {
	m := NewMux()
	m.Register(3, 0, 12, func(_ context.Context, req *Request) *Reply {
		return &Reply{Msg: req.Msg.ResponseKind()}
	})
	ts := startServer(b, m, nil)
	c := dial(b, ts.addr)
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(12)
	id := "bench"
	one := frame(req, 1, &id)
	const batch = 100
	var out []byte
	for range batch {
		out = append(out, one...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		go c.c.Write(out)
		for range batch {
			if _, err := c.readFrame(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFileBody measures a 1 MiB file region sent with sendfile and
// with the copy path.
func BenchmarkFileBody(b *testing.B) {
	path := filepath.Join(b.TempDir(), "segment")
	data := make([]byte, 1<<20)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := vfs.OS().OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"sendfile", "copy"} {
		b.Run(name, func(b *testing.B) {
			var file vfs.File = f
			if name == "copy" {
				file = memFile{data: data}
			}
			m := NewMux()
			m.Register(3, 0, 12, func(_ context.Context, req *Request) *Reply {
				body := &Chunks{}
				body.AppendFile(file, 0, len(data), nil)
				return &Reply{Body: body}
			})
			ts := startServer(b, m, nil)
			c := dial(b, ts.addr)
			req := kmsg.NewPtrMetadataRequest()
			req.SetVersion(1)
			id := "bench"
			one := frame(req, 1, &id)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			var hdr [4]byte
			for range b.N {
				c.write(one)
				if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyN(io.Discard, c.c, int64(binary.BigEndian.Uint32(hdr[:]))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
