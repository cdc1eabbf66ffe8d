package transform

import (
	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// Flatten flattens nested structs (with a schema) or maps (without) into
// one level, joining field names with delimiter: {"a":{"b":1}} becomes
// {"a.b":1}. A nested field is optional when any of its parents is, and
// takes its default from them. Arrays pass through; maps inside a schema'd
// value are not supported, as in Kafka. A null key or value passes
// unchanged.
type Flatten struct {
	side      side
	delimiter string
	cache     schemaCache
}

// FlattenConfig describes Flatten's settings.
func FlattenConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: "delimiter", Type: configdef.String, Default: ".", Importance: configdef.Medium,
		Doc: "Delimiter to insert between field names from the input record when generating field names for the output record"})
}

// Config describes the settings.
func (*Flatten) Config() *configdef.Def { return FlattenConfig() }

// Close does nothing.
func (*Flatten) Close() error { return nil }

// Configure reads delimiter.
func (t *Flatten) Configure(props map[string]string) error {
	v, err := FlattenConfig().Parse(props)
	if err != nil {
		return err
	}
	t.delimiter = v.String("delimiter")
	if _, ok := props["delimiter"]; ok {
		t.delimiter = props["delimiter"] // a delimiter may be a space: keep it untrimmed
	}
	return nil
}

func (t *Flatten) name(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + t.delimiter + field
}

// Apply flattens.
func (t *Flatten) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	const purpose = "flattening"
	schema, value := t.side.get(r)
	if value == nil {
		return r, nil
	}
	if schema == nil {
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		if err := t.flattenMap(m, "", out); err != nil {
			return nil, err
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(value, purpose)
	if err != nil {
		return nil, err
	}
	updated, err := t.cache.get(schema, func() (*data.Schema, error) {
		s := copyBasics(schema, data.TypeStruct)
		def, _ := schema.Default.(*data.Struct)
		if err := t.flattenSchema(schema, "", s, schema.Optional, def); err != nil {
			return nil, err
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	out := data.NewStruct(updated)
	if err := t.flattenStruct(st, "", out); err != nil {
		return nil, err
	}
	return t.side.with(r, updated, out), nil
}

func (t *Flatten) flattenMap(m map[string]any, prefix string, out map[string]any) error {
	for k, v := range m {
		name := t.name(prefix, k)
		if v == nil {
			out[name] = nil
			continue
		}
		typ, ok := data.InferType(v)
		if !ok {
			return data.Errorf("Flatten transformation was passed a value of type %T which is not supported by Connect's data API", v)
		}
		switch typ {
		case data.TypeMap:
			nested, err := requireMap(v, "flattening")
			if err != nil {
				return err
			}
			if err := t.flattenMap(nested, name, out); err != nil {
				return err
			}
		case data.TypeStruct:
			return data.Errorf("Flatten transformation does not support %T for record without schemas (for field %s).", v, name)
		default:
			out[name] = v
		}
	}
	return nil
}

func (t *Flatten) flattenSchema(s *data.Schema, prefix string, out *data.Schema, optional bool, parentDefault *data.Struct) error {
	for _, f := range s.Fields {
		name := t.name(prefix, f.Name)
		fieldOptional := optional || f.Schema.Optional
		var def any
		if f.Schema.Default != nil {
			def = f.Schema.Default
		} else if parentDefault != nil {
			def = parentDefault.Get(f.Name)
		}
		switch {
		case f.Schema.Type == data.TypeStruct:
			nested, _ := def.(*data.Struct)
			if err := t.flattenSchema(f.Schema, name, out, fieldOptional, nested); err != nil {
				return err
			}
		case f.Schema.Type == data.TypeMap:
			return data.Errorf("Flatten transformation does not support MAP for record with schemas (for field %s).", name)
		default:
			fs := f.Schema.Clone()
			fs.Optional = fieldOptional
			fs.Default = def
			addField(out, name, fs)
		}
	}
	return nil
}

func (t *Flatten) flattenStruct(st *data.Struct, prefix string, out *data.Struct) error {
	if st == nil {
		return nil
	}
	for _, f := range st.Schema().Fields {
		name := t.name(prefix, f.Name)
		if f.Schema.Type == data.TypeStruct {
			nested, _ := st.Get(f.Name).(*data.Struct)
			if err := t.flattenStruct(nested, name, out); err != nil {
				return err
			}
			continue
		}
		if err := out.Put(name, st.Get(f.Name)); err != nil {
			return err
		}
	}
	return nil
}
