package group

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRecord: whatever __consumer_offsets holds (another tool's
// records, a torn or hostile write), decoding returns an error or a record,
// never panics, and a decoded offset record encodes back to what decodes the
// same.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(offsetKey("g", "t", 1), encodeOffsetValue(offsetValue{Offset: 5, LeaderEpoch: 1, Metadata: "m", CommitTime: 9, ExpireTime: -1}))
	f.Add(offsetKey("g", "t", 1), encodeOffsetValue(offsetValue{Offset: 5, LeaderEpoch: -1, CommitTime: 9, ExpireTime: 20}))
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType = "consumer"
	m := kmsg.NewGroupMetadataValueMember()
	m.MemberID, m.Subscription, m.Assignment = "m", []byte{1}, []byte{2}
	v.Members = append(v.Members, m)
	f.Add(groupKey("g"), v.AppendTo(nil))
	f.Add(groupKey("g"), []byte(nil))
	f.Add([]byte{0, 3, 0, 1, 'x'}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		d, err := decodeRecord(key, value)
		if err != nil || d.kind != kindOffset || d.offset == nil {
			return
		}
		again, err := decodeRecord(offsetKey(d.group, d.topic, d.partition), encodeOffsetValue(*d.offset))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if again.group != d.group || again.topic != d.topic || again.partition != d.partition || again.offset.Offset != d.offset.Offset ||
			again.offset.Metadata != d.offset.Metadata || again.offset.CommitTime != d.offset.CommitTime {
			t.Fatalf("round trip changed the record: %+v -> %+v", d, again)
		}
	})
}
