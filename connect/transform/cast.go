package transform

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Cast casts fields, or the whole key or value, to another primitive type:
// spec is "field:type,..." or one type for the whole value. Numbers are
// truncated as Java's narrowing conversions do; booleans become 1 or 0;
// strings are parsed; anything becomes a string (bytes in base64, dates in
// ISO 8601). A null key or value passes unchanged.
type Cast struct {
	side        side
	whole       data.Type
	casts       map[string]data.Type
	replaceNull bool
	cache       schemaCache
}

// CastConfig describes Cast's settings.
func CastConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "spec", Type: configdef.List, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium,
			Doc: "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."},
	)
}

// Config describes the settings.
func (*Cast) Config() *configdef.Def { return CastConfig() }

// Close does nothing.
func (*Cast) Close() error { return nil }

var castOutputs = []data.Type{data.TypeInt8, data.TypeInt16, data.TypeInt32, data.TypeInt64, data.TypeFloat32, data.TypeFloat64, data.TypeBoolean, data.TypeString}

func parseCastType(s string) (data.Type, error) {
	name := strings.TrimSpace(s)
	for t := data.TypeInt8; t <= data.TypeStruct; t++ {
		if !strings.EqualFold(t.String(), name) {
			continue
		}
		for _, o := range castOutputs {
			if t == o {
				return t, nil
			}
		}
		return 0, fmt.Errorf("Cast transformation does not support casting to %s; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]", t)
	}
	return 0, fmt.Errorf("Invalid type found in casting spec: %s", name)
}

// Configure reads spec.
func (c *Cast) Configure(props map[string]string) error {
	v, err := CastConfig().Parse(props)
	if err != nil {
		return err
	}
	c.replaceNull = v.Bool(ReplaceNullWithDefault)
	c.casts = map[string]data.Type{}
	c.whole = 0
	spec := v.List("spec")
	for _, m := range spec {
		parts := strings.Split(m, ":")
		switch len(parts) {
		case 1:
			t, err := parseCastType(parts[0])
			if err != nil {
				return err
			}
			c.whole = t
		case 2:
			t, err := parseCastType(parts[1])
			if err != nil {
				return err
			}
			c.casts[strings.TrimSpace(parts[0])] = t
		default:
			return fmt.Errorf("invalid cast mapping: %s", m)
		}
	}
	if c.whole != 0 && len(spec) > 1 {
		return fmt.Errorf("Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec")
	}
	return nil
}

// Apply casts.
func (c *Cast) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	schema, value := c.side.get(r)
	if value == nil {
		return r, nil
	}
	if schema == nil {
		if c.whole != 0 {
			v, err := castValue(nil, value, c.whole)
			if err != nil {
				return nil, err
			}
			return c.side.with(r, nil, v), nil
		}
		m, err := requireMap(value, "cast types")
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		for f, t := range c.casts {
			v, err := castValue(nil, m[f], t)
			if err != nil {
				return nil, err
			}
			out[f] = v
		}
		return c.side.with(r, nil, out), nil
	}
	updated, err := c.cache.get(schema, func() (*data.Schema, error) { return c.buildSchema(schema) })
	if err != nil {
		return nil, err
	}
	if c.whole != 0 {
		v, err := castValue(schema, value, c.whole)
		if err != nil {
			return nil, err
		}
		return c.side.with(r, updated, v), nil
	}
	st, err := requireStruct(value, "cast types")
	if err != nil {
		return nil, err
	}
	out := data.NewStruct(updated)
	for _, f := range st.Schema().Fields {
		v := fieldValue(st, f.Name, c.replaceNull)
		if t, ok := c.casts[f.Name]; ok {
			if v, err = castValue(f.Schema, v, t); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, v); err != nil {
			return nil, err
		}
	}
	return c.side.with(r, updated, out), nil
}

func (c *Cast) buildSchema(s *data.Schema) (*data.Schema, error) {
	var b *data.Schema
	if c.whole != 0 {
		b = &data.Schema{Type: c.whole, Doc: s.Doc, Version: s.Version}
		if !data.IsLogical(s) {
			b.Name, b.Parameters = s.Name, s.Parameters
		}
	} else {
		if s.Type != data.TypeStruct {
			return nil, data.Errorf("Only Struct objects supported for [cast types], found schema of type %s", s.Type)
		}
		b = copyBasics(s, data.TypeStruct)
		for _, f := range s.Fields {
			t, ok := c.casts[f.Name]
			if !ok {
				addField(b, f.Name, f.Schema)
				continue
			}
			fs := &data.Schema{Type: t, Optional: f.Schema.Optional}
			if f.Schema.Default != nil {
				d, err := castValue(f.Schema, f.Schema.Default, t)
				if err != nil {
					return nil, err
				}
				fs.Default = d
			}
			addField(b, f.Name, fs)
		}
	}
	b.Optional = s.Optional
	if s.Default != nil {
		if c.whole != 0 {
			d, err := castValue(s, s.Default, c.whole)
			if err != nil {
				return nil, err
			}
			b.Default = d
		}
	}
	return b, nil
}

