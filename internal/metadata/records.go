package metadata

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Metadata records are Sluice's own, in the spirit of KRaft's: each change to the cluster
// metadata is a typed record, and a Raft log entry is a batch of records applied atomically.
//
// Encoding of one record:
//
//	type    uint16, big endian
//	version uint16, big endian
//	body    JSON object of the record's fields for that version
//
// Encoding of a batch (a Raft log entry's data, and a snapshot file):
//
//	format  uint16 (0)
//	count   uint32
//	count times: length uint32, then that many bytes of one record
//
// A decoder rejects a type it does not know and a version newer than the newest it knows,
// so an old binary never misreads a newer log. A record that gains a field bumps its
// version; the body decoder rejects unknown fields, so a change that forgets to do so fails
// loudly in tests.

// RecordType identifies the kind of a metadata record. Values are persisted: never reuse one.
type RecordType uint16

const (
	ClusterRecordType          RecordType = 1  // the cluster id, written once
	LeaderChangeRecordType     RecordType = 2  // a node became the active controller
	RegisterBrokerRecordType   RecordType = 3  // a broker registered (or re-registered)
	BrokerFenceRecordType      RecordType = 4  // a broker was fenced or unfenced
	TopicRecordType            RecordType = 5  // a topic was created
	PartitionRecordType        RecordType = 6  // a partition was created
	RemoveTopicRecordType      RecordType = 7  // a topic was deleted
	ConfigRecordType           RecordType = 8  // a dynamic config was set or deleted
	ProducerIDsRecordType      RecordType = 9  // a block of producer ids was allocated
	SnapshotHeaderRecordType   RecordType = 10 // first record of a snapshot
	PartitionChangeRecordType  RecordType = 11 // a partition's leader or ISR changed
	UnregisterBrokerRecordType RecordType = 12 // a broker was decommissioned

	UserScramCredentialRecordType       RecordType = 13 // a SCRAM credential was set (scram.go)
	RemoveUserScramCredentialRecordType RecordType = 14 // a SCRAM credential was removed
	AccessControlEntryRecordType        RecordType = 15 // an ACL binding was created (acl.go)
	RemoveAccessControlEntryRecordType  RecordType = 16 // an ACL binding was deleted
	ClientQuotaRecordType               RecordType = 17 // a client quota was set or removed (quota.go)
)

func (t RecordType) String() string {
	if s, ok := recordTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("RecordType(%d)", uint16(t))
}

var recordTypeNames = map[RecordType]string{
	ClusterRecordType:          "ClusterRecord",
	LeaderChangeRecordType:     "LeaderChangeRecord",
	RegisterBrokerRecordType:   "RegisterBrokerRecord",
	BrokerFenceRecordType:      "BrokerFenceRecord",
	TopicRecordType:            "TopicRecord",
	PartitionRecordType:        "PartitionRecord",
	RemoveTopicRecordType:      "RemoveTopicRecord",
	ConfigRecordType:           "ConfigRecord",
	ProducerIDsRecordType:      "ProducerIDsRecord",
	SnapshotHeaderRecordType:   "SnapshotHeaderRecord",
	PartitionChangeRecordType:  "PartitionChangeRecord",
	UnregisterBrokerRecordType: "UnregisterBrokerRecord",

	UserScramCredentialRecordType:       "UserScramCredentialRecord",
	RemoveUserScramCredentialRecordType: "RemoveUserScramCredentialRecord",
	AccessControlEntryRecordType:        "AccessControlEntryRecord",
	RemoveAccessControlEntryRecordType:  "RemoveAccessControlEntryRecord",
	ClientQuotaRecordType:               "ClientQuotaRecord",
}

// Record is one metadata record. Version is the version the value encodes as.
type Record interface {
	Type() RecordType
	Version() uint16
}

