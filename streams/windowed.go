package streams

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicehq/sluice/streams/serde"
)

// Window is a span of event time in milliseconds since the epoch. Time and
// hopping windows cover [Start, End); sliding windows and session windows
// cover [Start, End], as in Kafka Streams.
type Window struct {
	Start, End int64
}

// String prints the window as Kafka Streams does, for logs and tests.
func (w Window) String() string { return fmt.Sprintf("Window{startMs=%d, endMs=%d}", w.Start, w.End) }

// Windowed is the key of a windowed aggregate: the record key and the window
// it was aggregated in.
type Windowed[K any] struct {
	Key    K
	Window Window
}

// String prints the windowed key as Kafka Streams does.
func (w Windowed[K]) String() string {
	return fmt.Sprintf("[%v@%d/%d]", w.Key, w.Window.Start, w.Window.End)
}

// TimeWindowedSerde encodes a windowed key as Kafka Streams'
// TimeWindowedSerializer does: the inner key's bytes followed by the window
// start as 8 bytes big-endian. The end is not stored, so reading back needs
// the window size (for tumbling and hopping windows, the size; for sliding
// windows, the time difference).
func TimeWindowedSerde[K any](inner serde.Serde[K], size int64) serde.Serde[Windowed[K]] {
	return serde.Funcs(
		func(topic string, w Windowed[K]) ([]byte, error) {
			k, err := inner.Serialize(topic, w.Key)
			if err != nil {
				return nil, err
			}
			return binary.BigEndian.AppendUint64(k, uint64(w.Window.Start)), nil
		},
		func(topic string, b []byte) (Windowed[K], error) {
			if len(b) < 8 {
				return Windowed[K]{}, fmt.Errorf("time-windowed key of %d bytes lacks its 8-byte window start", len(b))
			}
			k, err := inner.Deserialize(topic, b[:len(b)-8])
			if err != nil {
				return Windowed[K]{}, err
			}
			start := int64(binary.BigEndian.Uint64(b[len(b)-8:]))
			end := start + size
			if end < start { // overflow: Kafka caps the end at the largest time
				end = 1<<63 - 1
			}
			return Windowed[K]{Key: k, Window: Window{Start: start, End: end}}, nil
		})
}

// SessionWindowedSerde encodes a session-windowed key as Kafka Streams'
// SessionWindowedSerializer does: the inner key's bytes, then the session's
// end, then its start, each 8 bytes big-endian.
func SessionWindowedSerde[K any](inner serde.Serde[K]) serde.Serde[Windowed[K]] {
	return serde.Funcs(
		func(topic string, w Windowed[K]) ([]byte, error) {
			k, err := inner.Serialize(topic, w.Key)
			if err != nil {
				return nil, err
			}
			k = binary.BigEndian.AppendUint64(k, uint64(w.Window.End))
			return binary.BigEndian.AppendUint64(k, uint64(w.Window.Start)), nil
		},
		func(topic string, b []byte) (Windowed[K], error) {
			if len(b) < 16 {
				return Windowed[K]{}, fmt.Errorf("session-windowed key of %d bytes lacks its 16 bytes of window bounds", len(b))
			}
			n := len(b) - 16
			k, err := inner.Deserialize(topic, b[:n])
			if err != nil {
				return Windowed[K]{}, err
			}
			end := int64(binary.BigEndian.Uint64(b[n:]))
			start := int64(binary.BigEndian.Uint64(b[n+8:]))
			return Windowed[K]{Key: k, Window: Window{Start: start, End: end}}, nil
		})
}
