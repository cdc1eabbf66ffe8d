package transform

import (
	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

const replaceNullDoc = "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."

// ExtractField replaces the key or value with one of its fields. A null
// key or value stays null (with the field's schema when there is one).
type ExtractField struct {
	side        side
	field       string
	replaceNull bool
}

// ExtractFieldConfig describes ExtractField's settings.
func ExtractFieldConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "field", Type: configdef.String, Required: true, Importance: configdef.Medium,
			Doc: "Field name to extract."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*ExtractField) Config() *configdef.Def { return ExtractFieldConfig() }

// Close does nothing.
func (*ExtractField) Close() error { return nil }

// Configure reads field.
func (e *ExtractField) Configure(props map[string]string) error {
	v, err := ExtractFieldConfig().Parse(props)
	if err != nil {
		return err
	}
	e.field = v.String("field")
	e.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

// Apply extracts the field.
func (e *ExtractField) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	schema, value := e.side.get(r)
	const purpose = "field extraction"
	if schema == nil {
		m, err := requireMapOrNull(value, purpose)
		if err != nil {
			return nil, err
		}
		var v any
		if m != nil {
			v = m[e.field]
		}
		return e.side.with(r, nil, v), nil
	}
	st, err := requireStructOrNull(value, purpose)
	if err != nil {
		return nil, err
	}
	f, ok := schema.Field(e.field)
	if !ok {
		return nil, data.Errorf("Unknown field: %s", e.field)
	}
	var v any
	if st != nil {
		v = fieldValue(st, e.field, e.replaceNull)
	}
	return e.side.with(r, f.Schema, v), nil
}

// HoistField wraps the key or value in a struct (with a schema) or a map
// (without) of one field.
type HoistField struct {
	side  side
	field string
	cache schemaCache
}

// HoistFieldConfig describes HoistField's settings.
func HoistFieldConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: "field", Type: configdef.String, Required: true, Importance: configdef.Medium,
		Doc: "Field name for the single field that will be created in the resulting Struct or Map."})
}

// Config describes the settings.
func (*HoistField) Config() *configdef.Def { return HoistFieldConfig() }

// Close does nothing.
func (*HoistField) Close() error { return nil }

// Configure reads field.
func (h *HoistField) Configure(props map[string]string) error {
	v, err := HoistFieldConfig().Parse(props)
	if err != nil {
		return err
	}
	h.field = v.String("field")
	return nil
}

// Apply wraps the value. A null value with a required schema fails, as
// Kafka's Struct.put does.
func (h *HoistField) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	schema, value := h.side.get(r)
	if schema == nil {
		return h.side.with(r, nil, map[string]any{h.field: value}), nil
	}
	updated, _ := h.cache.get(schema, func() (*data.Schema, error) {
		return data.NewStructSchema("", data.Field{Name: h.field, Schema: schema}), nil
	})
	st := data.NewStruct(updated)
	if err := st.Put(h.field, value); err != nil {
		return nil, err
	}
	return h.side.with(r, updated, st), nil
}

// ValueToKey replaces the key with fields of the value: a struct of them
// with a schema, a map without. A null value fails, as Kafka's.
type ValueToKey struct {
	fields      []string
	replaceNull bool
	cache       schemaCache
}

// ValueToKeyConfig describes ValueToKey's settings.
func ValueToKeyConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "fields", Type: configdef.List, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "Field names on the record value to extract as the record key."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*ValueToKey) Config() *configdef.Def { return ValueToKeyConfig() }

// Close does nothing.
func (*ValueToKey) Close() error { return nil }

// Configure reads fields.
func (t *ValueToKey) Configure(props map[string]string) error {
	v, err := ValueToKeyConfig().Parse(props)
	if err != nil {
		return err
	}
	t.fields = v.List("fields")
	t.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

// Apply builds the key.
func (t *ValueToKey) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	const purpose = "copying fields from value to key"
	b := *r.Base()
	if b.ValueSchema == nil {
		m, err := requireMap(b.Value, purpose)
		if err != nil {
			return nil, err
		}
		key := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			key[f] = m[f]
		}
		b.KeySchema, b.Key = nil, key
		return r.WithBase(b), nil
	}
	st, err := requireStruct(b.Value, purpose)
	if err != nil {
		return nil, err
	}
	keySchema, err := t.cache.get(st.Schema(), func() (*data.Schema, error) {
		ks := &data.Schema{Type: data.TypeStruct}
		for _, name := range t.fields {
			f, ok := st.Schema().Field(name)
			if !ok {
				return nil, data.Errorf("Field does not exist: %s", name)
			}
			addField(ks, name, f.Schema)
		}
		return ks, nil
	})
	if err != nil {
		return nil, err
	}
	key := data.NewStruct(keySchema)
	for _, name := range t.fields {
		if err := key.Put(name, fieldValue(st, name, t.replaceNull)); err != nil {
			return nil, err
		}
	}
	b.KeySchema, b.Key = keySchema, key
	return r.WithBase(b), nil
}
