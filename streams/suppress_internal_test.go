package streams

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
)

// The buffer's stored form keeps null and empty values and headers apart,
// so an entry reloaded after a restart is the one buffered.
func TestSuppressEntryRoundTrip(t *testing.T) {
	for _, e := range []*suppressEntry{
		{key: []byte("k"), time: 10, new: []byte("v"), ts: 7},
		{key: []byte("k"), time: -1, prior: []byte{}, new: nil, ts: 0},
		{key: []byte("k"), time: 1 << 40, prior: []byte("old"), new: []byte("new"), ts: 99,
			headers: []processor.Header{{Key: "a", Value: []byte("1")}, {Key: "null"}, {Key: "empty", Value: []byte{}}}},
	} {
		got, err := decodeSuppressEntry(e.key, state.WithTimestamp(e.encode(), e.ts))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip of %+v gave %+v", e, got)
		}
	}
	if _, err := decodeSuppressEntry([]byte("k"), state.WithTimestamp([]byte{0, 0, 0, 0, 0, 0, 0, 1, 3, 5}, 0)); err == nil {
		t.Error("a truncated entry decoded")
	}
}
