package producerstate

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzLoadSnapshot feeds arbitrary bytes to the snapshot decoder, both as
// they are and with the CRC restamped so that the fuzzer reaches the
// structure checks behind it. Nothing may panic, and whatever decodes must
// encode and decode again to the same state.
func FuzzLoadSnapshot(f *testing.F) {
	seeds := []struct {
		s   *State
		off int64
	}{{New(), 0}, {sampleState(f), 207}}
	one := New()
	one.Update(batch{pid: 3, epoch: 1, seq: 0, n: 1, offset: 4}.header())
	seeds = append(seeds, struct {
		s   *State
		off int64
	}{one, 5})
	for _, sd := range seeds {
		b, err := sd.s.encode(sd.off)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		if len(data) >= 6 {
			restamped := append([]byte(nil), data...)
			binary.BigEndian.PutUint32(restamped[2:], crc32.Checksum(restamped[6:], castagnoli))
			check(t, restamped)
		}
	})
}

func check(t *testing.T, data []byte) {
	off := int64(0)
	if len(data) >= 14 {
		off = int64(binary.BigEndian.Uint64(data[6:]))
	}
	s, err := decode(data, off)
	if err != nil {
		return
	}
	b, err := s.encode(off)
	if err != nil {
		t.Fatalf("decoded state does not encode: %v", err)
	}
	s2, err := decode(b, off)
	if err != nil {
		t.Fatalf("re-encoded state does not decode: %v", err)
	}
	if !sameState(s, s2) {
		t.Fatalf("round trip changed the state")
	}
}
