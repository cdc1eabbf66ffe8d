package transform

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/data"
)

// The expectations in this file are written from Kafka's documentation of
// each transform (kafka.apache.org, "Transformations"), for records with
// and without schemas and for null values.

func configured(t *testing.T, name string, props map[string]string) connect.Transformation {
	t.Helper()
	reg := connect.NewRegistry().MustRegister(Plugins()...)
	tr, err := reg.NewTransformation(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Configure(props); err != nil {
		t.Fatalf("configure %s %v: %v", name, props, err)
	}
	return tr
}

func apply(t *testing.T, tr connect.Transformation, r connect.AnyRecord) *connect.Record {
	t.Helper()
	out, err := tr.Apply(r)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if out == nil {
		return nil
	}
	return out.Base()
}

func applyErr(t *testing.T, tr connect.Transformation, r connect.AnyRecord) error {
	t.Helper()
	_, err := tr.Apply(r)
	if err == nil {
		t.Fatalf("apply: want an error")
	}
	return err
}

func sink(keySchema *data.Schema, key any, valueSchema *data.Schema, value any) *connect.SinkRecord {
	return &connect.SinkRecord{Record: connect.Record{Topic: "orders", Partition: connect.Int32Ptr(3),
		KeySchema: keySchema, Key: key, ValueSchema: valueSchema, Value: value,
		Timestamp: time.UnixMilli(1600000000123).UTC()}, Offset: 42}
}

func source(valueSchema *data.Schema, value any) *connect.SourceRecord {
	return &connect.SourceRecord{Record: connect.Record{Topic: "orders", ValueSchema: valueSchema, Value: value,
		Timestamp: time.UnixMilli(1600000000123).UTC()}}
}

var personSchema = data.NewStructSchema("person",
	data.Field{Name: "id", Schema: data.Int64Schema},
	data.Field{Name: "name", Schema: data.OptionalStringSchema},
	data.Field{Name: "age", Schema: data.OptionalInt32Schema},
)

func person() *data.Struct {
	return data.NewStruct(personSchema).MustPut("id", int64(1)).MustPut("name", "Ada").MustPut("age", int32(36))
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !data.ValuesEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", what, got, want)
	}
}

