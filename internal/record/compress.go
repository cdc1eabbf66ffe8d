package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression follows what Kafka's clients put on the wire for magic v2:
//
//   - gzip: a gzip stream (RFC 1952), possibly several members;
//   - snappy: Java clients write xerial framing (an 8-byte magic, two int32
//     version fields, then [int32 length][snappy block] chunks of 32 KiB input);
//     librdkafka and Go clients may write one raw snappy block. Both are read;
//     xerial is written, so Java consumers of any age can read it;
//   - lz4: the standard LZ4 frame format;
//   - zstd: a zstd frame.
//
// Encoders and decoders are pooled: a zstd encoder costs far more to build
// than a small batch costs to compress.

// DefaultMaxDecompressedBytes bounds what Decompress inflates a payload to, so
// that a small batch crafted to expand enormously (a decompression bomb)
// cannot make the broker allocate gigabytes. Kafka streams records instead of
// inflating whole batches; a producer's batch rarely decompresses past a few
// MiB, so 64 MiB leaves ample room.
const DefaultMaxDecompressedBytes = 64 << 20

// ErrDecompressedTooLarge means a payload inflates past the decompression limit.
var ErrDecompressedTooLarge = errors.New("decompressed records exceed the size limit")

// ErrUnknownCodec means the attributes name a codec Kafka does not define (5-7).
var ErrUnknownCodec = errors.New("unknown compression codec")

// xerialMagic opens a xerial-framed snappy stream; xerialHeaderLen adds the
// version and minimum compatible version, both int32 1.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderLen = 16
	xerialBlockSize = 32 << 10
)

// Decompress appends to dst the decompressed form of src, compressed with c,
// inflating at most DefaultMaxDecompressedBytes.
func Decompress(c Codec, src []byte, dst []byte) ([]byte, error) {
	return DecompressLimit(c, src, dst, DefaultMaxDecompressedBytes)
}

// DecompressLimit is Decompress with a limit on the bytes appended to dst
// (limit <= 0 means DefaultMaxDecompressedBytes). Past the limit it returns
// an error wrapping ErrDecompressedTooLarge, having allocated little more
// than the limit.
func DecompressLimit(c Codec, src []byte, dst []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxDecompressedBytes
	}
	var err error
	switch c {
	case CodecNone:
		if len(src) > limit {
			return dst, fmt.Errorf("%d bytes: %w (%d)", len(src), ErrDecompressedTooLarge, limit)
		}
		return append(dst, src...), nil
	case CodecGzip:
		dst, err = gunzip(src, dst, limit)
	case CodecSnappy:
		dst, err = unsnappy(src, dst, limit)
	case CodecLZ4:
		dst, err = unlz4(src, dst, limit)
	case CodecZstd:
		dst, err = unzstd(src, dst, limit)
	default:
		return dst, fmt.Errorf("%w %d", ErrUnknownCodec, int8(c))
	}
	if err != nil {
		if errors.Is(err, ErrDecompressedTooLarge) {
			return dst, fmt.Errorf("%s: %w (%d bytes)", c, ErrDecompressedTooLarge, limit)
		}
		return dst, fmt.Errorf("decompress %s: %w", c, err)
	}
	return dst, nil
}

// readLimited appends everything r yields to dst, failing once more than
// limit bytes have come. sizeHint guesses the output size for the first
// allocation.
func readLimited(r io.Reader, dst []byte, limit, sizeHint int) ([]byte, error) {
	start := len(dst)
	if sizeHint > limit+1 {
		sizeHint = limit + 1
	}
	dst = slices.Grow(dst, sizeHint)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)] // let append pick the growth
		}
		end := cap(dst)
		if end > start+limit+1 {
			end = start + limit + 1
		}
		n, err := r.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], ErrDecompressedTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst[:start], err
		}
	}
}

// gzip

