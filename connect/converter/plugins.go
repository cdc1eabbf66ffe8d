package converter

import (
	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/data"
)

// Version is the converters' version, shown by the REST API.
const Version = "1.0"

// Plugins returns the converters and header converters under Kafka's class
// names.
func Plugins() []connect.Plugin {
	conv := func(class string, f func() any) connect.Plugin {
		return connect.Plugin{Class: class, Type: connect.ConverterPlugin, Version: Version, New: f}
	}
	hdr := func(class string, f func() any) connect.Plugin {
		return connect.Plugin{Class: class, Type: connect.HeaderConverterPlugin, Version: Version, New: f}
	}
	const pkg = "org.apache.kafka.connect."
	out := []connect.Plugin{
		conv(pkg+"json.JsonConverter", func() any { return &JSON{} }),
		hdr(pkg+"json.JsonConverter", func() any { return jsonHeader{&JSON{}} }),
		conv(pkg+"storage.StringConverter", func() any { return String{} }),
		hdr(pkg+"storage.StringConverter", func() any { return stringHeader{} }),
		conv(pkg+"converters.ByteArrayConverter", func() any { return ByteArray{} }),
		hdr(pkg+"converters.ByteArrayConverter", func() any { return byteArrayHeader{} }),
		hdr(pkg+"storage.SimpleHeaderConverter", func() any { return SimpleHeader{} }),
	}
	for _, n := range []struct {
		name string
		t    data.Type
	}{{"Short", data.TypeInt16}, {"Integer", data.TypeInt32}, {"Long", data.TypeInt64},
		{"Float", data.TypeFloat32}, {"Double", data.TypeFloat64}, {"Boolean", data.TypeBoolean}} {
		t := n.t
		out = append(out,
			conv(pkg+"converters."+n.name+"Converter", func() any { return NewNumber(t) }),
			hdr(pkg+"converters."+n.name+"Converter", func() any { return numberHeader{NewNumber(t)} }))
	}
	return out
}
