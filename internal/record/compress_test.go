package record

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

func payloads() map[string][]byte {
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"empty":         {},
		"one byte":      {42},
		"text":          textValue(rng, 5000),
		"text 100 KiB":  textValue(rng, 100<<10),
		"random 200KiB": random,
		"zeros 1 MiB":   make([]byte, 1<<20),
	}
}

func TestCompressRoundTrip(t *testing.T) {
	for name, in := range payloads() {
		for _, c := range allCodecs {
			for _, level := range []int{0, 1, 9} {
				prefix := []byte("prefix")
				comp, err := Compress(c, in, append([]byte(nil), prefix...), level)
				if err != nil {
					t.Fatalf("%s %s level %d: compress: %v", name, c, level, err)
				}
				if !bytes.HasPrefix(comp, prefix) {
					t.Fatalf("%s %s: Compress did not append", name, c)
				}
				out, err := Decompress(c, comp[len(prefix):], []byte("dst"))
				if err != nil {
					t.Fatalf("%s %s level %d: decompress: %v", name, c, level, err)
				}
				if !bytes.Equal(out[3:], in) || string(out[:3]) != "dst" {
					t.Fatalf("%s %s level %d: round trip differs", name, c, level)
				}
			}
		}
	}
}

// TestDecompressForeign decodes what other implementations produce, as
// clients would send it.
func TestDecompressForeign(t *testing.T) {
	in := textValue(rand.New(rand.NewPCG(3, 3)), 150<<10) // several xerial chunks
	foreign := map[string]struct {
		c    Codec
		data []byte
	}{}

	var gz bytes.Buffer
	w := stdgzip.NewWriter(&gz)
	w.Write(in[:1000])
	w.Close()
	w = stdgzip.NewWriter(&gz) // a second member: readers must carry on
	w.Write(in[1000:])
	w.Close()
	foreign["stdlib gzip, two members"] = struct {
		c    Codec
		data []byte
	}{CodecGzip, gz.Bytes()}

	foreign["raw snappy block"] = struct {
		c    Codec
		data []byte
	}{CodecSnappy, snappy.Encode(nil, in)}
	foreign["xerial framing by another encoder"] = struct {
		c    Codec
		data []byte
	}{CodecSnappy, xerial.Encode(nil, in)}

	var lz bytes.Buffer
	lw := lz4.NewWriter(&lz) // the library's defaults: 4 MiB blocks, content checksum
	lw.Write(in)
	lw.Close()
	foreign["lz4 frame, default options"] = struct {
		c    Codec
		data []byte
	}{CodecLZ4, lz.Bytes()}

	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs, zstd.WithEncoderLevel(zstd.SpeedBestCompression)) // streamed: no content size
	zw.Write(in)
	zw.Close()
	foreign["zstd stream"] = struct {
		c    Codec
		data []byte
	}{CodecZstd, zs.Bytes()}

	for name, f := range foreign {
		out, err := Decompress(f.c, f.data, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(out, in) {
			t.Errorf("%s: decoded bytes differ", name)
		}
	}

	// And the other way: our output read by independent decoders.
	comp, _ := Compress(CodecGzip, in, nil, 0)
	r, err := stdgzip.NewReader(bytes.NewReader(comp))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, in) {
		t.Errorf("stdlib gunzip of our gzip: %v", err)
	}
	comp, _ = Compress(CodecSnappy, in, nil, 0)
	if got, err := xerial.Decode(comp); err != nil || !bytes.Equal(got, in) {
		t.Errorf("xerial decoder on our snappy: %v", err)
	}
	comp, _ = Compress(CodecLZ4, in, nil, 0)
	if got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(comp))); err != nil || !bytes.Equal(got, in) {
		t.Errorf("lz4 reader on our lz4: %v", err)
	}
}

// TestXerialLayout checks the framing byte for byte, as Java's
// SnappyInputStream expects it.
func TestXerialLayout(t *testing.T) {
	in := bytes.Repeat([]byte("abcdefgh"), 10<<10) // 80 KiB: chunks of 32, 32 and 16 KiB
	out, err := Compress(CodecSnappy, in, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	if !bytes.Equal(out[:16], wantHeader) {
		t.Fatalf("header % x", out[:16])
	}
	var sizes []int
	for p := 16; p < len(out); {
		n := int(binary.BigEndian.Uint32(out[p:]))
		block := out[p+4 : p+4+n]
		dl, err := snappy.DecodedLen(block)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, dl)
		p += 4 + n
	}
	if len(sizes) != 3 || sizes[0] != 32<<10 || sizes[1] != 32<<10 || sizes[2] != 16<<10 {
		t.Errorf("chunk sizes %v", sizes)
	}
	// An empty payload is the header alone, which decodes to nothing.
	out, _ = Compress(CodecSnappy, nil, nil, 0)
	if got, err := Decompress(CodecSnappy, out, nil); err != nil || len(got) != 0 || len(out) != 16 {
		t.Errorf("empty xerial: %d bytes, %v", len(out), err)
	}
}

