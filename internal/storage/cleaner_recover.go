package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// recoverCleanerFiles settles, in a partition directory being loaded, what
// a clean cut short by a crash left behind, as Kafka's LogLoader does:
//
//   - *.cleaned files are a new segment not yet committed: removed.
//   - <base>.log.swap is a committed one (its data was fsynced before the
//     rename): every other segment whose base lies in its offset range
//     [base, last offset] is one it replaces and is removed, then the swap
//     files take their final names. An index .swap that is missing (the
//     crash kept only part of the renames) leaves no stale index under the
//     final name: the segment's indexes are then rebuilt when first used.
//     A .txnindex.swap is renamed before the .log.swap, so a missing one
//     means the cleaned segment holds no aborted transaction.
//   - index .swap files without their .log.swap belong to a swap that was
//     not committed: removed.
//
// The steps are ordered so that a crash during this recovery leaves
// something the next one settles the same way. *.deleted files are left to
// cleanPartitionDir.
func (m *Manager) recoverCleanerFiles(dir string) error {
	fsys := m.fs
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	var swaps, logs []int64
	var indexSwaps []string
	changed := false
	remove := func(name string) error {
		if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		changed = true
		return nil
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			if err := remove(name); err != nil {
				return err
			}
		case strings.HasSuffix(name, swapSuffix):
			inner := strings.TrimSuffix(name, swapSuffix)
			if b, ok := parseSegmentName(inner, logSuffix); ok {
				swaps = append(swaps, b)
			} else {
				indexSwaps = append(indexSwaps, name)
			}
		case strings.HasSuffix(name, logSuffix):
			if b, ok := parseSegmentName(name, logSuffix); ok {
				logs = append(logs, b)
			}
		}
	}
	for _, name := range indexSwaps {
		inner := strings.TrimSuffix(name, swapSuffix)
		b, ok := parseSegmentName(inner, filepath.Ext(inner))
		if !ok || !slices.Contains(swaps, b) {
			if err := remove(name); err != nil {
				return err
			}
		}
	}
	slices.Sort(swaps)
	for _, base := range swaps {
		swapLog := segmentName(base, logSuffix) + swapSuffix
		last, ok, err := lastOffsetIn(m, filepath.Join(dir, swapLog), base)
		if err != nil {
			return err
		}
		if !ok {
			// Cannot be: a .swap is complete before it is named so. Keep the
			// old segments rather than guess.
			m.logger.Error("cleaner swap file holds no batch; removing it", "dir", dir, "file", swapLog)
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
				if err := remove(segmentName(base, suf) + swapSuffix); err != nil {
					return err
				}
			}
			continue
		}
		m.logger.Warn("completing a cleaner swap interrupted by a crash", "dir", dir, "segment", base, "last_offset", last)
		for _, b := range logs {
			if b < base || b > last {
				continue
			}
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
				if err := remove(segmentName(b, suf)); err != nil {
					return err
				}
			}
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			name := segmentName(base, suf)
			err := fsys.Rename(filepath.Join(dir, name+swapSuffix), filepath.Join(dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				err = remove(name)
			}
			if err != nil {
				return fmt.Errorf("complete swap of %s: %w", name, err)
			}
		}
		if err := fsys.Rename(filepath.Join(dir, swapLog), filepath.Join(dir, segmentName(base, logSuffix))); err != nil {
			return fmt.Errorf("complete swap of %s: %w", swapLog, err)
		}
		changed = true
	}
	if changed {
		if err := fsys.SyncDir(dir); err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
	}
	return nil
}

// lastOffsetIn returns the last offset of the last sound batch of a
// segment file whose base is base.
func lastOffsetIn(m *Manager, name string, base int64) (int64, bool, error) {
	f, err := m.fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("stat %s: %w", name, err)
	}
	sc := newBatchScanner(f, 0, st.Size(), true, 64<<10)
	last, ok := base-1, false
	for sc.next() {
		if sc.h.LastOffset() > last {
			last, ok = sc.h.LastOffset(), true
		}
	}
	if sc.err != nil && !errors.Is(sc.err, errBadBatch) {
		return 0, false, fmt.Errorf("scan %s: %w", name, sc.err)
	}
	return last, ok, nil
}
