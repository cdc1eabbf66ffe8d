package converter

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connect/data"
)

func jsonConv(t *testing.T, props map[string]string) *JSON {
	t.Helper()
	c := &JSON{}
	if err := c.Configure(props, false); err != nil {
		t.Fatal(err)
	}
	return c
}

// The expected texts below follow Kafka's documentation of JsonConverter:
// the envelope {"schema","payload"}, schema fields in Kafka's order, and
// the encodings of bytes (base64), decimals, dates and maps.
func TestJSONWithSchemaWrites(t *testing.T) {
	person := data.NewStructSchema("person",
		data.Field{Name: "id", Schema: data.Int32Schema},
		data.Field{Name: "name", Schema: data.OptionalStringSchema},
		data.Field{Name: "tags", Schema: data.NewArraySchema(data.StringSchema)},
	)
	p := data.NewStruct(person).MustPut("id", int32(7)).MustPut("name", "Ada <&>").MustPut("tags", []any{"a", "b"})
	cases := []struct {
		name   string
		schema *data.Schema
		value  any
		want   string
	}{
		{"string", data.StringSchema, "hello", `{"schema":{"type":"string","optional":false},"payload":"hello"}`},
		{"optional null", data.OptionalStringSchema, nil, `{"schema":{"type":"string","optional":true},"payload":null}`},
		{"int64", data.Int64Schema, int64(-5), `{"schema":{"type":"int64","optional":false},"payload":-5}`},
		{"float32", data.Float32Schema, float32(1.5), `{"schema":{"type":"float","optional":false},"payload":1.5}`},
		{"double", data.Float64Schema, 2.25, `{"schema":{"type":"double","optional":false},"payload":2.25}`},
		{"bytes", data.BytesSchema, []byte("hi"), `{"schema":{"type":"bytes","optional":false},"payload":"aGk="}`},
		{"struct", person, p, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"}],"optional":false,"name":"person"},"payload":{"id":7,"name":"Ada <&>","tags":["a","b"]}}`},
		{"string map", data.NewMapSchema(data.StringSchema, data.Int32Schema), map[any]any{"b": int32(2), "a": int32(1)},
			`{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"a":1,"b":2}}`},
		{"int map", data.NewMapSchema(data.Int32Schema, data.StringSchema), map[any]any{int32(1): "x"},
			`{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"string","optional":false},"optional":false},"payload":[[1,"x"]]}`},
		{"decimal", data.DecimalSchema(2), data.NewDecimal(156, 2),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}`},
		{"date", data.DateSchema, time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC),
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":18263}`},
		{"timestamp", data.TimestampSchema, time.UnixMilli(1600000000123).UTC(),
			`{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":1600000000123}`},
		{"default for null", &data.Schema{Type: data.TypeInt32, Optional: true, Default: int32(9)}, nil,
			`{"schema":{"type":"int32","optional":true,"default":9},"payload":9}`},
		{"escapes", data.StringSchema, "a\"b\\c\nd\x01", `{"schema":{"type":"string","optional":false},"payload":"a\"b\\c\nd\u0001"}`},
	}
	c := jsonConv(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.FromConnectData("t", nil, tc.schema, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			// And back: the same schema and value.
			s, v, err := c.ToConnectData("t", nil, got)
			if err != nil {
				t.Fatal(err)
			}
			if !data.Equal(s, tc.schema) {
				t.Errorf("schema back: got %v, want %v", s, tc.schema)
			}
			want := tc.value
			if want == nil {
				want = tc.schema.Default
			}
			if !data.ValuesEqual(v, want) {
				t.Errorf("value back: got %#v, want %#v", v, want)
			}
		})
	}
}

