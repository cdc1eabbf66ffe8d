package transform

import (
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// MaskField replaces fields with their type's empty value (0, false, "",
// empty bytes, lists and maps, the epoch for dates), or with replacement
// for numeric and string fields. Null fields stay null. A null key or value
// fails, as Kafka's.
type MaskField struct {
	side           side
	fields         []string
	replacement    string
	hasReplacement bool
	replaceNull    bool
}

// MaskFieldConfig describes MaskField's settings.
func MaskFieldConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "fields", Type: configdef.List, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "Names of fields to mask."},
		configdef.Key{Name: "replacement", Type: configdef.String, Importance: configdef.Low,
			Doc: "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only)."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*MaskField) Config() *configdef.Def { return MaskFieldConfig() }

// Close does nothing.
func (*MaskField) Close() error { return nil }

// Configure reads fields and replacement.
func (t *MaskField) Configure(props map[string]string) error {
	v, err := MaskFieldConfig().Parse(props)
	if err != nil {
		return err
	}
	t.fields = v.List("fields")
	t.replacement, t.hasReplacement = props["replacement"]
	if t.hasReplacement && t.replacement == "" {
		return connect.ConfigErrorf("invalid value for configuration replacement: string must be non-empty")
	}
	t.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

// Apply masks.
func (t *MaskField) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	const purpose = "mask fields"
	schema, value := t.side.get(r)
	if schema == nil {
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		for _, f := range t.fields {
			mv, err := t.masked(m[f])
			if err != nil {
				return nil, err
			}
			out[f] = mv
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(value, purpose)
	if err != nil {
		return nil, err
	}
	out := data.NewStruct(st.Schema())
	for _, f := range st.Schema().Fields {
		v := fieldValue(st, f.Name, t.replaceNull)
		if slices.Contains(t.fields, f.Name) {
			if v, err = t.masked(v); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, v); err != nil {
			return nil, err
		}
	}
	return t.side.with(r, schema, out), nil
}

func (t *MaskField) masked(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.hasReplacement {
		return maskWith(v, t.replacement)
	}
	switch x := v.(type) {
	case bool:
		return false, nil
	case int8:
		return int8(0), nil
	case int16:
		return int16(0), nil
	case int32:
		return int32(0), nil
	case int64:
		return int64(0), nil
	case float32:
		return float32(0), nil
	case float64:
		return float64(0), nil
	case string:
		return "", nil
	case []byte:
		return []byte{}, nil
	case data.Decimal:
		return data.Decimal{Unscaled: new(big.Int), Scale: x.Scale}, nil
	case time.Time:
		return time.UnixMilli(0).UTC(), nil
	case []any:
		return []any{}, nil
	case map[string]any:
		return map[string]any{}, nil
	case map[any]any:
		return map[any]any{}, nil
	}
	return nil, data.Errorf("Cannot mask value of type: %T", v)
}

func maskWith(v any, repl string) (any, error) {
	bad := func(err error) (any, error) {
		return nil, data.Errorf("Unable to convert %s (string) to number: %v", repl, err)
	}
	s := strings.TrimSpace(repl)
	switch x := v.(type) {
	case string:
		return repl, nil
	case int8, int16, int32, int64:
		t, _ := data.InferType(x)
		size := map[data.Type]int{data.TypeInt8: 8, data.TypeInt16: 16, data.TypeInt32: 32, data.TypeInt64: 64}[t]
		n, err := strconv.ParseInt(s, 10, size)
		if err != nil {
			return bad(err)
		}
		return fromInt(n, t), nil
	case float32:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return bad(err)
		}
		return float32(f), nil
	case float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad(err)
		}
		return f, nil
	case data.Decimal:
		d, err := data.ParseDecimal(s)
		if err != nil {
			return bad(err)
		}
		if d, err = d.Rescale(x.Scale); err != nil {
			return bad(err)
		}
		return d, nil
	}
	return nil, data.Errorf("Cannot mask value of type %T with custom replacement.", v)
}