func TestCast(t *testing.T) {
	tr := configured(t, "org.apache.kafka.connect.transforms.Cast$Value", map[string]string{"spec": "id:string,age:float64"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	f, _ := out.ValueSchema.Field("id")
	if f.Schema.Type != data.TypeString || f.Schema.Optional {
		t.Fatalf("id schema: %v", f.Schema)
	}
	f, _ = out.ValueSchema.Field("age")
	if f.Schema.Type != data.TypeFloat64 || !f.Schema.Optional {
		t.Fatalf("age schema: %v", f.Schema)
	}
	st := out.Value.(*data.Struct)
	mustEqual(t, "id", st.Get("id"), "1")
	mustEqual(t, "age", st.Get("age"), 36.0)
	mustEqual(t, "name", st.Get("name"), "Ada")

	// Schemaless.
	out = apply(t, tr, sink(nil, nil, nil, map[string]any{"id": int64(7), "age": "12.5", "x": true}))
	mustEqual(t, "schemaless", out.Value, map[string]any{"id": "7", "age": 12.5, "x": true})

	// Whole value, with truncation as Java narrows.
	whole := configured(t, "Cast$Value", map[string]string{"spec": "int8"})
	out = apply(t, whole, sink(nil, nil, data.Int64Schema, int64(300)))
	mustEqual(t, "int64 300 to int8", out.Value, int8(44))
	if out.ValueSchema.Type != data.TypeInt8 {
		t.Fatalf("whole schema: %v", out.ValueSchema)
	}
	out = apply(t, whole, sink(nil, nil, nil, "12"))
	mustEqual(t, "string to int8", out.Value, int8(12))
	applyErr(t, whole, sink(nil, nil, nil, "abc"))
	boolCast := configured(t, "Cast$Key", map[string]string{"spec": "boolean"})
	out = apply(t, boolCast, sink(data.Float64Schema, 0.0, nil, nil))
	mustEqual(t, "0.0 to boolean", out.Key, false)
	out = apply(t, boolCast, sink(nil, "TRUE", nil, nil))
	mustEqual(t, "TRUE to boolean", out.Key, true)
	str := configured(t, "Cast$Value", map[string]string{"spec": "string"})
	out = apply(t, str, sink(nil, nil, data.BytesSchema, []byte("hi")))
	mustEqual(t, "bytes to string is base64", out.Value, "aGk=")
	out = apply(t, str, sink(nil, nil, data.Float32Schema, float32(1)))
	mustEqual(t, "float to string as Java prints it", out.Value, "1.0")
	out = apply(t, str, sink(nil, nil, data.TimestampSchema, time.UnixMilli(1600000000123).UTC()))
	mustEqual(t, "timestamp to string", out.Value, "2020-09-13T12:26:40.123Z")

	// Tombstones pass; bytes only cast to string; bad specs fail.
	out = apply(t, tr, sink(nil, nil, personSchema, nil))
	if out.Value != nil || out.ValueSchema != personSchema {
		t.Fatal("a tombstone must pass unchanged")
	}
	applyErr(t, whole, sink(nil, nil, data.BytesSchema, []byte{1}))
	for _, spec := range []string{"a:struct", "nope", "int8,a:int16", "a:b:c"} {
		if err := (&Cast{}).Configure(map[string]string{"spec": spec}); err == nil {
			t.Errorf("spec %q: want a config error", spec)
		}
	}
	// A null field stays null; a default is cast too.
	withDefault := data.NewStructSchema("", data.Field{Name: "n", Schema: &data.Schema{Type: data.TypeInt32, Optional: true, Default: int32(5)}})
	out = apply(t, configured(t, "Cast$Value", map[string]string{"spec": "n:string"}), sink(nil, nil, withDefault, data.NewStruct(withDefault)))
	nf, _ := out.ValueSchema.Field("n")
	mustEqual(t, "cast default", nf.Schema.Default, "5")
	mustEqual(t, "null field takes the default", out.Value.(*data.Struct).Get("n"), "5")
}

func TestDropHeaders(t *testing.T) {
	tr := configured(t, "DropHeaders", map[string]string{"headers": "a, b"})
	r := sink(nil, nil, nil, "v")
	r.Headers = connect.Headers{{Key: "a", Value: "1"}, {Key: "c", Value: "2"}, {Key: "b", Value: "3"}, {Key: "a", Value: "4"}}
	out := apply(t, tr, r)
	if len(out.Headers) != 1 || out.Headers[0].Key != "c" {
		t.Fatalf("headers: %v", out.Headers)
	}
	if len(r.Headers) != 4 {
		t.Fatal("the input record must not change")
	}
	if err := (&DropHeaders{}).Configure(map[string]string{}); err == nil {
		t.Fatal("headers is required")
	}
}

func TestExtractField(t *testing.T) {
	tr := configured(t, "ExtractField$Value", map[string]string{"field": "name"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	if out.Value != "Ada" || !data.Equal(out.ValueSchema, data.OptionalStringSchema) {
		t.Fatalf("got %v %v", out.ValueSchema, out.Value)
	}
	out = apply(t, tr, sink(nil, nil, nil, map[string]any{"name": "Bo", "x": 1}))
	if out.Value != "Bo" || out.ValueSchema != nil {
		t.Fatalf("schemaless: %v", out.Value)
	}
	out = apply(t, tr, sink(nil, nil, personSchema, nil))
	if out.Value != nil || !data.Equal(out.ValueSchema, data.OptionalStringSchema) {
		t.Fatalf("null value: %v %v", out.ValueSchema, out.Value)
	}
	out = apply(t, tr, sink(nil, nil, nil, nil))
	if out.Value != nil {
		t.Fatal("schemaless null stays null")
	}
	applyErr(t, configured(t, "ExtractField$Value", map[string]string{"field": "nope"}), sink(nil, nil, personSchema, person()))
	applyErr(t, tr, sink(nil, nil, nil, "not a map"))
	key := configured(t, "ExtractField$Key", map[string]string{"field": "id"})
	out = apply(t, key, sink(personSchema, person(), nil, "v"))
	if out.Key != int64(1) || out.Value != "v" {
		t.Fatalf("key variant: %v %v", out.Key, out.Value)
	}
}

func TestFilterAndPredicates(t *testing.T) {
	if out := apply(t, configured(t, "Filter", nil), sink(nil, nil, nil, "v")); out != nil {
		t.Fatal("Filter must drop the record")
	}
	reg := connect.NewRegistry().MustRegister(Plugins()...)
	p, err := reg.NewPredicate("TopicNameMatches")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(map[string]string{"pattern": "ord.*"}); err != nil {
		t.Fatal(err)
	}
	if !p.Test(sink(nil, nil, nil, "v")) {
		t.Error("orders matches ord.*")
	}
	if err := p.Configure(map[string]string{"pattern": "ord"}); err != nil {
		t.Fatal(err)
	}
	if p.Test(sink(nil, nil, nil, "v")) {
		t.Error("the pattern must match the whole topic")
	}
	if err := p.Configure(map[string]string{"pattern": "("}); err == nil {
		t.Error("a bad regex must fail")
	}
	h, _ := reg.NewPredicate("org.apache.kafka.connect.transforms.predicates.HasHeaderKey")
	if err := h.Configure(map[string]string{"name": "trace"}); err != nil {
		t.Fatal(err)
	}
	r := sink(nil, nil, nil, "v")
	if h.Test(r) {
		t.Error("no headers")
	}
	r.Headers = r.Headers.Add("trace", nil, nil)
	if !h.Test(r) {
		t.Error("header trace is there (with a null value)")
	}
	tomb, _ := reg.NewPredicate("RecordIsTombstone")
	if !tomb.Test(sink(nil, "k", nil, nil)) || tomb.Test(sink(nil, nil, nil, "v")) {
		t.Error("RecordIsTombstone")
	}
}

func TestFlatten(t *testing.T) {
	inner := data.NewStructSchema("inner",
		data.Field{Name: "b", Schema: data.Int32Schema},
		data.Field{Name: "c", Schema: data.NewArraySchema(data.StringSchema)})
	outer := data.NewStructSchema("outer",
		data.Field{Name: "a", Schema: inner.AsOptional()},
		data.Field{Name: "d", Schema: data.StringSchema})
	v := data.NewStruct(outer).
		MustPut("a", data.NewStruct(inner.AsOptional()).MustPut("b", int32(1)).MustPut("c", []any{"x"})).
		MustPut("d", "top")
	tr := configured(t, "Flatten$Value", map[string]string{"delimiter": "_"})
	out := apply(t, tr, sink(nil, nil, outer, v))
	var names []string
	for _, f := range out.ValueSchema.Fields {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "a_b,a_c,d" || out.ValueSchema.Name != "outer" {
		t.Fatalf("flattened fields %v, name %q", names, out.ValueSchema.Name)
	}
	if f, _ := out.ValueSchema.Field("a_b"); !f.Schema.Optional {
		t.Fatal("a_b must be optional: its parent is")
	}
	st := out.Value.(*data.Struct)
	mustEqual(t, "a_b", st.Get("a_b"), int32(1))
	mustEqual(t, "a_c", st.Get("a_c"), []any{"x"})
	mustEqual(t, "d", st.Get("d"), "top")

	// A null nested struct leaves its fields null.
	out = apply(t, tr, sink(nil, nil, outer, data.NewStruct(outer).MustPut("d", "x")))
	if out.Value.(*data.Struct).Get("a_b") != nil {
		t.Fatal("null nested struct")
	}

	out = apply(t, configured(t, "Flatten$Value", nil), sink(nil, nil, nil,
		map[string]any{"a": map[string]any{"b": int64(1), "c": map[string]any{"d": "x"}}, "e": []any{int64(1)}, "f": nil}))
	mustEqual(t, "schemaless", out.Value, map[string]any{"a.b": int64(1), "a.c.d": "x", "e": []any{int64(1)}, "f": nil})

	out = apply(t, tr, sink(nil, nil, outer, nil))
	if out.Value != nil || out.ValueSchema != outer {
		t.Fatal("a tombstone passes unchanged")
	}
	withMap := data.NewStructSchema("", data.Field{Name: "m", Schema: data.NewMapSchema(data.StringSchema, data.StringSchema)})
	applyErr(t, tr, sink(nil, nil, withMap, data.NewStruct(withMap).MustPut("m", map[any]any{})))
}

func TestHeaderFrom(t *testing.T) {
	move := configured(t, "HeaderFrom$Value", map[string]string{"fields": "name,age", "headers": "h_name,h_age", "operation": "move"})
	out := apply(t, move, sink(nil, nil, personSchema, person()))
	if len(out.ValueSchema.Fields) != 1 || out.ValueSchema.Fields[0].Name != "id" {
		t.Fatalf("moved schema %v", out.ValueSchema)
	}
	h, ok := out.Headers.Last("h_name")
	if !ok || h.Value != "Ada" || !data.Equal(h.Schema, data.OptionalStringSchema) {
		t.Fatalf("header h_name: %+v", h)
	}
	if h, _ := out.Headers.Last("h_age"); h.Value != int32(36) {
		t.Fatalf("header h_age: %+v", h)
	}
	copyT := configured(t, "HeaderFrom$Value", map[string]string{"fields": "name", "headers": "h", "operation": "copy"})
	out = apply(t, copyT, sink(nil, nil, nil, map[string]any{"name": "Bo", "x": true}))
	mustEqual(t, "copy keeps the value", out.Value, map[string]any{"name": "Bo", "x": true})
	if h, _ := out.Headers.Last("h"); h.Value != "Bo" || h.Schema != nil {
		t.Fatalf("schemaless header: %+v", h)
	}
	out = apply(t, move, sink(nil, nil, nil, map[string]any{"name": "Bo", "x": true}))
	mustEqual(t, "move removes the field", out.Value, map[string]any{"x": true})
	applyErr(t, copyT, sink(nil, nil, nil, nil))
	if err := (&HeaderFrom{}).Configure(map[string]string{"fields": "a,b", "headers": "h", "operation": "copy"}); err == nil {
		t.Fatal("fields and headers of different lengths must fail")
	}
}

func TestHoistField(t *testing.T) {
	tr := configured(t, "HoistField$Value", map[string]string{"field": "line"})
	out := apply(t, tr, source(data.StringSchema, "hello"))
	st := out.Value.(*data.Struct)
	if st.Get("line") != "hello" || len(out.ValueSchema.Fields) != 1 || out.ValueSchema.Fields[0].Schema != data.StringSchema {
		t.Fatalf("got %v %v", out.ValueSchema, st)
	}
	out = apply(t, tr, source(nil, "hello"))
	mustEqual(t, "schemaless", out.Value, map[string]any{"line": "hello"})
	out = apply(t, tr, source(nil, nil))
	mustEqual(t, "schemaless null", out.Value, map[string]any{"line": nil})
	out = apply(t, tr, source(data.OptionalStringSchema, nil))
	if out.Value.(*data.Struct).Get("line") != nil {
		t.Fatal("optional null is hoisted as null")
	}
	applyErr(t, tr, source(data.StringSchema, nil))
}

func TestInsertField(t *testing.T) {
	tr := configured(t, "InsertField$Value", map[string]string{
		"topic.field": "t", "partition.field": "p!", "offset.field": "o", "timestamp.field": "ts?",
		"static.field": "s", "static.value": "const"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	st := out.Value.(*data.Struct)
	mustEqual(t, "topic", st.Get("t"), "orders")
	mustEqual(t, "partition", st.Get("p"), int32(3))
	mustEqual(t, "offset", st.Get("o"), int64(42))
	mustEqual(t, "timestamp", st.Get("ts"), time.UnixMilli(1600000000123).UTC())
	mustEqual(t, "static", st.Get("s"), "const")
	mustEqual(t, "kept", st.Get("name"), "Ada")
	if f, _ := out.ValueSchema.Field("p"); f.Schema.Optional {
		t.Fatal("p! is required")
	}
	if f, _ := out.ValueSchema.Field("ts"); !f.Schema.Optional || f.Schema.Name != data.TimestampName {
		t.Fatalf("ts: %v", f.Schema)
	}
	out = apply(t, tr, sink(nil, nil, nil, map[string]any{"a": int64(1)}))
	mustEqual(t, "schemaless", out.Value, map[string]any{"a": int64(1), "t": "orders", "p": int32(3), "o": int64(42), "ts": int64(1600000000123), "s": "const"})
	out = apply(t, tr, sink(nil, nil, personSchema, nil))
	if out.Value != nil || out.ValueSchema != personSchema {
		t.Fatal("a tombstone passes unchanged")
	}
	// The offset exists only for sink records.
	applyErr(t, tr, source(nil, map[string]any{}))
	noOffset := configured(t, "InsertField$Value", map[string]string{"topic.field": "t"})
	out = apply(t, noOffset, source(nil, map[string]any{}))
	mustEqual(t, "source record", out.Value, map[string]any{"t": "orders"})
}

func TestInsertHeader(t *testing.T) {
	tr := configured(t, "InsertHeader", map[string]string{"header": "n", "value.literal": "42"})
	out := apply(t, tr, sink(nil, nil, nil, nil))
	h, ok := out.Headers.Last("n")
	if !ok || h.Value != int8(42) || h.Schema.Type != data.TypeInt8 {
		t.Fatalf("header: %+v", h)
	}
	tr = configured(t, "InsertHeader", map[string]string{"header": "s", "value.literal": "hello world"})
	if h, _ := apply(t, tr, sink(nil, nil, nil, "v")).Headers.Last("s"); h.Value != "hello world" {
		t.Fatalf("string header: %+v", h)
	}
}

func TestMaskField(t *testing.T) {
	tr := configured(t, "MaskField$Value", map[string]string{"fields": "name,age"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	st := out.Value.(*data.Struct)
	mustEqual(t, "name", st.Get("name"), "")
	mustEqual(t, "age", st.Get("age"), int32(0))
	mustEqual(t, "id", st.Get("id"), int64(1))
	out = apply(t, tr, sink(nil, nil, nil, map[string]any{"name": "x", "age": 3.5, "other": true, "list": []any{1}}))
	mustEqual(t, "schemaless", out.Value, map[string]any{"name": "", "age": 0.0, "other": true, "list": []any{1}})
	repl := configured(t, "MaskField$Value", map[string]string{"fields": "name,age", "replacement": "99"})
	st = apply(t, repl, sink(nil, nil, personSchema, person())).Value.(*data.Struct)
	mustEqual(t, "replacement string", st.Get("name"), "99")
	mustEqual(t, "replacement number", st.Get("age"), int32(99))
	bad := configured(t, "MaskField$Value", map[string]string{"fields": "age", "replacement": "x"})
	applyErr(t, bad, sink(nil, nil, personSchema, person()))
	// A null field stays null; a null value fails, as Kafka's.
	st = apply(t, tr, sink(nil, nil, personSchema, data.NewStruct(personSchema).MustPut("id", int64(2)))).Value.(*data.Struct)
	if st.Get("name") != nil {
		t.Fatal("null field stays null")
	}
	applyErr(t, tr, sink(nil, nil, personSchema, nil))
}

func TestRegexRouter(t *testing.T) {
	tr := configured(t, "RegexRouter", map[string]string{"regex": "(.*)ers", "replacement": "$1-v2"})
	if out := apply(t, tr, sink(nil, nil, nil, "v")); out.Topic != "ord-v2" {
		t.Fatalf("topic %q", out.Topic)
	}
	tr = configured(t, "RegexRouter", map[string]string{"regex": "ord", "replacement": "x"})
	if out := apply(t, tr, sink(nil, nil, nil, "v")); out.Topic != "orders" {
		t.Fatalf("a partial match must not route: %q", out.Topic)
	}
	tr = configured(t, "RegexRouter", map[string]string{"regex": "orders", "replacement": `\$cost`})
	if out := apply(t, tr, sink(nil, nil, nil, "v")); out.Topic != "$cost" {
		t.Fatalf("escaped dollar: %q", out.Topic)
	}
}

func TestReplaceField(t *testing.T) {
	tr := configured(t, "ReplaceField$Value", map[string]string{"exclude": "age", "renames": "name:full_name"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	var names []string
	for _, f := range out.ValueSchema.Fields {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "id,full_name" {
		t.Fatalf("fields %v", names)
	}
	mustEqual(t, "renamed", out.Value.(*data.Struct).Get("full_name"), "Ada")
	inc := configured(t, "ReplaceField$Value", map[string]string{"include": "id,age", "exclude": "age"})
	out = apply(t, inc, sink(nil, nil, nil, map[string]any{"id": int64(1), "age": int32(2), "name": "x"}))
	mustEqual(t, "include and exclude", out.Value, map[string]any{"id": int64(1)})
	out = apply(t, tr, sink(nil, nil, personSchema, nil))
	if out.Value != nil {
		t.Fatal("tombstone passes")
	}
	if err := (&ReplaceField{}).Configure(map[string]string{"renames": "a"}); err == nil {
		t.Fatal("a rename without a colon must fail")
	}
}

func TestSetSchemaMetadata(t *testing.T) {
	tr := configured(t, "SetSchemaMetadata$Value", map[string]string{"schema.name": "com.example.Person", "schema.version": "2"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	if out.ValueSchema.Name != "com.example.Person" || *out.ValueSchema.Version != 2 {
		t.Fatalf("schema %v", out.ValueSchema)
	}
	st := out.Value.(*data.Struct)
	if st.Schema() != out.ValueSchema || st.Get("name") != "Ada" {
		t.Fatal("the struct must be rebuilt on the new schema")
	}
	if personSchema.Name != "person" {
		t.Fatal("the input schema must not change")
	}
	out = apply(t, tr, sink(nil, nil, data.StringSchema, "x"))
	if out.ValueSchema.Name != "com.example.Person" || out.Value != "x" {
		t.Fatal("primitive schema")
	}
	if out := apply(t, tr, sink(nil, nil, nil, nil)); out.Value != nil || out.ValueSchema != nil {
		t.Fatal("null schema and value pass")
	}
	applyErr(t, tr, sink(nil, nil, nil, map[string]any{}))
}

func TestTimestampConverter(t *testing.T) {
	ts := time.UnixMilli(1600000000123).UTC() // 2020-09-13T12:26:40.123Z
	toString := configured(t, "TimestampConverter$Value", map[string]string{"target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ss.SSSX"})
	out := apply(t, toString, sink(nil, nil, data.TimestampSchema, ts))
	if out.Value != "2020-09-13T12:26:40.123Z" || out.ValueSchema.Type != data.TypeString {
		t.Fatalf("to string: %v %v", out.ValueSchema, out.Value)
	}
	toTS := configured(t, "TimestampConverter$Value", map[string]string{"target.type": "Timestamp", "format": "yyyy-MM-dd HH:mm"})
	out = apply(t, toTS, sink(nil, nil, data.StringSchema, "2021-02-03 04:05"))
	mustEqual(t, "parse", out.Value, time.Date(2021, 2, 3, 4, 5, 0, 0, time.UTC))
	if out.ValueSchema.Name != data.TimestampName {
		t.Fatal("schema")
	}
	applyErr(t, toTS, sink(nil, nil, data.StringSchema, "garbage"))

	unixSec := configured(t, "TimestampConverter$Value", map[string]string{"target.type": "unix", "unix.precision": "seconds", "field": "at"})
	out = apply(t, unixSec, sink(nil, nil, nil, map[string]any{"at": ts, "x": "y"}))
	mustEqual(t, "schemaless field to unix seconds", out.Value, map[string]any{"at": int64(1600000000), "x": "y"})

	toDate := configured(t, "TimestampConverter$Value", map[string]string{"target.type": "Date", "field": "at"})
	s := data.NewStructSchema("e", data.Field{Name: "at", Schema: data.OptionalInt64Schema}, data.Field{Name: "n", Schema: data.StringSchema})
	out = apply(t, toDate, sink(nil, nil, s, data.NewStruct(s).MustPut("at", int64(1600000000123)).MustPut("n", "x")))
	f, _ := out.ValueSchema.Field("at")
	if f.Schema.Name != data.DateName || !f.Schema.Optional {
		t.Fatalf("date field schema %v", f.Schema)
	}
	mustEqual(t, "date", out.Value.(*data.Struct).Get("at"), time.Date(2020, 9, 13, 0, 0, 0, 0, time.UTC))
	toTime := configured(t, "TimestampConverter$Value", map[string]string{"target.type": "Time"})
	out = apply(t, toTime, sink(nil, nil, nil, int64(1600000000123)))
	mustEqual(t, "time", out.Value, time.UnixMilli((12*3600+26*60+40)*1000+123).UTC())

	// Nulls stay null; a null struct gets the converted schema.
	out = apply(t, toDate, sink(nil, nil, s, nil))
	if out.Value != nil || out.ValueSchema == s {
		t.Fatalf("null struct: %v %v", out.ValueSchema, out.Value)
	}
	out = apply(t, toString, sink(nil, nil, nil, nil))
	if out.Value != nil {
		t.Fatal("schemaless null")
	}
	if err := (&TimestampConverter{}).Configure(map[string]string{"target.type": "string"}); err == nil {
		t.Fatal("string target without format must fail")
	}
}

func TestTimestampRouter(t *testing.T) {
	tr := configured(t, "TimestampRouter", nil)
	if out := apply(t, tr, sink(nil, nil, nil, "v")); out.Topic != "orders-20200913" {
		t.Fatalf("default format: %q", out.Topic)
	}
	tr = configured(t, "TimestampRouter", map[string]string{"topic.format": "${timestamp}.${topic}", "timestamp.format": "yyyy-MM"})
	if out := apply(t, tr, sink(nil, nil, nil, "v")); out.Topic != "2020-09.orders" {
		t.Fatalf("custom: %q", out.Topic)
	}
	r := sink(nil, nil, nil, "v")
	r.Timestamp = time.Time{}
	applyErr(t, tr, r)
}

func TestValueToKey(t *testing.T) {
	tr := configured(t, "ValueToKey", map[string]string{"fields": "id,name"})
	out := apply(t, tr, sink(nil, nil, personSchema, person()))
	k := out.Key.(*data.Struct)
	if len(out.KeySchema.Fields) != 2 || k.Get("id") != int64(1) || k.Get("name") != "Ada" {
		t.Fatalf("key %v %v", out.KeySchema, k)
	}
	if out.Value.(*data.Struct).Get("age") != int32(36) {
		t.Fatal("the value is kept")
	}
	out = apply(t, tr, sink(nil, nil, nil, map[string]any{"id": int64(1), "name": "x", "z": 1}))
	mustEqual(t, "schemaless", out.Key, map[string]any{"id": int64(1), "name": "x"})
	applyErr(t, configured(t, "ValueToKey", map[string]string{"fields": "nope"}), sink(nil, nil, personSchema, person()))
	applyErr(t, tr, sink(nil, nil, nil, nil))
}

func TestDateFormat(t *testing.T) {
	ts := time.Date(2021, 3, 4, 5, 6, 7, 8e6, time.UTC)
	for _, tc := range []struct{ pattern, text string }{
		{"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", "2021-03-04T05:06:07.008Z"},
		{"yyyyMMddHHmmss", "20210304050607"},
		{"dd MMM yyyy hh:mm a", "04 Mar 2021 05:06 AM"},
		{"EEEE, MMMM d, ''yy", "Thursday, March 4, '21"},
		{"yyyy-MM-dd HH:mm:ss Z", "2021-03-04 05:06:07 +0000"},
	} {
		f, err := NewDateFormat(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Format(ts); got != tc.text {
			t.Errorf("format %q: got %q, want %q", tc.pattern, got, tc.text)
		}
	}
	f, _ := NewDateFormat("yyyy-MM-dd HH:mm:ss XXX")
	got, err := f.Parse("2021-03-04 05:06:07 +02:00")
	if err != nil || !got.Equal(time.Date(2021, 3, 4, 3, 6, 7, 0, time.UTC)) {
		t.Fatalf("parse with offset: %v %v", got, err)
	}
	if _, err := NewDateFormat("yyyy-qq"); err == nil {
		t.Fatal("unknown letter must fail")
	}
}

func TestAliases(t *testing.T) {
	reg := connect.NewRegistry().MustRegister(Plugins()...)
	for _, name := range []string{"Cast$Key", "org.apache.kafka.connect.transforms.Cast$Value", "ValueToKey", "Filter",
		"TimestampRouter", "RegexRouter", "InsertHeader", "DropHeaders", "HeaderFrom$Value", "TimestampConverter$Key"} {
		if _, err := reg.NewTransformation(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"} {
		if _, err := reg.NewPredicate(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := reg.NewTransformation("Cast"); err == nil {
		t.Error("Cast alone is not a transform: Kafka has Cast$Key and Cast$Value")
	}
}
