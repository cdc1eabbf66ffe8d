package connect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFileSource measures a file source's throughput into a topic:
// lines of 1 KiB (1,023 bytes and a newline), the standalone worker and
// the broker as two processes on this machine. One op is one line, so
// MB/s is the file's bytes per second until the topic holds them all.
//
//	go test -run '^$' -bench FileSource -benchtime 200000x ./test/connect
func BenchmarkFileSource(b *testing.B) {
	for _, conv := range []struct{ name, class string }{
		{"string", "org.apache.kafka.connect.storage.StringConverter"},
		{"json", "org.apache.kafka.connect.json.JsonConverter"},
	} {
		b.Run("converter="+conv.name, func(b *testing.B) {
			dir := b.TempDir()
			in := filepath.Join(dir, "in.txt")
			if err := os.WriteFile(in, nil, 0o644); err != nil {
				b.Fatal(err)
			}
			topic := uniqueName(b, "bench")
			createTopic(b, topic, 4)
			w := newWorker(b, map[string]string{"key.converter": conv.class, "value.converter": conv.class, "offset.flush.interval.ms": "1000"},
				map[string]string{"name": "bench-src", "connector.class": "FileStreamSource", "file": in, "topic": topic})
			w.start(b, "bench-src")

			// Random letters: a line compresses no better than real text.
			var data bytes.Buffer
			rng := rand.New(rand.NewPCG(1, 2))
			line := make([]byte, 1023-8)
			for i := 0; i < b.N; i++ {
				for j := range line {
					line[j] = 'a' + byte(rng.IntN(26))
				}
				data.WriteString(fmt.Sprintf("%08d", i))
				data.Write(line)
				data.WriteByte('\n')
			}
			b.SetBytes(1024)
			b.ResetTimer()
			start := time.Now()
			if err := os.WriteFile(in, data.Bytes(), 0o644); err != nil {
				b.Fatal(err)
			}
			for endOffset(b, topic) < int64(b.N) {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("the topic did not reach %d records within 5 minutes", b.N)
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lines/s")
			w.stop(b)
		})
	}
}
