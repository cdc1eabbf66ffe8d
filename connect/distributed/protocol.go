package distributed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// The Connect group protocol, as Kafka Connect's workers speak it: the
// group's protocol type is "connect", and Sluice offers the protocol
// "compatible" (Kafka's incremental cooperative protocol, version 1).
// Member metadata and assignments are encoded as Kafka's protocol structs:
// big-endian integers, strings with an int16 length, byte arrays and
// arrays with an int32 length (-1 for null).
//
//	metadata:   version int16, url string, config_offset int64,
//	            allocation nullable bytes (the member's current assignment,
//	            encoded as below, or null when it runs nothing)
//	assignment: version int16, error int16, leader string, leader_url string,
//	            config_offset int64, assignment [connector assignment],
//	            revoked [connector assignment], delay int32 (ms)
//	connector assignment: connector string, tasks [int32]; task -1 is the
//	            connector itself
const (
	protocolType    = "connect"
	protocolName    = "compatible"
	protocolVersion = 1
	// connectorTask is the task id that stands for the connector instance.
	connectorTask = -1

	errNone           = 0
	errConfigMismatch = 1
)

// item is one unit of work: a connector instance (Task == connectorTask)
// or one of its tasks.
type item struct {
	Connector string
	Task      int32
}

func (i item) isConnector() bool { return i.Task == connectorTask }

func (i item) String() string {
	if i.isConnector() {
		return i.Connector
	}
	return fmt.Sprintf("%s-%d", i.Connector, i.Task)
}

func sortItems(s []item) {
	sort.Slice(s, func(a, b int) bool {
		if s[a].Connector != s[b].Connector {
			return s[a].Connector < s[b].Connector
		}
		return s[a].Task < s[b].Task
	})
}

// assignment is what the leader gives each member.
type assignment struct {
	Error        int16
	Leader       string
	LeaderURL    string
	ConfigOffset int64
	Assigned     []item
	Revoked      []item
	Delay        int32 // ms until the members should rejoin, for lost work
}

// memberMetadata is what a member tells the leader when it joins.
type memberMetadata struct {
	URL          string
	ConfigOffset int64
	Owned        []item
}

type writer struct{ b []byte }

func (w *writer) int16(v int16) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(v)) }
func (w *writer) int32(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) int64(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }
func (w *writer) string(s string) {
	w.int16(int16(len(s)))
	w.b = append(w.b, s...)
}

// items writes work grouped by connector, the connector first.
func (w *writer) items(items []item) {
	byConn := map[string][]int32{}
	var names []string
	for _, it := range items {
		if _, ok := byConn[it.Connector]; !ok {
			names = append(names, it.Connector)
		}
		byConn[it.Connector] = append(byConn[it.Connector], it.Task)
	}
	slices.Sort(names)
	w.int32(int32(len(names)))
	for _, n := range names {
		w.string(n)
		tasks := byConn[n]
		slices.Sort(tasks)
		w.int32(int32(len(tasks)))
		for _, t := range tasks {
			w.int32(t)
		}
	}
}

var errShort = errors.New("connect protocol: truncated data")

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *reader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) int64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *reader) string() string {
	n := r.int16()
	return string(r.take(int(n)))
}

// items reads a nullable array of connector assignments.
func (r *reader) items() []item {
	n := r.int32()
	if n < 0 || r.err != nil {
		return nil
	}
	var out []item
	for range n {
		conn := r.string()
		m := r.int32()
		if m > math.MaxInt32/4 || int(m)*4 > len(r.b) {
			r.err = errShort
			return nil
		}
		for range max(m, 0) {
			out = append(out, item{Connector: conn, Task: r.int32()})
		}
		if r.err != nil {
			return nil
		}
	}
	return out
}

// encodeAssignment encodes an assignment with its version header.
func encodeAssignment(a *assignment) []byte {
	w := &writer{}
	w.int16(protocolVersion)
	w.int16(a.Error)
	w.string(a.Leader)
	w.string(a.LeaderURL)
	w.int64(a.ConfigOffset)
	w.items(a.Assigned)
	w.items(a.Revoked)
	w.int32(a.Delay)
	return w.b
}

// decodeAssignment decodes an assignment; version 0 (Kafka's eager
// protocol) has no revoked work or delay.
func decodeAssignment(b []byte) (*assignment, error) {
	r := &reader{b: b}
	v := r.int16()
	if r.err == nil && v < 0 {
		return nil, fmt.Errorf("connect protocol: unsupported assignment version %d", v)
	}
	a := &assignment{Error: r.int16(), Leader: r.string(), LeaderURL: r.string(), ConfigOffset: r.int64()}
	a.Assigned = r.items()
	if v >= 1 && len(r.b) > 0 {
		a.Revoked = r.items()
		a.Delay = r.int32()
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode connect assignment: %w", r.err)
	}
	return a, nil
}

// encodeMetadata encodes a member's join metadata.
func encodeMetadata(m *memberMetadata) []byte {
	w := &writer{}
	w.int16(protocolVersion)
	w.string(m.URL)
	w.int64(m.ConfigOffset)
	if len(m.Owned) == 0 {
		w.int32(-1)
		return w.b
	}
	alloc := encodeAssignment(&assignment{ConfigOffset: m.ConfigOffset, Assigned: m.Owned})
	w.int32(int32(len(alloc)))
	w.b = append(w.b, alloc...)
	return w.b
}

// decodeMetadata decodes a member's join metadata; version 0 has no
// current assignment.
func decodeMetadata(b []byte) (*memberMetadata, error) {
	r := &reader{b: b}
	v := r.int16()
	if r.err == nil && v < 0 {
		return nil, fmt.Errorf("connect protocol: unsupported metadata version %d", v)
	}
	m := &memberMetadata{URL: r.string(), ConfigOffset: r.int64()}
	if v >= 1 && r.err == nil && len(r.b) > 0 {
		n := r.int32()
		if n >= 0 {
			alloc := r.take(int(n))
			if r.err == nil {
				a, err := decodeAssignment(alloc)
				if err != nil {
					return nil, err
				}
				m.Owned = a.Assigned
			}
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("decode connect member metadata: %w", r.err)
	}
	return m, nil
}
