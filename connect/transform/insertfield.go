package transform

import (
	"strings"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

const optionalityDoc = "Suffix with ! to make this a required field, or ? to keep it optional (the default)."

// InsertField adds fields with the record's topic, partition, offset (sink
// records only), timestamp, and a static value. A null key or value
// (a tombstone) passes unchanged.
type InsertField struct {
	side                                           side
	topic, partition, offset, timestamp, staticFld insertSpec
	staticValue                                    string
	hasStaticValue                                 bool
	replaceNull                                    bool
	cache                                          schemaCache
}

// insertSpec is one field to insert; the zero value inserts nothing.
type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s string) insertSpec {
	switch {
	case s == "":
		return insertSpec{}
	case strings.HasSuffix(s, "!"):
		return insertSpec{name: s[:len(s)-1]}
	case strings.HasSuffix(s, "?"):
		return insertSpec{name: s[:len(s)-1], optional: true}
	}
	return insertSpec{name: s, optional: true}
}

// InsertFieldConfig describes InsertField's settings.
func InsertFieldConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "topic.field", Type: configdef.String, Importance: configdef.Medium, Doc: "Field name for Kafka topic. " + optionalityDoc},
		configdef.Key{Name: "partition.field", Type: configdef.String, Importance: configdef.Medium, Doc: "Field name for Kafka partition. " + optionalityDoc},
		configdef.Key{Name: "offset.field", Type: configdef.String, Importance: configdef.Medium, Doc: "Field name for Kafka offset - only applicable to sink connectors. " + optionalityDoc},
		configdef.Key{Name: "timestamp.field", Type: configdef.String, Importance: configdef.Medium, Doc: "Field name for record timestamp. " + optionalityDoc},
		configdef.Key{Name: "static.field", Type: configdef.String, Importance: configdef.Medium, Doc: "Field name for static data field. " + optionalityDoc},
		configdef.Key{Name: "static.value", Type: configdef.String, Importance: configdef.Medium, Doc: "Static field value, if field name configured."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*InsertField) Config() *configdef.Def { return InsertFieldConfig() }

// Close does nothing.
func (*InsertField) Close() error { return nil }

// Configure reads the field names.
func (t *InsertField) Configure(props map[string]string) error {
	v, err := InsertFieldConfig().Parse(props)
	if err != nil {
		return err
	}
	t.topic = parseInsertSpec(v.String("topic.field"))
	t.partition = parseInsertSpec(v.String("partition.field"))
	t.offset = parseInsertSpec(v.String("offset.field"))
	t.timestamp = parseInsertSpec(v.String("timestamp.field"))
	t.staticFld = parseInsertSpec(v.String("static.field"))
	t.staticValue, t.hasStaticValue = props["static.value"]
	t.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

// Apply inserts the fields.
func (t *InsertField) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	const purpose = "field insertion"
	schema, value := t.side.get(r)
	if value == nil {
		return r, nil
	}
	b := r.Base()
	var offset int64
	if t.offset.name != "" {
		sr, ok := r.(*connect.SinkRecord)
		if !ok {
			return nil, data.Errorf("Only SinkRecord supported for [%s], found: %T", purpose, r)
		}
		offset = sr.Offset
	}
	if schema == nil {
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m)+5)
		for k, v := range m {
			out[k] = v
		}
		if t.topic.name != "" {
			out[t.topic.name] = b.Topic
		}
		if t.partition.name != "" && b.Partition != nil {
			out[t.partition.name] = *b.Partition
		}
		if t.offset.name != "" {
			out[t.offset.name] = offset
		}
		if t.timestamp.name != "" && !b.Timestamp.IsZero() {
			out[t.timestamp.name] = b.Timestamp.UnixMilli()
		}
		if t.staticFld.name != "" && t.hasStaticValue {
			out[t.staticFld.name] = t.staticValue
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(value, purpose)
	if err != nil {
		return nil, err
	}
	updated, err := t.cache.get(st.Schema(), func() (*data.Schema, error) {
		s := copyBasics(st.Schema(), data.TypeStruct)
		for _, f := range st.Schema().Fields {
			addField(s, f.Name, f.Schema)
		}
		add := func(spec insertSpec, req, opt *data.Schema) {
			if spec.name == "" {
				return
			}
			if spec.optional {
				addField(s, spec.name, opt)
			} else {
				addField(s, spec.name, req)
			}
		}
		add(t.topic, data.StringSchema, data.OptionalStringSchema)
		add(t.partition, data.Int32Schema, data.OptionalInt32Schema)
		add(t.offset, data.Int64Schema, data.OptionalInt64Schema)
		add(t.timestamp, data.TimestampSchema, data.OptionalTimestampSchema)
		add(t.staticFld, data.StringSchema, data.OptionalStringSchema)
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	out := data.NewStruct(updated)
	for _, f := range st.Schema().Fields {
		if err := out.Put(f.Name, fieldValue(st, f.Name, t.replaceNull)); err != nil {
			return nil, err
		}
	}
	puts := []struct {
		name string
		v    any
		ok   bool
	}{
		{t.topic.name, b.Topic, true},
		{t.partition.name, derefPartition(b.Partition), b.Partition != nil},
		{t.offset.name, offset, true},
		{t.timestamp.name, b.Timestamp.UTC(), !b.Timestamp.IsZero()},
		{t.staticFld.name, t.staticValue, t.hasStaticValue},
	}
	for _, p := range puts {
		if p.name != "" && p.ok {
			if err := out.Put(p.name, p.v); err != nil {
				return nil, err
			}
		}
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return t.side.with(r, updated, out), nil
}

func derefPartition(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}
