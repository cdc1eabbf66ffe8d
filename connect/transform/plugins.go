package transform

import "github.com/sluicehq/sluice/connect"

// Plugins returns the built-in transforms and predicates under Kafka's
// class names.
func Plugins() []connect.Plugin {
	const pkg = "org.apache.kafka.connect.transforms."
	var out []connect.Plugin
	kv := func(name string, f func(side) connect.Transformation) {
		out = append(out, keyValuePlugins(pkg+name, f)...)
	}
	one := func(name string, f func() any) {
		out = append(out, connect.Plugin{Class: pkg + name, Type: connect.TransformationPlugin, Version: Version, New: f})
	}
	pred := func(name string, f func() any) {
		out = append(out, connect.Plugin{Class: pkg + "predicates." + name, Type: connect.PredicatePlugin, Version: Version, New: f})
	}
	kv("Cast", func(s side) connect.Transformation { return &Cast{side: s} })
	kv("ExtractField", func(s side) connect.Transformation { return &ExtractField{side: s} })
	kv("Flatten", func(s side) connect.Transformation { return &Flatten{side: s} })
	kv("HeaderFrom", func(s side) connect.Transformation { return &HeaderFrom{side: s} })
	kv("HoistField", func(s side) connect.Transformation { return &HoistField{side: s} })
	kv("InsertField", func(s side) connect.Transformation { return &InsertField{side: s} })
	kv("MaskField", func(s side) connect.Transformation { return &MaskField{side: s} })
	kv("ReplaceField", func(s side) connect.Transformation { return &ReplaceField{side: s} })
	kv("SetSchemaMetadata", func(s side) connect.Transformation { return &SetSchemaMetadata{side: s} })
	kv("TimestampConverter", func(s side) connect.Transformation { return &TimestampConverter{side: s} })
	one("DropHeaders", func() any { return &DropHeaders{} })
	one("Filter", func() any { return Filter{} })
	one("InsertHeader", func() any { return &InsertHeader{} })
	one("RegexRouter", func() any { return &RegexRouter{} })
	one("TimestampRouter", func() any { return &TimestampRouter{} })
	one("ValueToKey", func() any { return &ValueToKey{} })
	pred("TopicNameMatches", func() any { return &TopicNameMatches{} })
	pred("HasHeaderKey", func() any { return &HasHeaderKey{} })
	pred("RecordIsTombstone", func() any { return RecordIsTombstone{} })
	return out
}