// castValue casts one value, as Kafka's Cast: from a primitive (or a
// decimal or date), to a primitive.
func castValue(s *data.Schema, v any, to data.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	var from data.Type
	if s != nil {
		from = s.Type
	} else {
		t, ok := data.InferType(v)
		if !ok {
			return nil, data.Errorf("Cast transformation was passed a value of type %T which is not supported by Connect's data API", v)
		}
		from = t
	}
	if !from.IsPrimitive() {
		return nil, data.Errorf("Cast transformation does not support casting from %s; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]", from)
	}
	if to == data.TypeString {
		switch x := v.(type) {
		case time.Time:
			return data.ISOFormat(s, x), nil
		case []byte:
			return base64.StdEncoding.EncodeToString(x), nil
		}
		return data.Format(v), nil
	}
	// Dates and times cast to numbers through their Kafka encoding.
	if t, ok := v.(time.Time); ok && s != nil {
		phys, err := data.FromLogical(s, t)
		if err != nil {
			return nil, err
		}
		v = phys
	}
	outOfRange := func(err error) error {
		return data.Errorf("Value (%v) was out of range for requested data type: %v", v, err)
	}
	switch x := v.(type) {
	case bool:
		n := int64(0)
		if x {
			n = 1
		}
		if to == data.TypeBoolean {
			return x, nil
		}
		return fromInt(n, to), nil
	case string:
		switch to {
		case data.TypeBoolean:
			return strings.EqualFold(x, "true"), nil
		case data.TypeFloat32:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 32)
			if err != nil {
				return nil, outOfRange(err)
			}
			return float32(f), nil
		case data.TypeFloat64:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, outOfRange(err)
			}
			return f, nil
		}
		bits := map[data.Type]int{data.TypeInt8: 8, data.TypeInt16: 16, data.TypeInt32: 32, data.TypeInt64: 64}[to]
		n, err := strconv.ParseInt(x, 10, bits)
		if err != nil {
			return nil, outOfRange(err)
		}
		return fromInt(n, to), nil
	case []byte:
		return nil, data.Errorf("Unexpected type in Cast transformation: bytes can only be cast to string")
	case data.Decimal:
		if to == data.TypeFloat32 || to == data.TypeFloat64 {
			return fromFloat(x.Float64(), to), nil
		}
		r := x.Rat()
		q := new(big.Int).Quo(r.Num(), r.Denom()) // truncates toward zero, as BigDecimal.longValue
		if to == data.TypeBoolean {
			return q.Sign() != 0, nil
		}
		return fromInt(q.Int64(), to), nil
	case float32:
		return fromFloat(float64(x), to), nil
	case float64:
		return fromFloat(x, to), nil
	}
	n, ok := asInt64(v)
	if !ok {
		return nil, data.Errorf("Unexpected type in Cast transformation: %T", v)
	}
	if to == data.TypeBoolean {
		return n != 0, nil
	}
	return fromInt(n, to), nil
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// fromInt narrows as Java's Number.byteValue and friends: two's complement
// truncation.
func fromInt(n int64, to data.Type) any {
	switch to {
	case data.TypeInt8:
		return int8(n)
	case data.TypeInt16:
		return int16(n)
	case data.TypeInt32:
		return int32(n)
	case data.TypeInt64:
		return n
	case data.TypeFloat32:
		return float32(n)
	case data.TypeFloat64:
		return float64(n)
	case data.TypeBoolean:
		return n != 0
	}
	return n
}

// fromFloat converts as Java's (int) casts of a double: toward zero,
// saturating, NaN to 0; narrower integers then truncate from int (byte and
// short) or long.
func fromFloat(f float64, to data.Type) any {
	switch to {
	case data.TypeFloat32:
		return float32(f)
	case data.TypeFloat64:
		return f
	case data.TypeBoolean:
		return javaLong(f) != 0
	case data.TypeInt64:
		return javaLong(f)
	}
	return fromInt(int64(javaInt(f)), to)
}

func javaLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func javaInt(f float64) int32 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int32(f)
}
