package metadata

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

func allRecords() []Record {
	v, rack := "v", "r"
	id := NewUUID()
	return []Record{
		&ClusterRecord{ClusterID: "c"},
		&LeaderChangeRecord{LeaderID: 1, Epoch: 7},
		&RegisterBrokerRecord{NodeID: 1, Endpoints: []Endpoint{{Listener: "PLAINTEXT", Host: "h", Port: 1, SecurityProtocol: "PLAINTEXT"}}, Rack: &rack, IncarnationID: NewUUID(), Fenced: true, Epoch: 3},
		&BrokerFenceRecord{NodeID: 1, Fenced: true},
		&TopicRecord{Name: "t", TopicID: id},
		&PartitionRecord{TopicID: id, Partition: 1, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 2, PartitionEpoch: 3},
		&RemoveTopicRecord{TopicID: id},
		&ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: "t", Name: "k", Value: &v},
		&ConfigRecord{ResourceType: ConfigResourceBroker, Name: "k"},
		&ProducerIDsRecord{BrokerID: 1, First: 1000, Next: 2000},
		&SnapshotHeaderRecord{Offset: 9},
		&PartitionChangeRecord{TopicID: id, Partition: 1, PartitionEpoch: 4, Leader: -1, ISR: []int32{2}},
		&PartitionChangeRecord{TopicID: id, Partition: 1, Leader: 2, ISR: []int32{2}, Replicas: []int32{3, 2}, AddingReplicas: []int32{3}, RemovingReplicas: []int32{2}},
		&PartitionRecord{TopicID: id, Partition: 1, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, AddingReplicas: []int32{2}},
		&UnregisterBrokerRecord{NodeID: 4},
		&UserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA512, Salt: []byte("s"), StoredKey: []byte("k1"), ServerKey: []byte("k2"), Iterations: 4096},
		&RemoveUserScramCredentialRecord{Name: "alice", Mechanism: ScramSHA256},
		&AccessControlEntryRecord{ResourceType: 2, ResourceName: "t", PatternType: 3, Principal: "User:a", Host: "*", Operation: 4, Permission: 3},
		&RemoveAccessControlEntryRecord{ResourceType: 3, ResourceName: "g-", PatternType: 4, Principal: "User:*", Host: "::1", Operation: 3, Permission: 2},
		&ClientQuotaRecord{Entity: QuotaEntity{User: QuotaPart{Present: true, Name: "alice"}, ClientID: QuotaPart{Present: true, Default: true}}, Key: "producer_byte_rate", Value: 1048576},
		&ClientQuotaRecord{Entity: QuotaEntity{IP: QuotaPart{Present: true, Name: "10.0.0.1"}}, Key: "connection_creation_rate", Remove: true},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	recs := allRecords()
	seen := map[RecordType]bool{}
	for _, r := range recs {
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeRecord(b)
		if err != nil {
			t.Fatalf("%s: %v", r.Type(), err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s: decoded %+v, want %+v", r.Type(), got, r)
		}
		seen[r.Type()] = true
	}
	for typ := range recordKinds {
		if !seen[typ] {
			t.Errorf("%s has no round-trip case", typ)
		}
	}
	batch, err := EncodeBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBatch(batch)
	if err != nil || !reflect.DeepEqual(got, recs) {
		t.Fatalf("batch round trip: %v", err)
	}
}

func rawRecord(typ, version uint16, body string) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, version)
	return append(b, body...)
}

func TestDecodeRecordErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than"},
		{"short header", []byte{0, 5, 0}, "shorter than"},
		{"unknown type", rawRecord(999, 0, `{}`), "unknown record type 999"},
		{"type zero", rawRecord(0, 0, `{}`), "unknown record type 0"},
		{"newer version", rawRecord(uint16(TopicRecordType), 1, `{}`), "version 1 is newer"},
		{"no body", rawRecord(uint16(TopicRecordType), 0, ``), "not a JSON object"},
		{"null body", rawRecord(uint16(TopicRecordType), 0, `null`), "not a JSON object"},
		{"array body", rawRecord(uint16(TopicRecordType), 0, `[1]`), "not a JSON object"},
		{"unknown field", rawRecord(uint16(TopicRecordType), 0, `{"name":"t","extra":1}`), "unknown field"},
		{"trailing data", rawRecord(uint16(TopicRecordType), 0, `{"name":"t"}{}`), "trailing data"},
		{"wrong field type", rawRecord(uint16(TopicRecordType), 0, `{"name":5}`), "body"},
		{"bad uuid", rawRecord(uint16(TopicRecordType), 0, `{"topicId":"xyz"}`), "uuid"},
		{"truncated", rawRecord(uint16(TopicRecordType), 0, `{"name":"t"`), "body"},
	} {
		_, err := DecodeRecord(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	good, err := EncodeBatch([]Record{&ClusterRecord{ClusterID: "c"}, &BrokerFenceRecord{NodeID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	hugeCount := bytes.Clone(good)
	binary.BigEndian.PutUint32(hugeCount[2:], 1<<31)
	badFormat := bytes.Clone(good)
	badFormat[1] = 1
	longRecord := bytes.Clone(good)
	binary.BigEndian.PutUint32(longRecord[6:], 1<<30)
	for name, data := range map[string][]byte{
		"empty":              nil,
		"short header":       good[:5],
		"unknown format":     badFormat,
		"count beyond data":  hugeCount,
		"record beyond data": longRecord,
		"truncated":          good[:len(good)-1],
		"trailing bytes":     append(bytes.Clone(good), 0),
	} {
		if _, err := DecodeBatch(data); err == nil {
			t.Errorf("%s: DecodeBatch succeeded", name)
		}
	}
	if recs, err := DecodeBatch(mustEncodeBatch(t, nil)); err != nil || len(recs) != 0 {
		t.Fatalf("empty batch: %v %v", recs, err)
	}
}

// FuzzDecodeRecord checks that no input makes the decoder panic, and that whatever it
// accepts encodes and decodes back to the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range allRecords() {
		b, err := EncodeRecord(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(rawRecord(999, 0, `{}`))
	f.Add(rawRecord(uint16(PartitionRecordType), 0, `{"replicas":null,"isr":[1,2,3]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			return
		}
		b, err := EncodeRecord(r)
		if err != nil {
			t.Fatalf("re-encode %T: %v", r, err)
		}
		r2, err := DecodeRecord(b)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("re-decode: %+v vs %+v, %v", r, r2, err)
		}
	})
}

// FuzzApplyBatch feeds arbitrary batches to the decoder and the state machine, on an
// image holding one of everything: neither may panic, and a rejected batch changes
// nothing.
func FuzzApplyBatch(f *testing.F) {
	f.Add(mustEncodeBatchF(f, allRecords()))
	f.Add(mustEncodeBatchF(f, []Record{&TopicRecord{Name: "n", TopicID: NewUUID()}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeBatch(data)
		if err != nil {
			return
		}
		base := buildImage(t)
		before := mustEncodeSnapshot(t, base)
		next, err := applyBatch(base, base.Offset+1, recs)
		if !bytes.Equal(mustEncodeSnapshot(t, base), before) {
			t.Fatal("applyBatch changed its base image")
		}
		if err == nil {
			if _, err := decodeSnapshot(mustEncodeSnapshot(t, next)); err != nil {
				t.Fatalf("the image after an accepted batch does not survive a snapshot: %v", err)
			}
		}
	})
}

func mustEncodeBatchF(f *testing.F, recs []Record) []byte {
	b, err := EncodeBatch(recs)
	if err != nil {
		f.Fatal(err)
	}
	return b
}
