package data

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestStructValidation(t *testing.T) {
	s := NewStructSchema("p",
		Field{Name: "id", Schema: Int32Schema},
		Field{Name: "name", Schema: OptionalStringSchema},
		Field{Name: "n", Schema: &Schema{Type: TypeInt64, Default: int64(7)}},
	)
	st := NewStruct(s)
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "id") {
		t.Fatalf("a missing required field must fail: %v", err)
	}
	if err := st.Put("id", int64(1)); err == nil {
		t.Fatal("int64 for an Int32 field must fail")
	}
	if err := st.Put("nope", int32(1)); err == nil {
		t.Fatal("unknown field must fail")
	}
	st.MustPut("id", int32(1))
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if st.Get("n") != int64(7) || st.GetWithoutDefault("n") != nil {
		t.Fatal("Get returns the default, GetWithoutDefault the value")
	}
	if got := st.String(); got != "Struct{id=1}" {
		t.Fatalf("String: %q", got)
	}
	arr := NewArraySchema(StringSchema)
	if err := Validate(arr, []any{"a", int32(1)}); err == nil {
		t.Fatal("array element of the wrong type must fail")
	}
	m := NewMapSchema(StringSchema, Int32Schema)
	if err := Validate(m, map[string]any{"a": int32(1)}); err != nil {
		t.Fatal(err)
	}
	if err := Validate(m, map[any]any{"a": "x"}); err == nil {
		t.Fatal("map value of the wrong type must fail")
	}
	if err := Validate(DateSchema, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := Validate(DecimalSchema(2), 1.5); err == nil {
		t.Fatal("a float for a Decimal must fail")
	}
}

// Kafka's Decimal is the unscaled value in big-endian two's complement.
func TestDecimalBytes(t *testing.T) {
	for _, tc := range []struct {
		d    Decimal
		b    []byte
		text string
	}{
		{NewDecimal(156, 2), []byte{0x00, 0x9c}, "1.56"},
		{NewDecimal(-1, 0), []byte{0xff}, "-1"},
		{NewDecimal(-128, 1), []byte{0x80}, "-12.8"},
		{NewDecimal(-129, 3), []byte{0xff, 0x7f}, "-0.129"},
		{NewDecimal(0, 2), []byte{0x00}, "0.00"},
		{NewDecimal(5, -2), []byte{0x05}, "500"},
	} {
		s := DecimalSchema(tc.d.Scale)
		b, err := DecimalToBytes(s, tc.d)
		if err != nil || !bytes.Equal(b, tc.b) {
			t.Errorf("%s: bytes %x %v, want %x", tc.text, b, err, tc.b)
		}
		back, err := DecimalFromBytes(s, tc.b)
		if err != nil || !ValuesEqual(back, tc.d) || back.String() != tc.text {
			t.Errorf("%x: back %v %v, want %s", tc.b, back, err, tc.text)
		}
	}
	d, err := ParseDecimal("-12.340")
	if err != nil || d.Scale != 3 || d.String() != "-12.340" {
		t.Fatalf("ParseDecimal: %v %v", d, err)
	}
	if d, err := ParseDecimal("1E+3"); err != nil || d.String() != "1000" {
		t.Fatalf("ParseDecimal 1E+3: %v %v", d, err)
	}
	if _, err := d.Rescale(1); err == nil {
		t.Fatal("rescaling 1000 with scale -3 to 1 is fine, but -12.340 to scale 1 must fail")
	}
}

func TestLogicalDates(t *testing.T) {
	day := time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)
	if n, err := DateToDays(day); err != nil || n != 18263 {
		t.Fatalf("DateToDays: %d %v", n, err)
	}
	if _, err := DateToDays(day.Add(time.Hour)); err == nil {
		t.Fatal("a Date with a time of day must fail, as Kafka's")
	}
	if _, err := TimeToMillis(day); err == nil {
		t.Fatal("a Time with a date must fail")
	}
	v, err := ToLogical(TimestampSchema, int64(1600000000123))
	if err != nil || !v.(time.Time).Equal(time.UnixMilli(1600000000123)) {
		t.Fatalf("ToLogical: %v %v", v, err)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{1.0, "1.0"},
		{float32(0.1), "0.1"},
		{1e10, "1.0E10"},
		{1.5e-5, "1.5E-5"},
		{[]any{"a", int32(1), nil}, "[a, 1, null]"},
		{map[string]any{"b": int64(2), "a": true}, "{a=true, b=2}"},
		{time.Unix(0, 0), "Thu Jan 01 00:00:00 UTC 1970"},
		{NewDecimal(-5, 3), "-0.005"},
	} {
		if got := Format(tc.v); got != tc.want {
			t.Errorf("Format(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		typ  Type
		name string
		v    any
	}{
		{"hello", TypeString, "", "hello"},
		{"-5", TypeInt8, "", int8(-5)},
		{"70000", TypeInt32, "", int32(70000)},
		{"99999999999999999999", TypeBytes, DecimalName, nil},
		{"2.5", TypeFloat32, "", float32(2.5)},
		{"false", TypeBoolean, "", false},
		{`["a","b"]`, TypeArray, "", []any{"a", "b"}},
		{`{"k":1,"j":2}`, TypeMap, "", map[any]any{"k": int8(1), "j": int8(2)}},
		{"2020-02-03", TypeInt32, DateName, time.Date(2020, 2, 3, 0, 0, 0, 0, time.UTC)},
		{"[1,\"x\"]", TypeArray, "", []any{int8(1), "x"}},
		{"true story", TypeString, "", "true story"},
	} {
		s, v := ParseValue(tc.in)
		if tc.in == `[1,"x"]` {
			if s != nil || !ValuesEqual(v, tc.v) {
				t.Errorf("%q: mixed array must be schemaless: %v %#v", tc.in, s, v)
			}
			continue
		}
		if s == nil || s.Type != tc.typ || s.Name != tc.name || (tc.v != nil && !ValuesEqual(v, tc.v)) {
			t.Errorf("ParseValue(%q) = %v %#v, want %v %q %#v", tc.in, s, v, tc.typ, tc.name, tc.v)
		}
	}
	if s, v := ParseValue("null"); s != nil || v != nil {
		t.Errorf("null: %v %v", s, v)
	}
}

func TestSchemaEqual(t *testing.T) {
	a := NewStructSchema("x", Field{Name: "f", Schema: StringSchema})
	b := NewStructSchema("x", Field{Name: "f", Schema: &Schema{Type: TypeString}})
	if !Equal(a, b) {
		t.Fatal("equal schemas built apart must be Equal")
	}
	c := NewStructSchema("x", Field{Name: "f", Schema: OptionalStringSchema})
	if Equal(a, c) {
		t.Fatal("optionality differs")
	}
	if PrimitiveSchema(TypeInt8, true) != OptionalInt8Schema || StringSchema.AsOptional() != OptionalStringSchema {
		t.Fatal("shared primitive schemas")
	}
}
