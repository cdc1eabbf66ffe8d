package transform

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Target types of TimestampConverter.
const (
	tsString    = "string"
	tsUnix      = "unix"
	tsDate      = "Date"
	tsTime      = "Time"
	tsTimestamp = "Timestamp"
)

// TimestampConverter converts a timestamp field, or the whole key or
// value, between a formatted string, Unix time (unix.precision), and the
// Date, Time and Timestamp logical types, in UTC. Nulls stay null.
type TimestampConverter struct {
	side        side
	field       string
	target      string
	format      *DateFormat
	precision   string
	replaceNull bool
	cache       schemaCache
}

// TimestampConverterConfig describes TimestampConverter's settings.
func TimestampConverterConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "field", Type: configdef.String, Default: "", Importance: configdef.High,
			Doc: "The field containing the timestamp, or empty if the entire value is a timestamp"},
		configdef.Key{Name: "target.type", Type: configdef.String, Required: true, Importance: configdef.High,
			Validator: configdef.OneOf(false, tsString, tsUnix, tsDate, tsTime, tsTimestamp),
			Doc:       "The desired timestamp representation: string, unix, Date, Time, or Timestamp"},
		configdef.Key{Name: "format", Type: configdef.String, Default: "", Importance: configdef.Medium,
			Doc: "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string."},
		configdef.Key{Name: "unix.precision", Type: configdef.String, Default: "milliseconds", Importance: configdef.Low,
			Validator: configdef.OneOf(false, "nanoseconds", "microseconds", "milliseconds", "seconds"),
			Doc:       "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long. Note: This SMT will cause precision loss during conversions from, and to, values with sub-millisecond components."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*TimestampConverter) Config() *configdef.Def { return TimestampConverterConfig() }

// Close does nothing.
func (*TimestampConverter) Close() error { return nil }

// Configure reads the settings; a string target needs a format.
func (t *TimestampConverter) Configure(props map[string]string) error {
	v, err := TimestampConverterConfig().Parse(props)
	if err != nil {
		return err
	}
	t.field, t.target, t.precision = v.String("field"), v.String("target.type"), v.String("unix.precision")
	t.replaceNull = v.Bool(ReplaceNullWithDefault)
	t.format = nil
	if f := v.String("format"); f != "" {
		if t.format, err = NewDateFormat(f); err != nil {
			return connect.ConfigErrorf("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: %v", err)
		}
	}
	if t.target == tsString && t.format == nil {
		return connect.ConfigErrorf("TimestampConverter requires format option to be specified when using string timestamps")
	}
	return nil
}

func (t *TimestampConverter) targetSchema(optional bool) *data.Schema {
	switch t.target {
	case tsString:
		return data.PrimitiveSchema(data.TypeString, optional)
	case tsUnix:
		return data.PrimitiveSchema(data.TypeInt64, optional)
	case tsDate:
		if optional {
			return data.OptionalDateSchema
		}
		return data.DateSchema
	case tsTime:
		if optional {
			return data.OptionalTimeSchema
		}
		return data.TimeSchema
	}
	if optional {
		return data.OptionalTimestampSchema
	}
	return data.TimestampSchema
}

// typeOf names the timestamp type a schema holds.
func typeOf(s *data.Schema) (string, error) {
	switch {
	case s.Name == data.TimestampName:
		return tsTimestamp, nil
	case s.Name == data.DateName:
		return tsDate, nil
	case s.Name == data.TimeName:
		return tsTime, nil
	case s.Type == data.TypeString:
		return tsString, nil
	case s.Type == data.TypeInt64:
		return tsUnix, nil
	}
	return "", data.Errorf("Schema %v does not correspond to a known timestamp type format", s)
}

