package record

import (
	"testing"
)

// benchBatch is a 16 KiB batch of 1 KiB records (15 of them, with the
// batch and record overheads) compressed with c. It returns the batch and
// the size of the same batch uncompressed, which the benchmarks report
// throughput against, so that codecs compare on the same logical bytes.
func benchBatch(b *testing.B, c Codec) ([]byte, int) {
	b.Helper()
	plain := buildBatch(b, CodecNone, 15, 1024)
	batch := buildBatch(b, c, 15, 1024)
	return batch, len(plain)
}

func BenchmarkValidate(b *testing.B) {
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) {
			batch, plain := benchBatch(b, c)
			cfg := DefaultValidateConfig(testNow)
			b.SetBytes(int64(plain))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(batch, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(batch)), "batch-bytes")
		})
	}
}

// BenchmarkPrepareRecompress measures the rewrite Kafka does when a topic's
// compression.type is not the producer's codec.
func BenchmarkPrepareRecompress(b *testing.B) {
	cases := []struct {
		from Codec
		to   TargetCodec
	}{
		{CodecNone, TargetZstd},
		{CodecNone, TargetLZ4},
		{CodecSnappy, TargetZstd},
		{CodecZstd, TargetUncompressed},
	}
	for _, tc := range cases {
		b.Run(tc.from.String()+"->"+tc.to.String(), func(b *testing.B) {
			batch, plain := benchBatch(b, tc.from)
			cfg := DefaultValidateConfig(testNow)
			cfg.TargetCodec = tc.to
			b.SetBytes(int64(plain))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Prepare(batch, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIterate(b *testing.B) {
	for _, c := range []Codec{CodecNone, CodecZstd} {
		b.Run(c.String(), func(b *testing.B) {
			batch, plain := benchBatch(b, c)
			b.SetBytes(int64(plain))
			b.ReportAllocs()
			for b.Loop() {
				if err := Iterate(batch, func(*Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompress(b *testing.B) {
	_, plain := benchBatch(b, CodecNone)
	src := buildBatch(b, CodecNone, 15, 1024)[HeaderSize:]
	for _, c := range allCodecs[1:] {
		b.Run(c.String(), func(b *testing.B) {
			var dst []byte
			b.SetBytes(int64(plain))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = Compress(c, src, dst[:0], 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
