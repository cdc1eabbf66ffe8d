package converter

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Encoding is the StringConverter's setting; Kafka also reads it with a
// serializer. or deserializer. prefix.
const Encoding = "converter.encoding"

// StringConfig describes the StringConverter's settings.
func StringConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: Encoding, Type: configdef.String, Default: "UTF-8",
		Importance: configdef.High, Doc: "The name of the character encoding to use; only UTF-8 is supported."})
}

// String is Kafka's StringConverter: a value is written as its text (a
// string as it is, anything else as Java's toString would print it) and
// read back as an optional string.
type String struct{}

// Config describes the settings.
func (String) Config() *configdef.Def { return StringConfig() }

// Configure checks the encoding: only UTF-8, as Go strings are bytes.
func (String) Configure(props map[string]string, _ bool) error {
	for _, k := range []string{Encoding, "serializer.encoding", "deserializer.encoding"} {
		if enc, ok := props[k]; ok {
			switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(enc), "-", "")) {
			case "UTF8":
			default:
				return connect.ConfigErrorf("StringConverter %s=%s: only UTF-8 is supported", k, enc)
			}
		}
	}
	return nil
}

// FromConnectData writes the value's text.
func (String) FromConnectData(_ string, _ connect.Headers, _ *data.Schema, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	}
	return []byte(data.Format(v)), nil
}

// ToConnectData reads the bytes as an optional string.
func (String) ToConnectData(_ string, _ connect.Headers, b []byte) (*data.Schema, any, error) {
	if b == nil {
		return data.OptionalStringSchema, nil, nil
	}
	return data.OptionalStringSchema, string(b), nil
}

// FromConnectHeader writes a header's text.
func (s String) FromConnectHeader(topic, _ string, schema *data.Schema, v any) ([]byte, error) {
	return s.FromConnectData(topic, nil, schema, v)
}

// ToConnectHeader reads a header as an optional string.
func (s String) ToConnectHeader(topic, _ string, b []byte) (*data.Schema, any, error) {
	return s.ToConnectData(topic, nil, b)
}

type stringHeader struct{ String }

func (h stringHeader) Configure(props map[string]string) error {
	return h.String.Configure(props, false)
}

// ByteArray is Kafka's ByteArrayConverter: bytes pass through unchanged.
type ByteArray struct{}

// Config describes the settings: none.
func (ByteArray) Config() *configdef.Def { return configdef.New() }

// Configure does nothing.
func (ByteArray) Configure(map[string]string, bool) error { return nil }

// FromConnectData passes bytes through; the schema must be Bytes or nil.
func (ByteArray) FromConnectData(_ string, _ connect.Headers, s *data.Schema, v any) ([]byte, error) {
	if s != nil && s.Type != data.TypeBytes {
		return nil, data.Errorf("Invalid schema type for ByteArrayConverter: %s", s.Type)
	}
	if v == nil {
		return nil, nil
	}
	b, ok := v.([]byte)
	if !ok {
		return nil, data.Errorf("ByteArrayConverter is not compatible with objects of type %T", v)
	}
	return b, nil
}

// ToConnectData returns the bytes with an optional Bytes schema.
func (ByteArray) ToConnectData(_ string, _ connect.Headers, b []byte) (*data.Schema, any, error) {
	if b == nil {
		return data.OptionalBytesSchema, nil, nil
	}
	return data.OptionalBytesSchema, b, nil
}

// FromConnectHeader passes bytes through.
func (c ByteArray) FromConnectHeader(topic, _ string, s *data.Schema, v any) ([]byte, error) {
	return c.FromConnectData(topic, nil, s, v)
}

// ToConnectHeader returns the bytes.
func (c ByteArray) ToConnectHeader(topic, _ string, b []byte) (*data.Schema, any, error) {
	return c.ToConnectData(topic, nil, b)
}

type byteArrayHeader struct{ ByteArray }

func (byteArrayHeader) Configure(map[string]string) error { return nil }

// Number is one of Kafka's ShortConverter, IntegerConverter,
// LongConverter, FloatConverter and DoubleConverter: the value in Kafka's
// serializer format, big-endian two's complement or IEEE 754, read back
// with the optional schema of its type. BooleanConverter is the same idea
// with one byte, 0 or 1.
type Number struct {
	t data.Type
}

// NewNumber returns the converter of one type: TypeInt16, TypeInt32,
// TypeInt64, TypeFloat32, TypeFloat64 or TypeBoolean.
func NewNumber(t data.Type) *Number { return &Number{t: t} }

// Config describes the settings: none.
func (*Number) Config() *configdef.Def { return configdef.New() }

// Configure does nothing.
func (*Number) Configure(map[string]string, bool) error { return nil }

func (n *Number) size() int {
	switch n.t {
	case data.TypeInt16:
		return 2
	case data.TypeInt32, data.TypeFloat32:
		return 4
	case data.TypeBoolean:
		return 1
	}
	return 8
}