// recordKinds maps each known type to its newest version and a constructor of an empty
// value to decode into. Every version from 0 to the newest must decode into that value.
var recordKinds = map[RecordType]struct {
	maxVersion uint16
	new        func() Record
}{
	ClusterRecordType:          {0, func() Record { return new(ClusterRecord) }},
	LeaderChangeRecordType:     {0, func() Record { return new(LeaderChangeRecord) }},
	RegisterBrokerRecordType:   {0, func() Record { return new(RegisterBrokerRecord) }},
	BrokerFenceRecordType:      {0, func() Record { return new(BrokerFenceRecord) }},
	TopicRecordType:            {0, func() Record { return new(TopicRecord) }},
	PartitionRecordType:        {0, func() Record { return new(PartitionRecord) }},
	RemoveTopicRecordType:      {0, func() Record { return new(RemoveTopicRecord) }},
	ConfigRecordType:           {0, func() Record { return new(ConfigRecord) }},
	ProducerIDsRecordType:      {0, func() Record { return new(ProducerIDsRecord) }},
	SnapshotHeaderRecordType:   {0, func() Record { return new(SnapshotHeaderRecord) }},
	PartitionChangeRecordType:  {0, func() Record { return new(PartitionChangeRecord) }},
	UnregisterBrokerRecordType: {0, func() Record { return new(UnregisterBrokerRecord) }},

	UserScramCredentialRecordType:       {0, func() Record { return new(UserScramCredentialRecord) }},
	RemoveUserScramCredentialRecordType: {0, func() Record { return new(RemoveUserScramCredentialRecord) }},
	AccessControlEntryRecordType:        {0, func() Record { return new(AccessControlEntryRecord) }},
	RemoveAccessControlEntryRecordType:  {0, func() Record { return new(RemoveAccessControlEntryRecord) }},
	ClientQuotaRecordType:               {0, func() Record { return new(ClientQuotaRecord) }},
}

// ClusterRecord names the cluster. Every leader writes it with its configured cluster id
// when it takes over; the state machine rejects a different id than the one on record, so
// a node pointed at another cluster's metadata refuses to start.
type ClusterRecord struct {
	ClusterID string `json:"clusterId"`
}

// LeaderChangeRecord is written by a node that has just become the Raft leader, so every
// node's image names the active controller and its epoch (the Raft term).
type LeaderChangeRecord struct {
	LeaderID int32  `json:"leaderId"`
	Epoch    uint64 `json:"epoch"`
}

// RegisterBrokerRecord registers a broker or replaces its registration.
type RegisterBrokerRecord struct {
	NodeID        int32      `json:"nodeId"`
	Endpoints     []Endpoint `json:"endpoints"`
	Rack          *string    `json:"rack,omitempty"`
	IncarnationID UUID       `json:"incarnationId"`
	Fenced        bool       `json:"fenced"`
	// Epoch is the broker epoch. In a log entry it must be 0: the broker epoch is the
	// index of the entry that registered it. Snapshots carry it here.
	Epoch int64 `json:"epoch,omitempty"`
}

// BrokerFenceRecord fences a broker (it leads and follows nothing) or unfences it.
type BrokerFenceRecord struct {
	NodeID int32 `json:"nodeId"`
	Fenced bool  `json:"fenced"`
}

// TopicRecord creates a topic. Its partitions follow as PartitionRecords in the same batch.
type TopicRecord struct {
	Name    string `json:"name"`
	TopicID UUID   `json:"topicId"`
}

// PartitionRecord creates the next partition of a topic (Partition must equal the current
// partition count). A later issue adds a PartitionChangeRecord for leader and ISR changes.
type PartitionRecord struct {
	TopicID        UUID    `json:"topicId"`
	Partition      int32   `json:"partition"`
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leaderEpoch"`
	PartitionEpoch int32   `json:"partitionEpoch"`
	// AddingReplicas and RemovingReplicas (version 1) are a reassignment in progress, as
	// in PartitionChangeRecord; only snapshots carry them here.
	AddingReplicas   []int32 `json:"addingReplicas,omitempty"`
	RemovingReplicas []int32 `json:"removingReplicas,omitempty"`
}

