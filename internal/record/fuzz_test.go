package record

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The fuzz targets run only their seeds under plain `go test`. To fuzz:
//
//	go test -run '^$' -fuzz FuzzValidate -fuzztime 60s ./internal/record
//
// Most mutations break the CRC, so each target also tries the input with
// its CRC recomputed, which lets the fuzzer reach the record parser.

func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, c := range allCodecs {
		seeds = append(seeds, buildBatch(f, c, 3, 20))
		seeds = append(seeds, buildBatchLike(f, c, 4))
	}
	rs := simple(3)
	rs[1].OffsetDelta = 7
	seeds = append(seeds,
		craft(f, CodecNone, recs(rs...), 3, nil),
		craft(f, CodecLZ4, recs(rs...), 3, nil),
		craft(f, CodecNone, []byte{18, 0, 0, 0, 1, 1, 2, 2, 'h', 1}, 1, nil),
		craft(f, CodecNone, recs(simple(2)...), 2, func(h *Header) { h.Attributes |= attrTimestampType }),
		craft(f, CodecNone, recs(Record{Value: []byte("v")}), 1, nil), // null key
	)
	return seeds
}

func FuzzValidate(f *testing.F) {
	for i, s := range fuzzSeeds(f) {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8) {
		cfg := DefaultValidateConfig(testNow)
		cfg.MaxDecompressedBytes = 1 << 20
		cfg.CompactedTopic = flags&2 != 0
		if flags&4 != 0 {
			cfg.TimestampType = LogAppendTime
		}
		cfg.TargetCodec = TargetCodec(flags>>3) % 6
		inputs := [][]byte{data}
		if len(data) >= HeaderSize && flags&1 != 0 {
			fixed := append([]byte(nil), data...)
			SetCRC(fixed)
			inputs = append(inputs, fixed)
		}
		for _, in := range inputs {
			checkValidate(t, in, cfg)
		}
	})
}

// checkValidate validates in and, when it is accepted, checks that the
// other entry points agree with Validate and that Prepare's output is sound.
func checkValidate(t *testing.T, in []byte, cfg ValidateConfig) {
	orig := append([]byte(nil), in...)
	info, err := Validate(in, cfg)
	if !bytes.Equal(in, orig) {
		t.Fatal("Validate modified its input")
	}
	if err != nil {
		if _, ok := err.(*ValidationError); !ok {
			t.Fatalf("error %v is a %T, not a *ValidationError", err, err)
		}
		if _, _, perr := Prepare(append([]byte(nil), in...), cfg); perr == nil {
			t.Fatalf("Validate refused (%v) what Prepare accepted", err)
		}
		return
	}
	n := 0
	if err := Iterate(in, func(*Record) error { n++; return nil }); err != nil || n != info.NumRecords {
		t.Fatalf("Validate accepted %d records; Iterate saw %d: %v", info.NumRecords, n, err)
	}
	if err := CheckRecords(in, cfg.MaxDecompressedBytes); err != nil {
		t.Fatalf("Validate accepted what CheckRecords refused: %v", err)
	}
	out, pinfo, err := Prepare(append([]byte(nil), in...), cfg)
	if err != nil {
		t.Fatalf("Validate accepted what Prepare refused: %v", err)
	}
	if pinfo.NumRecords != info.NumRecords || pinfo.NeedsRecompress != info.NeedsRecompress {
		t.Fatalf("Prepare's info %+v differs from Validate's %+v", pinfo, info)
	}
	h, err := ParseHeader(out)
	if err != nil || !CheckCRC(out) || h.Size() != len(out) {
		t.Fatalf("prepared batch is unsound: %v, crc %v", err, CheckCRC(out))
	}
	if h.Codec() != info.TargetCodec || h.MaxTimestamp != info.MaxTimestamp || h.LogAppendTime() != (info.TimestampType == LogAppendTime) {
		t.Fatalf("prepared header %+v does not match info %+v", h, info)
	}
	// The prepared batch validates again as a CreateTime batch (a
	// LogAppendTime one reads every record at maxTimestamp = Now) and holds
	// the same keys and values.
	again := cfg
	again.TimestampType = CreateTime
	again.MaxBatchBytes = 0
	again.MaxDecompressedBytes = 0
	if _, err := Validate(out, again); err != nil {
		t.Fatalf("prepared batch no longer validates: %v", err)
	}
	a, err := ReadAll(in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if !equalNullable(a[i].Key, b[i].Key) || !equalNullable(a[i].Value, b[i].Value) || len(a[i].Headers) != len(b[i].Headers) {
			t.Fatalf("record %d changed in Prepare", i)
		}
	}
}

func FuzzIterate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		if fixCRC && len(data) >= HeaderSize {
			data = append([]byte(nil), data...)
			SetCRC(data)
		}
		got, err := ReadAll(data)
		cerr := CheckRecords(data, DefaultMaxDecompressedBytes)
		if (err == nil) != (cerr == nil) {
			t.Fatalf("Iterate says %v, CheckRecords says %v", err, cerr)
		}
		if err != nil {
			return
		}
		// Re-encoding the records gives back the same records.
		h, _ := ParseHeader(data)
		b := NewBuilder(CodecNone).SetBaseTimestamp(h.BaseTimestamp)
		for i := range got {
			b.AddRecord(&got[i])
		}
		rebuilt, err := b.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ReadAll(rebuilt)
		if err != nil || len(again) != len(got) {
			t.Fatalf("rebuilt batch: %d records, %v", len(again), err)
		}
		for i := range got {
			if !equalRecord(&got[i], &again[i]) {
				t.Fatalf("record %d differs after re-encoding", i)
			}
		}
	})
}

func FuzzDecompress(f *testing.F) {
	in := textValue(rand.New(rand.NewPCG(9, 9)), 3000)
	for _, c := range allCodecs {
		comp, _ := Compress(c, in, nil, 0)
		f.Add(uint8(c), comp)
	}
	f.Fuzz(func(t *testing.T, c uint8, data []byte) {
		const limit = 1 << 20
		out, err := DecompressLimit(Codec(c%8), data, nil, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("%d bytes past a %d limit", len(out), limit)
		}
	})
}