type gzipDecoder struct {
	src bytes.Reader
	r   gzip.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func gunzip(src, dst []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer gzipDecoders.Put(d)
	d.src.Reset(src)
	if err := d.r.Reset(&d.src); err != nil {
		return dst, err
	}
	return readLimited(&d.r, dst, limit, 4*len(src))
}

// snappy

func unsnappy(src, dst []byte, limit int) ([]byte, error) {
	if len(src) < xerialHeaderLen || !bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
		return snappyBlock(src, dst, limit)
	}
	start := len(dst)
	for p := xerialHeaderLen; p < len(src); {
		if len(src)-p < 4 {
			return dst[:start], errors.New("xerial snappy: truncated chunk length")
		}
		n := int(binary.BigEndian.Uint32(src[p:]))
		p += 4
		if n < 0 || n > len(src)-p {
			return dst[:start], fmt.Errorf("xerial snappy: chunk of %d bytes, %d remain", n, len(src)-p)
		}
		var err error
		if dst, err = snappyBlock(src[p:p+n], dst, limit-(len(dst)-start)); err != nil {
			return dst[:start], err
		}
		p += n
	}
	return dst, nil
}

// snappyBlock appends one raw snappy block. It uses the strict decoder: the
// s2 extensions the fast one accepts are not snappy, and a Java consumer
// could not read a batch that relies on them.
func snappyBlock(src, dst []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit {
		return dst, ErrDecompressedTooLarge
	}
	start := len(dst)
	dst = grow(dst, n)
	out, err := snappy.DecodeStrict(dst[start:start+n], src)
	if err != nil {
		return dst[:start], err
	}
	if len(out) != n {
		return dst[:start], errors.New("snappy: decoded length differs from the declared one")
	}
	return dst[:start+n], nil
}

// grow returns dst with room for n more bytes, length unchanged.
func grow(dst []byte, n int) []byte { return slices.Grow(dst, n) }

// lz4

type lz4Decoder struct {
	src bytes.Reader
	r   *lz4.Reader
}

var lz4Decoders = sync.Pool{New: func() any { return &lz4Decoder{r: lz4.NewReader(nil)} }}

func unlz4(src, dst []byte, limit int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer lz4Decoders.Put(d)
	d.src.Reset(src)
	d.r.Reset(&d.src)
	return readLimited(d.r, dst, limit, 4*len(src))
}

// zstd

// zstdMaxWindow is the largest window a frame may ask for, the default limit
// of the reference library (window log 27) that Kafka's zstd-jni uses.
const zstdMaxWindow = 1 << 27

type zstdDecoder struct {
	d     *zstd.Decoder
	limit int
}

var zstdDecoders = sync.Pool{New: func() any { return new(zstdDecoder) }}

func unzstd(src, dst []byte, limit int) ([]byte, error) {
	z := zstdDecoders.Get().(*zstdDecoder)
	if z.d == nil || z.limit != limit {
		// DecodeAll checks the frame's declared size and the bytes produced
		// against WithDecoderMaxMemory, so the limit bounds its allocation.
		var err error
		if z.d == nil {
			z.d, err = zstd.NewReader(nil,
				zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(zstdMaxWindow),
				zstd.WithDecoderMaxMemory(uint64(limit)))
		} else {
			err = z.d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(limit)))
		}
		if err != nil {
			return dst, fmt.Errorf("zstd decoder: %w", err)
		}
		z.limit = limit
	}
	defer zstdDecoders.Put(z)
	start := len(dst)
	out, err := z.d.DecodeAll(src, dst)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return dst[:start], ErrDecompressedTooLarge
		}
		return dst[:start], err
	}
	if len(out)-start > limit {
		return dst[:start], ErrDecompressedTooLarge
	}
	return out, nil
}

// Compress appends to dst src compressed with c. level 0 means the codec's
// default; otherwise it is Kafka's compression.<codec>.level: gzip 1-9, lz4
// 1-17 (mapped onto the library's 1-9), zstd as zstd levels (mapped onto
// the library's four speeds). snappy has no levels.
func Compress(c Codec, src []byte, dst []byte, level int) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return gzipCompress(src, dst, level)
	case CodecSnappy:
		return xerialCompress(src, dst), nil
	case CodecLZ4:
		return lz4Compress(src, dst, level)
	case CodecZstd:
		return zstdCompress(src, dst, level), nil
	}
	return dst, fmt.Errorf("compress: %w %d", ErrUnknownCodec, int8(c))
}

