package group

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The records of __consumer_offsets use Kafka's formats (kmsg's
// OffsetCommitKey/Value and GroupMetadataKey/Value), so Kafka's tools can
// read them. A key starts with its version: 0 and 1 are offset commits, 2 is
// group metadata; Kafka's later versions belong to its KIP-848 records,
// which this coordinator does not write and skips when loading: its
// consumer groups have a key of their own (consumer_records.go). A null value is a
// tombstone: the offset or the group was deleted.

// Versions written.
const (
	offsetKeyVersion          = 1
	offsetValueVersion        = 3 // leader epoch, no expire timestamp
	offsetValueVersionExpires = 1 // carries the expire timestamp of OffsetCommit v2-4
	groupKeyVersion           = 2
	groupValueVersion         = 3 // static members (instance ids)
)

// Record is one key and value to append to __consumer_offsets; a nil Value
// is a tombstone.
type Record struct {
	Key, Value []byte
}

// offsetValue is a committed offset as stored.
type offsetValue struct {
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64 // ms
	ExpireTime  int64 // ms; -1 when the retention is the broker's
}

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = offsetKeyVersion
	k.Group, k.Topic, k.Partition = group, topic, partition
	return k.AppendTo(nil)
}

func encodeOffsetValue(o offsetValue) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if o.ExpireTime >= 0 {
		v.Version = offsetValueVersionExpires
	}
	v.Offset = o.Offset
	v.LeaderEpoch = o.LeaderEpoch
	v.Metadata = o.Metadata
	v.CommitTimestamp = o.CommitTime
	v.ExpireTimestamp = o.ExpireTime
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = groupKeyVersion
	k.Group = group
	return k.AppendTo(nil)
}

// decoded is one record of __consumer_offsets, parsed.
type decoded struct {
	kind      recordKind
	group     string
	topic     string
	partition int32
	offset    *offsetValue             // nil: tombstone
	meta      *kmsg.GroupMetadataValue // nil: tombstone
	consumer  *consumerSnapshot        // nil: tombstone
}

type recordKind int

const (
	kindUnknown recordKind = iota
	kindOffset
	kindGroup
	kindConsumer
)

// errBadRecord marks a record of __consumer_offsets that cannot be parsed.
var errBadRecord = errors.New("malformed __consumer_offsets record")

// decodeRecord parses a key and value. A key of a version this coordinator
// does not know gives kindUnknown and no error.
func decodeRecord(key, value []byte) (decoded, error) {
	if len(key) < 2 {
		return decoded{}, fmt.Errorf("%w: key of %d bytes", errBadRecord, len(key))
	}
	switch v := int16(binary.BigEndian.Uint16(key)); v {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(key); err != nil {
			return decoded{}, fmt.Errorf("%w: offset key: %v", errBadRecord, err)
		}
		d := decoded{kind: kindOffset, group: k.Group, topic: k.Topic, partition: k.Partition}
		if value == nil {
			return d, nil
		}
		var val kmsg.OffsetCommitValue
		if err := val.ReadFrom(value); err != nil {
			return decoded{}, fmt.Errorf("%w: offset value of %s/%s/%d: %v", errBadRecord, k.Group, k.Topic, k.Partition, err)
		}
		o := offsetValue{
			Offset:      val.Offset,
			LeaderEpoch: -1,
			Metadata:    val.Metadata,
			CommitTime:  val.CommitTimestamp,
			ExpireTime:  -1,
		}
		if val.Version >= 3 {
			o.LeaderEpoch = val.LeaderEpoch
		}
		if val.Version == 1 {
			o.ExpireTime = val.ExpireTimestamp
		}
		d.offset = &o
		return d, nil
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			return decoded{}, fmt.Errorf("%w: group key: %v", errBadRecord, err)
		}
		d := decoded{kind: kindGroup, group: k.Group}
		if value == nil {
			return d, nil
		}
		var val kmsg.GroupMetadataValue
		if err := val.ReadFrom(value); err != nil {
			return decoded{}, fmt.Errorf("%w: group value of %s: %v", errBadRecord, k.Group, err)
		}
		d.meta = &val
		return d, nil
	case consumerKeyVersion:
		name, err := decodeConsumerKey(key)
		if err != nil {
			return decoded{}, err
		}
		d := decoded{kind: kindConsumer, group: name}
		if value == nil {
			return d, nil
		}
		if d.consumer, err = decodeConsumerValue(value); err != nil {
			return decoded{}, fmt.Errorf("consumer group %s: %w", name, err)
		}
		return d, nil
	default:
		return decoded{kind: kindUnknown}, nil
	}
}

// groupMetaValue is a group's metadata record as stored.
type groupMetaValue = kmsg.GroupMetadataValue