// PartitionChangeRecord changes an existing partition's leader and ISR, as the
// controller decides when a broker is fenced, shuts down or comes back. A change of
// leader bumps the leader epoch; every change bumps the partition epoch.
//
// Replicas, when set, replaces the replica set (a reassignment starting, completing or
// cancelled), with AddingReplicas and RemovingReplicas the reassignment in progress
// (Kafka's semantics: the replica set is the target plus the replicas being removed;
// both lists empty when none is).
//
// PartitionEpoch is the partition epoch the change was planned against: the state
// machine applies the change only to that state of the partition (a compare-and-set),
// so a change planned on an image that has moved on since (a broker that has not yet
// learnt it lost the leadership, a controller's stale plan forwarded late) is refused
// with INVALID_UPDATE_VERSION rather than undo newer changes.
type PartitionChangeRecord struct {
	TopicID          UUID    `json:"topicId"`
	Partition        int32   `json:"partition"`
	PartitionEpoch   int32   `json:"partitionEpoch"`
	Leader           int32   `json:"leader"` // -1: no leader
	ISR              []int32 `json:"isr"`
	Replicas         []int32 `json:"replicas,omitempty"`
	AddingReplicas   []int32 `json:"addingReplicas,omitempty"`
	RemovingReplicas []int32 `json:"removingReplicas,omitempty"`
}

// UnregisterBrokerRecord removes a decommissioned broker's registration. It must host
// no replica.
type UnregisterBrokerRecord struct {
	NodeID int32 `json:"nodeId"`
}

// RemoveTopicRecord deletes a topic with all its partitions and configs.
type RemoveTopicRecord struct {
	TopicID UUID `json:"topicId"`
}

// Config resource types, with Kafka's values (DescribeConfigs' ResourceType).
const (
	ConfigResourceTopic  int8 = 2
	ConfigResourceBroker int8 = 4
)

// ConfigRecord sets (Value non-nil) or deletes (Value nil) one dynamic config. For
// ConfigResourceBroker the resource name is "" for the cluster-wide default (Kafka's
// `--entity-default`) or a node id in decimal for one broker's own configs.
type ConfigRecord struct {
	ResourceType int8    `json:"resourceType"`
	ResourceName string  `json:"resourceName"`
	Name         string  `json:"name"`
	Value        *string `json:"value"`
}

// ProducerIDsRecord allocates producer ids [First, Next) to a broker. First must equal the
// image's NextProducerID, so two allocations can never overlap.
type ProducerIDsRecord struct {
	BrokerID int32 `json:"brokerId"`
	First    int64 `json:"first"`
	Next     int64 `json:"next"`
}

// SnapshotHeaderRecord opens a snapshot: the image offset it was taken at.
type SnapshotHeaderRecord struct {
	Offset uint64 `json:"offset"`
}

func (*ClusterRecord) Type() RecordType          { return ClusterRecordType }
func (*LeaderChangeRecord) Type() RecordType     { return LeaderChangeRecordType }
func (*RegisterBrokerRecord) Type() RecordType   { return RegisterBrokerRecordType }
func (*BrokerFenceRecord) Type() RecordType      { return BrokerFenceRecordType }
func (*TopicRecord) Type() RecordType            { return TopicRecordType }
func (*PartitionRecord) Type() RecordType        { return PartitionRecordType }
func (*RemoveTopicRecord) Type() RecordType      { return RemoveTopicRecordType }
func (*ConfigRecord) Type() RecordType           { return ConfigRecordType }
func (*ProducerIDsRecord) Type() RecordType      { return ProducerIDsRecordType }
func (*SnapshotHeaderRecord) Type() RecordType   { return SnapshotHeaderRecordType }
func (*PartitionChangeRecord) Type() RecordType  { return PartitionChangeRecordType }
func (*UnregisterBrokerRecord) Type() RecordType { return UnregisterBrokerRecordType }

func (*ClusterRecord) Version() uint16          { return 0 }
func (*LeaderChangeRecord) Version() uint16     { return 0 }
func (*RegisterBrokerRecord) Version() uint16   { return 0 }
func (*BrokerFenceRecord) Version() uint16      { return 0 }
func (*TopicRecord) Version() uint16            { return 0 }
func (*PartitionRecord) Version() uint16        { return 0 }
func (*RemoveTopicRecord) Version() uint16      { return 0 }
func (*ConfigRecord) Version() uint16           { return 0 }
func (*ProducerIDsRecord) Version() uint16      { return 0 }
func (*SnapshotHeaderRecord) Version() uint16   { return 0 }
func (*PartitionChangeRecord) Version() uint16  { return 0 }
func (*UnregisterBrokerRecord) Version() uint16 { return 0 }

const (
	recordHeaderLen = 4
	batchHeaderLen  = 6
	batchFormat     = 0
)