func (n *Number) javaName() string {
	return map[data.Type]string{data.TypeInt16: "Short", data.TypeInt32: "Integer", data.TypeInt64: "Long",
		data.TypeFloat32: "Float", data.TypeFloat64: "Double", data.TypeBoolean: "Boolean"}[n.t]
}

// FromConnectData serializes the value; it must be of the converter's Go
// type.
func (n *Number) FromConnectData(_ string, _ connect.Headers, s *data.Schema, v any) ([]byte, error) {
	if n.t == data.TypeBoolean && s != nil && s.Type != data.TypeBoolean {
		return nil, data.Errorf("Invalid schema type for BooleanConverter: %s", s.Type)
	}
	if v == nil {
		return nil, nil
	}
	b := make([]byte, n.size())
	ok := true
	switch n.t {
	case data.TypeInt16:
		var x int16
		if x, ok = v.(int16); ok {
			binary.BigEndian.PutUint16(b, uint16(x))
		}
	case data.TypeInt32:
		var x int32
		if x, ok = v.(int32); ok {
			binary.BigEndian.PutUint32(b, uint32(x))
		}
	case data.TypeInt64:
		var x int64
		if x, ok = v.(int64); ok {
			binary.BigEndian.PutUint64(b, uint64(x))
		}
	case data.TypeFloat32:
		var x float32
		if x, ok = v.(float32); ok {
			binary.BigEndian.PutUint32(b, math.Float32bits(x))
		}
	case data.TypeFloat64:
		var x float64
		if x, ok = v.(float64); ok {
			binary.BigEndian.PutUint64(b, math.Float64bits(x))
		}
	case data.TypeBoolean:
		var x bool
		if x, ok = v.(bool); ok && x {
			b[0] = 1
		}
	}
	if !ok {
		return nil, data.Errorf("Failed to serialize to %s (was %T)", strings.ToLower(n.javaName()), v)
	}
	return b, nil
}

// ToConnectData deserializes the value; nil bytes are a null value.
func (n *Number) ToConnectData(_ string, _ connect.Headers, b []byte) (*data.Schema, any, error) {
	schema := data.PrimitiveSchema(n.t, true)
	if b == nil {
		return schema, nil, nil
	}
	if len(b) != n.size() {
		return nil, nil, data.Errorf("Failed to deserialize %s: Size of data received by %sDeserializer is not %d",
			strings.ToLower(n.javaName()), n.javaName(), n.size())
	}
	switch n.t {
	case data.TypeInt16:
		return schema, int16(binary.BigEndian.Uint16(b)), nil
	case data.TypeInt32:
		return schema, int32(binary.BigEndian.Uint32(b)), nil
	case data.TypeInt64:
		return schema, int64(binary.BigEndian.Uint64(b)), nil
	case data.TypeFloat32:
		return schema, math.Float32frombits(binary.BigEndian.Uint32(b)), nil
	case data.TypeFloat64:
		return schema, math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
	switch b[0] {
	case 0:
		return schema, false, nil
	case 1:
		return schema, true, nil
	}
	return nil, nil, data.Errorf("Failed to deserialize boolean: Unexpected byte received by BooleanDeserializer: %d", b[0])
}

// FromConnectHeader serializes a header value.
func (n *Number) FromConnectHeader(topic, _ string, s *data.Schema, v any) ([]byte, error) {
	return n.FromConnectData(topic, nil, s, v)
}

// ToConnectHeader deserializes a header value.
func (n *Number) ToConnectHeader(topic, _ string, b []byte) (*data.Schema, any, error) {
	return n.ToConnectData(topic, nil, b)
}

type numberHeader struct{ *Number }

func (numberHeader) Configure(map[string]string) error { return nil }

// SimpleHeader is Kafka's SimpleHeaderConverter, the default header
// converter: values are written as text (data.ValueString) and read back
// with a schema inferred from the text (data.ParseValue), so "42" comes
// back as an Int8 and "true" as a Boolean.
type SimpleHeader struct{}

// Config describes the settings: none.
func (SimpleHeader) Config() *configdef.Def { return configdef.New() }

// Configure does nothing.
func (SimpleHeader) Configure(map[string]string) error { return nil }

// FromConnectHeader writes the value's text; nil stays nil.
func (SimpleHeader) FromConnectHeader(_, _ string, s *data.Schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return []byte(data.ValueString(s, v)), nil
}

// ToConnectHeader infers the value from the text.
func (SimpleHeader) ToConnectHeader(_, _ string, b []byte) (*data.Schema, any, error) {
	if b == nil {
		return nil, nil, nil
	}
	if len(b) == 0 {
		return data.StringSchema, "", nil
	}
	s, v := data.ParseValue(string(b))
	return s, v, nil
}

func reflectList(v any) []any {
	rv := reflect.ValueOf(v)
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

var (
	_ connect.Converter       = String{}
	_ connect.HeaderConverter = stringHeader{}
	_ connect.Converter       = ByteArray{}
	_ connect.HeaderConverter = byteArrayHeader{}
	_ connect.Converter       = (*Number)(nil)
	_ connect.HeaderConverter = numberHeader{}
	_ connect.HeaderConverter = SimpleHeader{}
)