// appendWriter is an io.Writer appending to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

type gzipEncoder struct {
	out appendWriter
	w   *gzip.Writer
}

// gzipEncoders holds a pool per level, gzip.HuffmanOnly (-2) to 9.
var gzipEncoders [12]sync.Pool

func gzipCompress(src, dst []byte, level int) ([]byte, error) {
	if level == 0 || level < gzip.HuffmanOnly || level > gzip.BestCompression {
		level = gzip.DefaultCompression
	}
	pool := &gzipEncoders[level-gzip.HuffmanOnly]
	e, _ := pool.Get().(*gzipEncoder)
	if e == nil {
		e = new(gzipEncoder)
		w, err := gzip.NewWriterLevel(&e.out, level)
		if err != nil {
			return dst, fmt.Errorf("gzip writer: %w", err)
		}
		e.w = w
	}
	e.out.b = dst
	e.w.Reset(&e.out)
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	out := e.out.b
	e.out.b = nil
	pool.Put(e)
	if err != nil {
		return dst, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

// xerialCompress writes src as the Java client's snappy stream does: the
// xerial header, then each 32 KiB of input as [int32 length][snappy block].
func xerialCompress(src, dst []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // minimum compatible version
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialBlockSize)]
		src = src[len(chunk):]
		at := len(dst)
		dst = grow(dst, 4+snappy.MaxEncodedLen(len(chunk)))
		block := snappy.Encode(dst[at+4:cap(dst)], chunk)
		binary.BigEndian.PutUint32(dst[at:at+4], uint32(len(block)))
		dst = dst[:at+4+len(block)]
	}
	return dst
}

type lz4Encoder struct {
	out appendWriter
	w   *lz4.Writer
}

// lz4Encoders holds a pool per library level: fast, then 1 to 9.
var lz4Encoders [10]sync.Pool

var lz4Levels = [10]lz4.CompressionLevel{lz4.Fast, lz4.Level1, lz4.Level2, lz4.Level3,
	lz4.Level4, lz4.Level5, lz4.Level6, lz4.Level7, lz4.Level8, lz4.Level9}

func lz4Compress(src, dst []byte, level int) ([]byte, error) {
	level = max(0, min(level, 9))
	pool := &lz4Encoders[level]
	e, _ := pool.Get().(*lz4Encoder)
	if e == nil {
		e = &lz4Encoder{w: lz4.NewWriter(nil)}
		// 64 KiB blocks, as Kafka's own writer uses: the reader needs a
		// buffer of the block size, and batches are small.
		if err := e.w.Apply(lz4.BlockSizeOption(lz4.Block64Kb),
			lz4.CompressionLevelOption(lz4Levels[level])); err != nil {
			return dst, fmt.Errorf("lz4 writer: %w", err)
		}
	}
	e.out.b = dst
	e.w.Reset(&e.out)
	_, err := e.w.Write(src)
	if err == nil {
		err = e.w.Close()
	}
	out := e.out.b
	e.out.b = nil
	pool.Put(e)
	if err != nil {
		return dst, fmt.Errorf("lz4: %w", err)
	}
	return out, nil
}

// zstdEncoders holds a pool per library speed (1 to 4).
var zstdEncoders [5]sync.Pool

func zstdCompress(src, dst []byte, level int) []byte {
	speed := zstd.SpeedDefault
	if level != 0 {
		speed = zstd.EncoderLevelFromZstd(level)
	}
	pool := &zstdEncoders[speed]
	e, _ := pool.Get().(*zstd.Encoder)
	if e == nil {
		// The options are valid constants, so NewWriter cannot fail.
		e, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(speed))
	}
	dst = e.EncodeAll(src, dst)
	pool.Put(e)
	return dst
}