// EncodeRecord encodes one record: its type and version, then its JSON body.
func EncodeRecord(r Record) ([]byte, error) {
	return appendRecord(nil, r)
}

func appendRecord(dst []byte, r Record) ([]byte, error) {
	if r == nil {
		return nil, errors.New("encode metadata record: nil record")
	}
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.Type(), err)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(r.Type()))
	dst = binary.BigEndian.AppendUint16(dst, r.Version())
	return append(dst, body...), nil
}

// DecodeRecord decodes one record. It rejects unknown types, versions newer than this
// binary knows, bodies that are not exactly one JSON object of the record's fields, and
// never panics.
func DecodeRecord(b []byte) (Record, error) {
	if len(b) < recordHeaderLen {
		return nil, fmt.Errorf("decode metadata record: %d bytes, shorter than the %d-byte header", len(b), recordHeaderLen)
	}
	typ := RecordType(binary.BigEndian.Uint16(b))
	version := binary.BigEndian.Uint16(b[2:])
	kind, ok := recordKinds[typ]
	if !ok {
		return nil, fmt.Errorf("decode metadata record: unknown record type %d", uint16(typ))
	}
	if version > kind.maxVersion {
		return nil, fmt.Errorf("decode %s: version %d is newer than the newest known, %d", typ, version, kind.maxVersion)
	}
	body := bytes.TrimLeft(b[recordHeaderLen:], " \t\r\n")
	if len(body) == 0 || body[0] != '{' {
		return nil, fmt.Errorf("decode %s v%d body: not a JSON object", typ, version)
	}
	r := kind.new()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("decode %s v%d body: %w", typ, version, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode %s v%d body: trailing data after the JSON object", typ, version)
	}
	return r, nil
}

// EncodeBatch encodes records as one batch: one Raft log entry, or one snapshot.
func EncodeBatch(recs []Record) ([]byte, error) {
	if uint64(len(recs)) > uint64(^uint32(0)) {
		return nil, fmt.Errorf("encode metadata batch: %d records is too many", len(recs))
	}
	b := make([]byte, batchHeaderLen, 256)
	binary.BigEndian.PutUint16(b, batchFormat)
	binary.BigEndian.PutUint32(b[2:], uint32(len(recs)))
	for _, r := range recs {
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		if b, err = appendRecord(b, r); err != nil {
			return nil, err
		}
		n := len(b) - at - 4
		if uint64(n) > uint64(^uint32(0)) {
			return nil, fmt.Errorf("encode %s: %d bytes is too large", r.Type(), n)
		}
		binary.BigEndian.PutUint32(b[at:], uint32(n))
	}
	return b, nil
}

// DecodeBatch decodes a batch written by EncodeBatch. Like DecodeRecord it never panics.
func DecodeBatch(b []byte) ([]Record, error) {
	if len(b) < batchHeaderLen {
		return nil, fmt.Errorf("decode metadata batch: %d bytes, shorter than the %d-byte header", len(b), batchHeaderLen)
	}
	if f := binary.BigEndian.Uint16(b); f != batchFormat {
		return nil, fmt.Errorf("decode metadata batch: unknown batch format %d", f)
	}
	count := binary.BigEndian.Uint32(b[2:])
	rest := b[batchHeaderLen:]
	// Each record takes at least 8 bytes (length and header): a count larger than that
	// allows is corrupt, and must not make us allocate for it.
	if uint64(count) > uint64(len(rest))/(4+recordHeaderLen) {
		return nil, fmt.Errorf("decode metadata batch: %d records cannot fit in %d bytes", count, len(rest))
	}
	recs := make([]Record, 0, count)
	for i := uint32(0); i < count; i++ {
		if len(rest) < 4 {
			return nil, fmt.Errorf("decode metadata batch: record %d: truncated length", i)
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("decode metadata batch: record %d: length %d exceeds the %d bytes left", i, n, len(rest))
		}
		r, err := DecodeRecord(rest[:n])
		if err != nil {
			return nil, fmt.Errorf("decode metadata batch: record %d: %w", i, err)
		}
		recs = append(recs, r)
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decode metadata batch: %d bytes after the last record", len(rest))
	}
	return recs, nil
}
