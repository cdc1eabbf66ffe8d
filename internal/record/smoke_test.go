package record

import "testing"

func TestSmoke(t *testing.T) {
	for c := CodecNone; c <= CodecZstd; c++ {
		b := NewBuilder(c)
		for i := 0; i < 100; i++ {
			b.Add(1000+int64(i), []byte("k"), []byte("value value value"), RecordHeader{Key: "h", Value: []byte("v")})
		}
		batch, err := b.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultValidateConfig(2000)
		info, err := Validate(batch, cfg)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if info.NumRecords != 100 || info.MaxTimestamp != 1099 || info.NeedsHeaderRewrite || info.NeedsRecompress {
			t.Fatalf("%s: %+v", c, info)
		}
		recs, err := ReadAll(batch)
		if err != nil || len(recs) != 100 || string(recs[5].Headers[0].Value) != "v" {
			t.Fatalf("%s: %v %d", c, err, len(recs))
		}
		cfg.TargetCodec = TargetZstd
		out, info, err := Prepare(batch, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Validate(out, DefaultValidateConfig(2000)); err != nil {
			t.Fatalf("%s->zstd: %v (%+v)", c, err, info)
		}
	}
}
