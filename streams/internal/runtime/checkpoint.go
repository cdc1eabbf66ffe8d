package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// checkpointFile names the file in a task's directory that records, for
// each changelog partition, the offset up to which the task's persistent
// stores hold the changelog. A restart restores only from there.
const checkpointFile = ".checkpoint"

// readCheckpoint returns the offsets recorded in dir (none: nil, nil).
func readCheckpoint(dir string) (map[string]int64, error) {
	f, err := os.Open(filepath.Join(dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	defer f.Close()
	out := make(map[string]int64)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		topic, off, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			return nil, fmt.Errorf("checkpoint %s: bad line %q", f.Name(), sc.Text())
		}
		n, err := strconv.ParseInt(off, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: bad offset in %q", f.Name(), sc.Text())
		}
		out[topic] = n
	}
	return out, sc.Err()
}

// writeCheckpoint replaces the checkpoint in dir atomically and durably.
func writeCheckpoint(dir string, offsets map[string]int64) error {
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	for _, t := range topics {
		fmt.Fprintf(&b, "%s %d\n", t, offsets[t])
	}
	tmp := filepath.Join(dir, checkpointFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, checkpointFile)); err != nil {
		return fmt.Errorf("install checkpoint: %w", err)
	}
	return nil
}
