package storage

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/internal/storage/vfs"
)

// Names of the files the storage engine keeps, as Kafka names them.
const (
	// Per log directory.
	RecoveryPointCheckpointFile = "recovery-point-offset-checkpoint"
	LogStartCheckpointFile      = "log-start-offset-checkpoint"
	HighWatermarkCheckpointFile = "replication-offset-checkpoint"
	CleanShutdownFile           = ".kafka_cleanshutdown"

	// Per partition directory.
	LeaderEpochCheckpointFile = "leader-epoch-checkpoint"
	PartitionMetadataFile     = "partition.metadata"

	checkpointVersion = 0
	tmpSuffix         = ".tmp"
)

// maxCheckpointBytes bounds what a checkpoint reader accepts, so a corrupt
// file cannot make it allocate without limit.
const maxCheckpointBytes = 256 << 20

// writeFileAtomic replaces name with data durably: it writes name.tmp,
// fsyncs it, renames it over name and fsyncs the directory, so that a crash
// leaves either the old file or the new one, never a torn one.
func writeFileAtomic(fsys vfs.FS, name string, data []byte) error {
	tmp := name + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, name); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(filepath.Dir(name)); err != nil {
		return fmt.Errorf("sync directory of %s: %w", name, err)
	}
	return nil
}

// readSmallFile reads a whole file of bounded size. A missing file yields
// fs.ErrNotExist (wrapped).
func readSmallFile(fsys vfs.FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCheckpointBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxCheckpointBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, maxCheckpointBytes)
	}
	return b, nil
}

// encodeOffsetCheckpoint renders Kafka's offset checkpoint text format:
// a version line (0), a count line, then one "topic partition offset" line
// per partition, sorted for stable output.
func encodeOffsetCheckpoint(offsets map[TopicPartition]int64) []byte {
	tps := make([]TopicPartition, 0, len(offsets))
	for tp := range offsets {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, offsets[tp])
	}
	return b.Bytes()
}

// parseCheckpointLines checks the version and count lines common to Kafka's
// checkpoint files and returns the entry lines.
func parseCheckpointLines(data []byte) ([]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) < 2 {
		return nil, errors.New("missing version or count line")
	}
	v, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || v != checkpointVersion {
		return nil, fmt.Errorf("unsupported checkpoint version %q", lines[0])
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[1]))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("bad entry count %q", lines[1])
	}
	entries := lines[2:]
	// Tolerate a trailing empty line, nothing else.
	for len(entries) > 0 && strings.TrimSpace(entries[len(entries)-1]) == "" {
		entries = entries[:len(entries)-1]
	}
	if len(entries) != n {
		return nil, fmt.Errorf("expected %d entries, found %d", n, len(entries))
	}
	return entries, nil
}

// decodeOffsetCheckpoint parses Kafka's offset checkpoint text format.
func decodeOffsetCheckpoint(data []byte) (map[TopicPartition]int64, error) {
	lines, err := parseCheckpointLines(data)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(lines))
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("malformed entry %q", line)
		}
		p, err := strconv.ParseInt(f[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("malformed partition in %q", line)
		}
		off, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed offset in %q", line)
		}
		out[TopicPartition{Topic: f[0], Partition: int32(p)}] = off
	}
	return out, nil
}

// readOffsetCheckpoint reads one of a log directory's checkpoint files. A
// missing file is an empty checkpoint; a malformed one is reported.
func readOffsetCheckpoint(fsys vfs.FS, name string) (map[TopicPartition]int64, error) {
	data, err := readSmallFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return map[TopicPartition]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeOffsetCheckpoint(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return m, nil
}

// encodeEpochCheckpoint renders leader-epoch-checkpoint: version, count,
// then "epoch startOffset" lines.
func encodeEpochCheckpoint(entries []EpochEntry) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(entries))
	for _, e := range entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

func decodeEpochCheckpoint(data []byte) ([]EpochEntry, error) {
	lines, err := parseCheckpointLines(data)
	if err != nil {
		return nil, err
	}
	out := make([]EpochEntry, 0, len(lines))
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("malformed entry %q", line)
		}
		e, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("malformed epoch in %q", line)
		}
		off, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed offset in %q", line)
		}
		if n := len(out); n > 0 && (int32(e) <= out[n-1].Epoch || off < out[n-1].StartOffset) {
			return nil, fmt.Errorf("entries out of order at %q", line)
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: off})
	}
	return out, nil
}

// encodePartitionMetadata renders Kafka's partition.metadata: the topic ID
// as Kafka prints a Uuid (URL-safe base64 without padding).
func encodePartitionMetadata(topicID [16]byte) []byte {
	return fmt.Appendf(nil, "version: 0\ntopic_id: %s\n", base64.RawURLEncoding.EncodeToString(topicID[:]))
}

func decodePartitionMetadata(data []byte) ([16]byte, error) {
	var id [16]byte
	var version, topic string
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "version":
			version = strings.TrimSpace(v)
		case "topic_id":
			topic = strings.TrimSpace(v)
		}
	}
	if version != "0" {
		return id, fmt.Errorf("unsupported partition metadata version %q", version)
	}
	raw, err := base64.RawURLEncoding.DecodeString(topic)
	if err != nil || len(raw) != 16 {
		return id, fmt.Errorf("malformed topic id %q", topic)
	}
	copy(id[:], raw)
	return id, nil
}
