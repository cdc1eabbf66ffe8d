// Package connect is Sluice's connector framework, a Go counterpart of
// Kafka Connect's API: connectors and tasks for sources (something into
// Kafka) and sinks (Kafka into something), the records they exchange with
// schemas from package data, converters between records and Kafka bytes,
// single message transforms and predicates, and a registry of plugins by
// Kafka's class names and short aliases.
//
// Connect is a client of Kafka: the worker (package runtime) speaks only the
// Kafka protocol, so connectors run against any Kafka cluster.
package connect

import (
	"time"

	"github.com/sluicehq/sluice/connect/data"
)

// Record is what every Connect record has: where it goes in Kafka, its key
// and value with their schemas, its timestamp and headers.
type Record struct {
	Topic string
	// Partition is the Kafka partition, or nil to let the producer's
	// partitioner choose.
	Partition   *int32
	KeySchema   *data.Schema
	Key         any
	ValueSchema *data.Schema
	Value       any
	// Timestamp is the record's time; the zero time means none.
	Timestamp time.Time
	Headers   Headers
}

// SourceRecord is a record a source task produces. SourcePartition names the
// part of the source it came from (a file) and SourceOffset how far into
// that part it is (a byte position): the worker stores the offset once the
// record is in Kafka, and hands it back to the task after a restart.
type SourceRecord struct {
	Record
	SourcePartition map[string]any
	SourceOffset    map[string]any
}

// TimestampType says where a sink record's timestamp came from.
type TimestampType int8

// Timestamp types, as Kafka's.
const (
	NoTimestampType TimestampType = iota - 1
	CreateTime
	LogAppendTime
)

func (t TimestampType) String() string {
	switch t {
	case CreateTime:
		return "CreateTime"
	case LogAppendTime:
		return "LogAppendTime"
	}
	return "NoTimestampType"
}

// SinkRecord is a record a sink task receives: a consumed Kafka record
// after conversion and transforms. Offset is its Kafka offset. The
// Original fields keep where it was consumed from, before transforms
// changed its topic or partition.
type SinkRecord struct {
	Record
	Offset            int64
	TimestampType     TimestampType
	OriginalTopic     string
	OriginalPartition int32
	OriginalOffset    int64
}

// AnyRecord is a *SourceRecord or a *SinkRecord, as transforms and
// predicates see records: Base gives the common fields, and WithBase makes
// a copy with new common fields that keeps the rest (the source offset, the
// Kafka offset), as Kafka's ConnectRecord.newRecord.
type AnyRecord interface {
	Base() *Record
	WithBase(r Record) AnyRecord
}

// Base returns the common fields.
func (r *SourceRecord) Base() *Record { return &r.Record }

// WithBase returns a copy with the common fields replaced.
func (r *SourceRecord) WithBase(b Record) AnyRecord {
	c := *r
	c.Record = b
	return &c
}

// Base returns the common fields.
func (r *SinkRecord) Base() *Record { return &r.Record }

// WithBase returns a copy with the common fields replaced.
func (r *SinkRecord) WithBase(b Record) AnyRecord {
	c := *r
	c.Record = b
	return &c
}

// Int32Ptr returns a pointer to p, for Record.Partition.
func Int32Ptr(p int32) *int32 { return &p }

// TopicPartition names a Kafka partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Header is one record header with a schema'd value; converters turn it to
// and from the header's bytes.
type Header struct {
	Key    string
	Schema *data.Schema
	Value  any
}

// Headers are a record's headers in order; a key may repeat.
type Headers []Header

// Add returns h with one more header. It never changes h's array in place
// for a shared slice: it copies, since records share headers after
// transforms copy them.
func (h Headers) Add(key string, schema *data.Schema, value any) Headers {
	out := make(Headers, len(h), len(h)+1)
	copy(out, h)
	return append(out, Header{Key: key, Schema: schema, Value: value})
}

// Without returns the headers whose key is not key.
func (h Headers) Without(key string) Headers {
	out := make(Headers, 0, len(h))
	for _, x := range h {
		if x.Key != key {
			out = append(out, x)
		}
	}
	return out
}

// Last returns the last header with the key.
func (h Headers) Last(key string) (Header, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return h[i], true
		}
	}
	return Header{}, false
}

// Clone returns a copy that can be changed without touching h.
func (h Headers) Clone() Headers {
	if h == nil {
		return nil
	}
	out := make(Headers, len(h))
	copy(out, h)
	return out
}
