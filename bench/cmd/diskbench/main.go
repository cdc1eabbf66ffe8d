// Command diskbench measures the disk baselines of bench/run.sh in the
// directory the broker's log lives in:
//
//   - sequential write of -total bytes in -chunk writes, buffered (what an
//     append into the page cache costs), and again with fdatasync after
//     every chunk (what durable appends cost at best);
//   - fdatasync latency: -syncs appends of -small bytes, each followed by
//     fdatasync (the floor under a durable produce's latency).
//
// It prints one JSON object.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/internal/perf"
)

type result struct {
	Workload      string       `json:"workload"`
	Dir           string       `json:"dir"`
	Bytes         int64        `json:"bytes"`
	Chunk         int          `json:"chunk"`
	WriteMBPerSec float64      `json:"write_mb_per_sec"`
	SyncMBPerSec  float64      `json:"write_fdatasync_mb_per_sec"`
	FsyncBytes    int          `json:"fsync_append_bytes"`
	Fsync         perf.Latency `json:"fdatasync"`
}

func main() {
	dir := flag.String("dir", os.TempDir(), "directory to write in")
	total := flag.Int64("total", 512<<20, "bytes of each sequential write (0: none)")
	chunk := flag.Int("chunk", 1<<20, "bytes of each write call")
	syncs := flag.Int("syncs", 500, "appends with fdatasync for the latency (0: none)")
	small := flag.Int("small", 1024, "bytes of each latency append")
	flag.Parse()
	res, err := run(*dir, *total, *chunk, *syncs, *small)
	if err != nil {
		fmt.Fprintln(os.Stderr, "diskbench:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(res)
}

func run(dir string, total int64, chunk, syncs, small int) (*result, error) {
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i*7 + i>>8)
	}
	res := &result{Workload: "disk", Dir: dir, Bytes: total, Chunk: chunk, FsyncBytes: small}
	seq := func(sync bool) (float64, error) {
		f, err := os.CreateTemp(dir, "diskbench-*")
		if err != nil {
			return 0, err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		start := time.Now()
		for w := int64(0); w < total; w += int64(chunk) {
			if _, err := f.Write(buf); err != nil {
				return 0, err
			}
			if sync {
				if err := unix.Fdatasync(int(f.Fd())); err != nil {
					return 0, err
				}
			}
		}
		return float64(total) / 1e6 / time.Since(start).Seconds(), nil
	}
	var err error
	if total > 0 {
		if res.WriteMBPerSec, err = seq(false); err != nil {
			return nil, fmt.Errorf("buffered write: %w", err)
		}
		if res.SyncMBPerSec, err = seq(true); err != nil {
			return nil, fmt.Errorf("write with fdatasync: %w", err)
		}
	}
	if syncs <= 0 {
		return res, nil
	}
	f, err := os.Create(filepath.Join(dir, "diskbench-fsync"))
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var h perf.Histogram
	for range syncs {
		if _, err := f.Write(buf[:small]); err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return nil, fmt.Errorf("fdatasync: %w", err)
		}
		h.Record(time.Since(t0))
	}
	res.Fsync = h.Snapshot().Summary()
	return res, nil
}
