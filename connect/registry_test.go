package connect

import (
	"slices"
	"testing"
)

type fakeConverter struct{ Converter }

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	p := Plugin{Class: "com.example.FancyConverter", Type: ConverterPlugin, New: func() any { return fakeConverter{} }}
	if err := r.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(p); err == nil {
		t.Fatal("registering a class twice for one type must fail")
	}
	if !slices.Equal(p.Aliases(), []string{"FancyConverter", "Fancy"}) {
		t.Fatalf("aliases %v", p.Aliases())
	}
	for _, name := range []string{"com.example.FancyConverter", "FancyConverter", "Fancy"} {
		if _, err := r.NewConverter(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := r.NewTransformation("Fancy"); err == nil {
		t.Fatal("a converter is not a transformation")
	}
	r.MustRegister(Plugin{Class: "org.other.FancyConverter", Type: ConverterPlugin, New: func() any { return fakeConverter{} }})
	if _, err := r.NewConverter("Fancy"); err == nil {
		t.Fatal("an alias two classes share is ambiguous")
	}
	if _, err := r.NewConverter("org.other.FancyConverter"); err != nil {
		t.Fatal("the full class name still works")
	}
}