// Apply converts.
func (t *TimestampConverter) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	const purpose = "converting timestamp formats"
	schema, value := t.side.get(r)
	if schema == nil {
		if value == nil || t.field == "" {
			v, err := t.convert(value, "")
			if err != nil {
				return nil, err
			}
			return t.side.with(r, nil, v), nil
		}
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		if out[t.field], err = t.convert(m[t.field], ""); err != nil {
			return nil, err
		}
		return t.side.with(r, nil, out), nil
	}
	if t.field == "" {
		from, err := typeOf(schema)
		if err != nil {
			return nil, err
		}
		v, err := t.convert(value, from)
		if err != nil {
			return nil, err
		}
		return t.side.with(r, t.targetSchema(schema.Optional), v), nil
	}
	st, err := requireStructOrNull(value, purpose)
	if err != nil {
		return nil, err
	}
	updated, err := t.cache.get(schema, func() (*data.Schema, error) {
		s := copyBasics(schema, data.TypeStruct)
		s.Optional = schema.Optional
		for _, f := range schema.Fields {
			if f.Name == t.field {
				addField(s, f.Name, t.targetSchema(f.Schema.Optional))
			} else {
				addField(s, f.Name, f.Schema)
			}
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if st == nil {
		return t.side.with(r, updated, nil), nil
	}
	out := data.NewStruct(updated)
	for _, f := range schema.Fields {
		v := fieldValue(st, f.Name, t.replaceNull)
		if f.Name == t.field {
			from, err := typeOf(f.Schema)
			if err != nil {
				return nil, err
			}
			if v, err = t.convert(v, from); err != nil {
				return nil, err
			}
		}
		if err := out.Put(f.Name, v); err != nil {
			return nil, err
		}
	}
	return t.side.with(r, updated, out), nil
}

// convert turns a timestamp of type from ("" to infer from the Go type:
// time.Time is a Timestamp, int64 Unix time, string formatted) into the
// target type.
func (t *TimestampConverter) convert(v any, from string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if from == "" {
		switch v.(type) {
		case time.Time:
			from = tsTimestamp
		case int64:
			from = tsUnix
		case string:
			from = tsString
		default:
			return nil, data.Errorf("TimestampConverter does not support %T objects as timestamps", v)
		}
	}
	var raw time.Time
	switch from {
	case tsString:
		s, ok := v.(string)
		if !ok {
			return nil, data.Errorf("Expected string timestamp to be a String, but found %T", v)
		}
		if t.format == nil {
			return nil, data.Errorf("TimestampConverter needs format to parse string timestamps")
		}
		var err error
		if raw, err = t.format.Parse(s); err != nil {
			return nil, data.Errorf("Could not parse timestamp: value (%s) does not match pattern (%s)", s, t.format.Pattern())
		}
	case tsUnix:
		n, ok := v.(int64)
		if !ok {
			return nil, data.Errorf("Expected Unix timestamp to be a Long, but found %T", v)
		}
		switch t.precision {
		case "seconds":
			raw = time.UnixMilli(n * 1000)
		case "microseconds":
			raw = time.UnixMilli(n / 1000)
		case "nanoseconds":
			raw = time.UnixMilli(n / 1_000_000)
		default:
			raw = time.UnixMilli(n)
		}
	default:
		tm, ok := v.(time.Time)
		if !ok {
			return nil, data.Errorf("Expected %s to be a time.Time, but found %T", from, v)
		}
		raw = tm
	}
	raw = raw.UTC()
	switch t.target {
	case tsString:
		return t.format.Format(raw), nil
	case tsUnix:
		ms := raw.UnixMilli()
		switch t.precision {
		case "seconds":
			return ms / 1000, nil // truncates, as TimeUnit.toSeconds
		case "microseconds":
			return ms * 1000, nil
		case "nanoseconds":
			return ms * 1_000_000, nil
		}
		return ms, nil
	case tsDate:
		return time.Date(raw.Year(), raw.Month(), raw.Day(), 0, 0, 0, 0, time.UTC), nil
	case tsTime:
		return time.UnixMilli(0).UTC().Add(time.Duration(raw.Hour())*time.Hour + time.Duration(raw.Minute())*time.Minute +
			time.Duration(raw.Second())*time.Second + time.Duration(raw.Nanosecond()/1e6)*time.Millisecond), nil
	case tsTimestamp:
		return raw, nil
	}
	return nil, fmt.Errorf("unsupported timestamp type %s", t.target)
}
