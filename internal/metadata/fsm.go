package metadata

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// fsm is the raft.FSM: it applies committed entries to the image and publishes each new
// image to readers (an atomic pointer) and subscribers (callbacks, in apply order).
type fsm struct {
	log *slog.Logger
	img atomic.Pointer[Image]
	// applied is the index of the last entry the state machine has seen, accepted or not.
	applied atomic.Uint64
	// appliedMu guards appliedCh, which is closed and replaced each time applied moves.
	appliedMu sync.Mutex
	appliedCh chan struct{}

	// deliverMu orders deliveries: a subscriber sees images in log order, and a new
	// subscriber's first image is exactly the one before its first change.
	deliverMu sync.Mutex
	subsMu    sync.Mutex
	subs      []*subscriber
}

type subscriber struct {
	fn       func(prev, next *Image)
	canceled atomic.Bool
}

// applyResult is what fsm.Apply returns to the proposer through raft's ApplyFuture.
type applyResult struct {
	img *Image // the image right after this entry
	err error  // why the batch was rejected
}

func newFSM(log *slog.Logger) *fsm {
	f := &fsm{log: log, appliedCh: make(chan struct{})}
	f.img.Store(emptyImage())
	return f
}

// setApplied records index as applied and wakes waitApplied.
func (f *fsm) setApplied(index uint64) {
	f.applied.Store(index)
	f.appliedMu.Lock()
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
	f.appliedMu.Unlock()
}

// waitApplied waits until the state machine has applied index.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.appliedMu.Lock()
		ch := f.appliedCh
		f.appliedMu.Unlock()
		if f.applied.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Apply applies one committed log entry. A batch the state machine rejects changes
// nothing; every node rejects it alike, since the checks depend only on the log.
func (f *fsm) Apply(l *raft.Log) any {
	defer f.setApplied(l.Index)
	if l.Type != raft.LogCommand {
		return nil
	}
	recs, err := DecodeBatch(l.Data)
	if err != nil {
		// Only a bug or a newer binary's record can get here: say so loudly.
		f.log.Error("skipping undecodable metadata log entry", "offset", l.Index, "err", err)
		return applyResult{err: fmt.Errorf("metadata log entry %d: %w", l.Index, err)}
	}
	prev := f.img.Load()
	next, err := applyBatch(prev, l.Index, recs)
	if err != nil {
		return applyResult{img: prev, err: err}
	}
	f.publish(prev, next)
	return applyResult{img: next}
}

func (f *fsm) publish(prev, next *Image) {
	f.deliverMu.Lock()
	defer f.deliverMu.Unlock()
	f.img.Store(next)
	f.subsMu.Lock()
	subs := slices.Clone(f.subs)
	f.subsMu.Unlock()
	for _, s := range subs {
		if !s.canceled.Load() {
			s.fn(prev, next)
		}
	}
}

func (f *fsm) subscribe(fn func(prev, next *Image)) (cancel func()) {
	s := &subscriber{fn: fn}
	f.deliverMu.Lock()
	f.subsMu.Lock()
	f.subs = append(f.subs, s)
	f.subsMu.Unlock()
	fn(nil, f.img.Load())
	f.deliverMu.Unlock()
	return func() {
		s.canceled.Store(true)
		f.subsMu.Lock()
		defer f.subsMu.Unlock()
		f.subs = slices.DeleteFunc(f.subs, func(x *subscriber) bool { return x == s })
	}
}

// Snapshot captures the current image. Images are immutable, so holding the pointer is
// the whole capture; Persist encodes it off raft's main loop.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{img: f.img.Load()}, nil
}

// maxSnapshotBytes bounds what Restore reads, so a corrupt size cannot exhaust memory.
const maxSnapshotBytes = 1 << 30

// Restore replaces the image with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("read metadata snapshot: %w", err)
	}
	if len(data) > maxSnapshotBytes {
		return fmt.Errorf("read metadata snapshot: larger than %d bytes", maxSnapshotBytes)
	}
	img, err := decodeSnapshot(data)
	if err != nil {
		return err
	}
	f.publish(f.img.Load(), img)
	f.setApplied(img.Offset)
	return nil
}

func encodeSnapshot(img *Image) ([]byte, error) {
	recs := append([]Record{&SnapshotHeaderRecord{Offset: img.Offset}}, img.records()...)
	b, err := EncodeBatch(recs)
	if err != nil {
		return nil, fmt.Errorf("encode metadata snapshot at offset %d: %w", img.Offset, err)
	}
	return b, nil
}

func decodeSnapshot(data []byte) (*Image, error) {
	recs, err := DecodeBatch(data)
	if err != nil {
		return nil, fmt.Errorf("decode metadata snapshot: %w", err)
	}
	img, err := imageFromSnapshot(recs)
	if err != nil {
		return nil, fmt.Errorf("restore metadata snapshot: %w", err)
	}
	return img, nil
}

type fsmSnapshot struct{ img *Image }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := encodeSnapshot(s.img)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist metadata snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}