func TestJSONNullsAndTombstones(t *testing.T) {
	c := jsonConv(t, nil)
	b, err := c.FromConnectData("t", nil, nil, nil)
	if err != nil || b != nil {
		t.Fatalf("null schema and value: got %q, %v; want nil bytes (a tombstone)", b, err)
	}
	s, v, err := c.ToConnectData("t", nil, nil)
	if err != nil || s != nil || v != nil {
		t.Fatalf("nil bytes: got %v %v %v; want nil schema and value", s, v, err)
	}
	if _, err := c.FromConnectData("t", nil, data.StringSchema, nil); err == nil {
		t.Fatal("null for a required schema without default: want an error")
	}
	if _, _, err := c.ToConnectData("t", nil, []byte(`{"schema":{"type":"string","optional":false},"payload":null}`)); err == nil {
		t.Fatal("null payload for a required schema: want an error")
	}
	// replace.null.with.default=false keeps the null.
	keep := jsonConv(t, map[string]string{ReplaceNullWithDefault: "false"})
	got, err := keep.FromConnectData("t", nil, &data.Schema{Type: data.TypeInt32, Optional: true, Default: int32(9)}, nil)
	if err != nil || !strings.HasSuffix(string(got), `"payload":null}`) {
		t.Fatalf("replace.null.with.default=false: got %s, %v", got, err)
	}
}

func TestJSONEnvelopeRequired(t *testing.T) {
	c := jsonConv(t, nil)
	for _, in := range []string{`{"a":1}`, `"x"`, `{"schema":null,"payload":1,"extra":2}`, `not json`, `{"schema":null,"payload":1}}`, `{"schema":null,"payload":1} 2`, `{"schema":{"type":"nope"},"payload":1}`} {
		if _, _, err := c.ToConnectData("t", nil, []byte(in)); err == nil {
			t.Errorf("%s: want an error with schemas.enable=true", in)
		}
	}
	_, _, err := c.ToConnectData("t", nil, []byte(`{"a":1}`))
	if err == nil || !strings.Contains(err.Error(), "schemas.enable=false") {
		t.Fatalf("error should point at schemas.enable: %v", err)
	}
	// A null schema in the envelope means a schemaless payload.
	s, v, err := c.ToConnectData("t", nil, []byte(`{"schema":null,"payload":{"n":3}}`))
	if err != nil || s != nil || !data.ValuesEqual(v, map[string]any{"n": int64(3)}) {
		t.Fatalf("null schema envelope: got %v %#v %v", s, v, err)
	}
}