func TestDecompressErrors(t *testing.T) {
	xer, _ := Compress(CodecSnappy, []byte("hello hello hello"), nil, 0)
	// An s2 block: s2 extends the snappy block format (repeat offsets), and
	// for this input uses the extension, which snappy readers refuse.
	s2only := s2.Encode(nil, bytes.Repeat([]byte("abcdefgh12345678"), 100))
	if _, err := s2.Decode(nil, s2only); err != nil {
		t.Fatalf("s2 cannot read its own block: %v", err)
	}
	hugeDeclared := binary.AppendUvarint(nil, 1<<31)
	hugeDeclared = append(hugeDeclared, 0)

	tests := []struct {
		name string
		c    Codec
		data []byte
	}{
		{"gzip garbage", CodecGzip, []byte("not gzip at all")},
		{"gzip truncated", CodecGzip, mustCompress(t, CodecGzip, []byte("hello world"))[:12]},
		{"snappy garbage", CodecSnappy, []byte{0xff, 0xff, 0xff}},
		{"snappy s2 extension", CodecSnappy, s2only},
		{"xerial chunk length past the end", CodecSnappy, append(append([]byte(nil), xer[:16]...), 0, 0, 1, 0, 1, 2)},
		{"xerial truncated chunk length", CodecSnappy, append(append([]byte(nil), xer[:16]...), 0, 0)},
		{"xerial chunk garbage", CodecSnappy, append(append([]byte(nil), xer[:16]...), 0, 0, 0, 2, 0xff, 0xff)},
		{"lz4 garbage", CodecLZ4, []byte("not an lz4 frame")},
		{"lz4 truncated", CodecLZ4, mustCompress(t, CodecLZ4, bytes.Repeat([]byte("x"), 1000))[:10]},
		{"zstd garbage", CodecZstd, []byte("not a zstd frame")},
		{"zstd truncated", CodecZstd, mustCompress(t, CodecZstd, textValue(rand.New(rand.NewPCG(1, 1)), 1000))[:20]},
		{"unknown codec", Codec(5), []byte("x")},
	}
	for _, tt := range tests {
		if _, err := Decompress(tt.c, tt.data, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := Decompress(CodecSnappy, hugeDeclared, nil); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Errorf("snappy block declaring 2 GiB: %v", err)
	}
	if _, err := Compress(Codec(6), []byte("x"), nil, 0); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("compress with codec 6: %v", err)
	}
}

func mustCompress(t *testing.T, c Codec, in []byte) []byte {
	t.Helper()
	out, err := Compress(c, in, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecompressionBomb checks that each codec stops at the limit, without
// allocating much more than it.
func TestDecompressionBomb(t *testing.T) {
	const limit = 1 << 20
	zeros := make([]byte, 32<<20)
	for _, c := range allCodecs {
		comp := mustCompress(t, c, zeros)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := DecompressLimit(c, comp, nil, limit)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrDecompressedTooLarge) {
			t.Errorf("%s: %d-byte payload inflating to 32 MiB under a 1 MiB limit: %v", c, len(comp), err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*limit {
			t.Errorf("%s: allocated %d bytes for a 1 MiB limit", c, alloc)
		}
		// Exactly at the limit is fine.
		if out, err := DecompressLimit(c, mustCompress(t, c, zeros[:limit]), nil, limit); err != nil || len(out) != limit {
			t.Errorf("%s: payload of exactly the limit: %d bytes, %v", c, len(out), err)
		}
	}
	// A zstd frame streamed without a content size is bounded too.
	var zs bytes.Buffer
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(zeros)
	zw.Close()
	if _, err := DecompressLimit(CodecZstd, zs.Bytes(), nil, limit); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Errorf("zstd stream without content size: %v", err)
	}
	// Two zstd frames each under the limit, together over it.
	two := mustCompress(t, CodecZstd, zeros[:limit-10])
	two = append(two, two...)
	if _, err := DecompressLimit(CodecZstd, two, nil, limit); !errors.Is(err, ErrDecompressedTooLarge) {
		t.Errorf("two zstd frames: %v", err)
	}
	// Alternating limits reuse pooled zstd decoders correctly.
	small := mustCompress(t, CodecZstd, zeros[:4096])
	for _, l := range []int{100, 1 << 20, 100, 0} {
		_, err := DecompressLimit(CodecZstd, small, nil, l)
		if (l == 100) != errors.Is(err, ErrDecompressedTooLarge) {
			t.Errorf("limit %d: %v", l, err)
		}
	}
}
