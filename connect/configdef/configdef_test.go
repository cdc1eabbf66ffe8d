package configdef

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	d := New(
		Key{Name: "req", Type: String, Required: true},
		Key{Name: "n", Type: Int, Default: "5", Validator: Between(1, 10)},
		Key{Name: "l", Type: List, Default: "a, b,,c"},
		Key{Name: "b", Type: Boolean, Default: "false"},
		Key{Name: "mode", Type: String, Default: "none", Validator: OneOf(false, "none", "all")},
		Key{Name: "opt", Type: Long},
		Key{Name: "pw", Type: Password, Default: "s3cret"},
	)
	v, err := d.Parse(map[string]string{"req": "x", "b": "TRUE", "extra": "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if v.String("req") != "x" || v.Int("n") != 5 || !slices.Equal(v.List("l"), []string{"a", "b", "c"}) || !v.Bool("b") ||
		v.Has("opt") || v.Originals()["extra"] != "kept" || v.String("pw") != "s3cret" || v.Get("pw").(Secret).String() != "[hidden]" {
		t.Fatalf("parsed %+v", v)
	}
	_, err = d.Parse(map[string]string{"n": "11", "mode": "some", "b": "yes"})
	for _, want := range []string{`"req"`, "configuration n", "configuration mode", "configuration b"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors must all be reported, %q missing: %v", want, err)
		}
	}
	merged := d.Merge(New(Key{Name: "n", Type: Int, Default: "9"}))
	if k, _ := merged.Key("n"); k.Default != "9" || len(merged.Keys()) != len(d.Keys()) {
		t.Fatal("Merge: the second definition wins")
	}
	if k, ok := d.WithPrefix("x.").Key("x.req"); !ok || !k.Required {
		t.Fatal("WithPrefix")
	}
}
