package record

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Control batches: the transaction markers a transaction coordinator has
// partition leaders write when a transaction ends. A marker is a batch with
// the transactional and control attributes, the producer's id and epoch,
// no sequence (-1), and one control record:
//
//	key:   version int16 (0), type int16 (0 abort, 1 commit)
//	value: version int16 (0), coordinatorEpoch int32
//
// Readers of read_committed use the markers to know where a producer's
// transaction ends and whether its records count.

// Control record types, as in the key of a control record.
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// ErrNotControl means a batch given to ParseControl is not a transaction
// marker.
var ErrNotControl = errors.New("record: not a transaction marker")

// BuildMarker appends to dst a transaction marker of producer producerID
// at producerEpoch, written by the coordinator at coordinatorEpoch: a
// commit marker when commit is set, else an abort marker, stamped with
// timestampMs (CreateTime). Its base offset and leader epoch are 0, for the
// log to assign.
func BuildMarker(dst []byte, producerID int64, producerEpoch int16, coordinatorEpoch int32, commit bool, timestampMs int64) ([]byte, error) {
	if producerID < 0 {
		return nil, fmt.Errorf("build transaction marker: producer id %d", producerID)
	}
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	var key [4]byte
	binary.BigEndian.PutUint16(key[2:], uint16(typ))
	var value [6]byte
	binary.BigEndian.PutUint32(value[2:], uint32(coordinatorEpoch))
	b := NewBuilder(CodecNone).
		SetProducer(producerID, producerEpoch, NoSequence).
		SetTransactional(true).
		SetControl(true)
	b.Add(timestampMs, key[:], value[:])
	return b.Build(dst)
}

// ParseControl reads a transaction marker: whether it commits, and the
// coordinator epoch it carries. It fails with ErrNotControl for a batch
// without the control attribute, and for a marker whose first record is
// not a well-formed commit or abort.
func ParseControl(batch []byte) (commit bool, coordinatorEpoch int32, err error) {
	h, err := checkFraming(batch)
	if err != nil {
		return false, 0, err
	}
	if !h.Control() {
		return false, 0, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, ErrNotControl)
	}
	seen := false
	err = Iterate(batch, func(r *Record) error {
		if seen {
			return nil // Kafka's markers hold one record; ignore any more
		}
		seen = true
		if len(r.Key) < 4 {
			return fmt.Errorf("control record key of %d bytes: %w", len(r.Key), ErrNotControl)
		}
		if v := int16(binary.BigEndian.Uint16(r.Key)); v < 0 {
			return fmt.Errorf("control record key version %d: %w", v, ErrNotControl)
		}
		switch typ := int16(binary.BigEndian.Uint16(r.Key[2:])); typ {
		case ControlCommit:
			commit = true
		case ControlAbort:
		default:
			return fmt.Errorf("control record type %d is not a transaction marker: %w", typ, ErrNotControl)
		}
		// Later value versions (KIP-890's) add fields after these.
		if len(r.Value) < 6 {
			return fmt.Errorf("transaction marker value of %d bytes: %w", len(r.Value), ErrNotControl)
		}
		if v := int16(binary.BigEndian.Uint16(r.Value)); v < 0 {
			return fmt.Errorf("transaction marker value version %d: %w", v, ErrNotControl)
		}
		coordinatorEpoch = int32(binary.BigEndian.Uint32(r.Value[2:]))
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("parse transaction marker at offset %d: %w", h.BaseOffset, err)
	}
	if !seen {
		return false, 0, fmt.Errorf("control batch at offset %d holds no record: %w", h.BaseOffset, ErrNotControl)
	}
	return commit, coordinatorEpoch, nil
}