func TestJSONSchemaless(t *testing.T) {
	c := jsonConv(t, map[string]string{SchemasEnable: "false"})
	s, v, err := c.ToConnectData("t", nil, []byte(`{"a":1,"b":[true,null,"x"],"c":1.5,"d":{"e":-2}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(1), "b": []any{true, nil, "x"}, "c": 1.5, "d": map[string]any{"e": int64(-2)}}
	if s != nil || !data.ValuesEqual(v, want) {
		t.Fatalf("got %v %#v, want nil schema and %#v", s, v, want)
	}
	out, err := c.FromConnectData("t", nil, nil, map[string]any{"b": int64(1), "a": "x", "c": []any{1.5, nil}})
	if err != nil || string(out) != `{"a":"x","b":1,"c":[1.5,null]}` {
		t.Fatalf("schemaless write: got %s, %v", out, err)
	}
	out, err = c.FromConnectData("t", nil, data.StringSchema, "plain")
	if err != nil || string(out) != `"plain"` {
		t.Fatalf("schema'd value without envelope: got %s, %v", out, err)
	}
	if b, err := c.FromConnectData("t", nil, nil, nil); b != nil || err != nil {
		t.Fatalf("tombstone: got %q %v", b, err)
	}
	if _, err := c.FromConnectData("t", nil, nil, struct{}{}); err == nil {
		t.Fatal("a Go type with no schema type: want an error")
	}
}

func TestJSONDecimalNumeric(t *testing.T) {
	c := jsonConv(t, map[string]string{DecimalFormat: "NUMERIC"})
	out, err := c.FromConnectData("t", nil, data.DecimalSchema(2), data.NewDecimal(-1005, 2))
	if err != nil || !strings.HasSuffix(string(out), `"payload":-10.05}`) {
		t.Fatalf("got %s, %v", out, err)
	}
	_, v, err := c.ToConnectData("t", nil, out)
	if err != nil || !data.ValuesEqual(v, data.NewDecimal(-1005, 2)) {
		t.Fatalf("back: %v %v", v, err)
	}
}

func TestJSONSchemaAttributes(t *testing.T) {
	s := &data.Schema{Type: data.TypeString, Optional: true, Name: "n", Version: data.Int32Ptr(3), Doc: "d",
		Parameters: map[string]string{"k": "v"}, Default: "def"}
	c := jsonConv(t, nil)
	out, err := c.FromConnectData("t", nil, s, "x")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"string","optional":true,"name":"n","version":3,"doc":"d","parameters":{"k":"v"},"default":"def"},"payload":"x"}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	back, _, err := c.ToConnectData("t", nil, out)
	if err != nil || !data.Equal(back, s) {
		t.Fatalf("schema back: %v %v", back, err)
	}
}

func TestString(t *testing.T) {
	c := String{}
	if err := c.Configure(map[string]string{Encoding: "UTF8"}, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(map[string]string{Encoding: "UTF-16"}, false); err == nil {
		t.Fatal("UTF-16: want an error")
	}
	st := data.NewStruct(data.NewStructSchema("", data.Field{Name: "a", Schema: data.Int32Schema}, data.Field{Name: "b", Schema: data.OptionalStringSchema})).MustPut("a", int32(1))
	for _, tc := range []struct {
		v    any
		want []byte
	}{
		{"héllo", []byte("héllo")},
		{nil, nil},
		{int32(5), []byte("5")},
		{1.0, []byte("1.0")},
		{st, []byte("Struct{a=1}")},
		{[]any{"a", int64(2)}, []byte("[a, 2]")},
	} {
		got, err := c.FromConnectData("t", nil, nil, tc.v)
		if err != nil || !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("%#v: got %q, %v; want %q", tc.v, got, err, tc.want)
		}
	}
	s, v, err := c.ToConnectData("t", nil, []byte("abc"))
	if err != nil || !data.Equal(s, data.OptionalStringSchema) || v != "abc" {
		t.Fatalf("read: %v %v %v", s, v, err)
	}
	s, v, err = c.ToConnectData("t", nil, nil)
	if err != nil || !data.Equal(s, data.OptionalStringSchema) || v != nil {
		t.Fatalf("read null: %v %v %v", s, v, err)
	}
}

func TestByteArray(t *testing.T) {
	c := ByteArray{}
	got, err := c.FromConnectData("t", nil, data.BytesSchema, []byte{0, 1, 2})
	if err != nil || !bytes.Equal(got, []byte{0, 1, 2}) {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := c.FromConnectData("t", nil, data.StringSchema, "x"); err == nil {
		t.Fatal("string schema: want an error")
	}
	if _, err := c.FromConnectData("t", nil, nil, "x"); err == nil {
		t.Fatal("string value: want an error")
	}
	if b, err := c.FromConnectData("t", nil, nil, nil); b != nil || err != nil {
		t.Fatalf("null: %v %v", b, err)
	}
	s, v, _ := c.ToConnectData("t", nil, []byte{9})
	if !data.Equal(s, data.OptionalBytesSchema) || !bytes.Equal(v.([]byte), []byte{9}) {
		t.Fatalf("read: %v %v", s, v)
	}
}

// Kafka's serializers: big-endian, IEEE 754, a boolean as one byte.
func TestNumberConverters(t *testing.T) {
	cases := []struct {
		typ   data.Type
		value any
		bytes []byte
	}{
		{data.TypeInt16, int16(-2), []byte{0xff, 0xfe}},
		{data.TypeInt32, int32(1), []byte{0, 0, 0, 1}},
		{data.TypeInt64, int64(258), []byte{0, 0, 0, 0, 0, 0, 1, 2}},
		{data.TypeFloat32, float32(1.5), []byte{0x3f, 0xc0, 0, 0}},
		{data.TypeFloat64, -2.0, []byte{0xc0, 0, 0, 0, 0, 0, 0, 0}},
		{data.TypeBoolean, true, []byte{1}},
		{data.TypeBoolean, false, []byte{0}},
	}
	for _, tc := range cases {
		c := NewNumber(tc.typ)
		got, err := c.FromConnectData("t", nil, nil, tc.value)
		if err != nil || !bytes.Equal(got, tc.bytes) {
			t.Errorf("%v %v: got %x %v, want %x", tc.typ, tc.value, got, err, tc.bytes)
		}
		s, v, err := c.ToConnectData("t", nil, tc.bytes)
		if err != nil || v != tc.value || !data.Equal(s, data.PrimitiveSchema(tc.typ, true)) {
			t.Errorf("%v back: got %v %#v %v", tc.typ, s, v, err)
		}
		if _, _, err := c.ToConnectData("t", nil, append(tc.bytes, 0)); err == nil {
			t.Errorf("%v: a wrong size must fail", tc.typ)
		}
		if b, err := c.FromConnectData("t", nil, nil, nil); b != nil || err != nil {
			t.Errorf("%v null: %v %v", tc.typ, b, err)
		}
		if s, v, err := c.ToConnectData("t", nil, nil); v != nil || err != nil || !s.Optional {
			t.Errorf("%v read null: %v %v %v", tc.typ, s, v, err)
		}
		if _, err := c.FromConnectData("t", nil, nil, "text"); err == nil {
			t.Errorf("%v: a string value must fail", tc.typ)
		}
	}
	if _, _, err := NewNumber(data.TypeBoolean).ToConnectData("t", nil, []byte{2}); err == nil {
		t.Error("boolean byte 2: want an error")
	}
	if _, err := NewNumber(data.TypeBoolean).FromConnectData("t", nil, data.StringSchema, true); err == nil {
		t.Error("boolean with a string schema: want an error")
	}
}

// SimpleHeaderConverter writes text and infers the schema back, as Kafka's
// Values.parseString.
func TestSimpleHeader(t *testing.T) {
	c := SimpleHeader{}
	cases := []struct {
		schema   *data.Schema
		value    any
		text     string
		wantType data.Type
		wantName string
		back     any
	}{
		{data.StringSchema, "hello world", "hello world", data.TypeString, "", "hello world"},
		{data.Int32Schema, int32(42), "42", data.TypeInt8, "", int8(42)},
		{data.Int64Schema, int64(1) << 40, "1099511627776", data.TypeInt64, "", int64(1) << 40},
		{data.Int32Schema, int32(300), "300", data.TypeInt16, "", int16(300)},
		{data.BooleanSchema, true, "true", data.TypeBoolean, "", true},
		{data.Float32Schema, float32(1.5), "1.5", data.TypeFloat32, "", float32(1.5)},
		{data.NewArraySchema(data.Int32Schema), []any{int32(1), int32(2)}, "[1,2]", data.TypeArray, "", []any{int8(1), int8(2)}},
		{data.NewMapSchema(data.StringSchema, data.StringSchema), map[any]any{"a": "x"}, `{"a":"x"}`, data.TypeMap, "", map[any]any{"a": "x"}},
		{data.DateSchema, time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC), "2021-03-04", data.TypeInt32, data.DateName, time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC)},
		{data.TimestampSchema, time.UnixMilli(1600000000123).UTC(), "2020-09-13T12:26:40.123Z", data.TypeInt64, data.TimestampName, time.UnixMilli(1600000000123).UTC()},
		{data.TimeSchema, time.UnixMilli(3723004).UTC(), "01:02:03.004Z", data.TypeInt32, data.TimeName, time.UnixMilli(3723004).UTC()},
		{data.StringSchema, "[not, closed", "[not, closed", data.TypeString, "", "[not, closed"},
		{data.StringSchema, "true}", "true}", data.TypeString, "", "true}"},
	}
	for _, tc := range cases {
		b, err := c.FromConnectHeader("t", "h", tc.schema, tc.value)
		if err != nil || string(b) != tc.text {
			t.Errorf("%#v: wrote %q %v, want %q", tc.value, b, err, tc.text)
			continue
		}
		s, v, err := c.ToConnectHeader("t", "h", b)
		if err != nil || s == nil || s.Type != tc.wantType || s.Name != tc.wantName || !data.ValuesEqual(v, tc.back) {
			t.Errorf("%q: read %v %#v %v, want %v %q %#v", tc.text, s, v, err, tc.wantType, tc.wantName, tc.back)
		}
	}
	if b, _ := c.FromConnectHeader("t", "h", nil, nil); b != nil {
		t.Error("null header value must stay null")
	}
	if s, v, _ := c.ToConnectHeader("t", "h", nil); s != nil || v != nil {
		t.Error("null header bytes must read as null")
	}
	if s, v, _ := c.ToConnectHeader("t", "h", []byte{}); s.Type != data.TypeString || v != "" {
		t.Error("empty header bytes must read as the empty string")
	}
}

func TestPluginAliases(t *testing.T) {
	names := map[string]bool{}
	for _, p := range Plugins() {
		names[p.Class] = true
		for _, a := range p.Aliases() {
			names[a] = true
		}
	}
	for _, want := range []string{"org.apache.kafka.connect.json.JsonConverter", "JsonConverter", "Json",
		"StringConverter", "String", "ByteArrayConverter", "IntegerConverter", "BooleanConverter", "SimpleHeaderConverter", "Simple"} {
		if !names[want] {
			t.Errorf("no converter answers to %q", want)
		}
	}
}

// BenchmarkJSONToConnectData reads the record the PostgreSQL sink benchmark
// carries: a four-column struct in the schema envelope.
func BenchmarkJSONToConnectData(b *testing.B) {
	c := &JSON{}
	if err := c.Configure(nil, false); err != nil {
		b.Fatal(err)
	}
	vs := data.NewStructSchema("v", data.Field{Name: "id", Schema: data.Int64Schema}, data.Field{Name: "name", Index: 1, Schema: data.StringSchema},
		data.Field{Name: "score", Index: 2, Schema: data.OptionalFloat64Schema}, data.Field{Name: "active", Index: 3, Schema: data.OptionalBooleanSchema})
	in, err := c.FromConnectData("t", nil, vs, data.NewStruct(vs).MustPut("id", int64(12345)).MustPut("name", "name-12345").MustPut("score", 1.5).MustPut("active", true))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.ToConnectData("t", nil, in); err != nil {
			b.Fatal(err)
		}
	}
}

// Envelopes that begin with the last schema read take a shortcut past the
// schema; it must give the same answers, and the same refusals, as the full
// path.
func TestJSONKnownSchemaShortcut(t *testing.T) {
	c := jsonConv(t, nil)
	const schema = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"v"}`
	for i, want := range []int64{1, 2, 3} {
		in := `{"schema":` + schema + `,"payload":{"id":` + string(rune('0'+want)) + `}}`
		if i == 2 {
			in += " \n"
		}
		s, v, err := c.ToConnectData("t", nil, []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if s.Name != "v" || v.(*data.Struct).Get("id") != want {
			t.Fatalf("%s: got %v %v", in, s, v)
		}
	}
	for _, in := range []string{
		`{"schema":` + schema + `,"payload":{"id":1},"extra":2}`,
		`{"schema":` + schema + `,"payload":{"id":1}}}`,
		`{"schema":` + schema + `,"payload":{"id":"one"}}`,
		`{"schema":` + schema + `,"payload":}`,
	} {
		if _, _, err := c.ToConnectData("t", nil, []byte(in)); err == nil {
			t.Errorf("%s: want an error", in)
		}
	}
	// Another schema after the shortcut's: read by its own schema.
	s, v, err := c.ToConnectData("t", nil, []byte(`{"schema":{"type":"string","optional":false},"payload":"x"}`))
	if err != nil || s.Type != data.TypeString || v != "x" {
		t.Fatalf("second schema: %v %v %v", s, v, err)
	}
}
