package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/record"
)

// scanReadBytes is how much of the log one read of Scan brings in.
const scanReadBytes = 5 << 20

// Scan reads partition p of topic, which this broker must lead, from its log start to
// its log end, calling fn with each batch and its parsed header, in offset order: how
// the coordinators load their internal topics (__consumer_offsets,
// __transaction_state) when they take a partition over.
func (m *Manager) Scan(ctx context.Context, topic string, p int32, fn func(h *record.Header, batch []byte) error) error {
	part, err := m.Partition(topic, p)
	if err != nil {
		return err
	}
	l := part.Log()
	end := l.LogEndOffset()
	off := l.LogStartOffset()
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		rr, err := l.Read(off, scanReadBytes, end, true)
		if err != nil {
			if errors.Is(err, kerr.OffsetOutOfRange) && l.LogStartOffset() > off {
				off = l.LogStartOffset() // retention or compaction moved the start
				continue
			}
			return fmt.Errorf("scan %s-%d at %d: %w", topic, p, off, err)
		}
		data, err := rr.Bytes()
		rr.Release()
		if err != nil {
			return fmt.Errorf("scan %s-%d at %d: %w", topic, p, off, err)
		}
		if len(data) == 0 {
			return fmt.Errorf("scan %s-%d: nothing to read at %d below the log end %d", topic, p, off, end)
		}
		for len(data) > 0 {
			h, err := record.ParseHeader(data)
			if err != nil || h.Size() > len(data) {
				break // a partial batch at the end of the read
			}
			batch := data[:h.Size()]
			data = data[h.Size():]
			if h.LastOffset() < off {
				continue
			}
			off = h.LastOffset() + 1
			if err := fn(&h, batch); err != nil {
				return err
			}
		}
	}
	return nil
}
