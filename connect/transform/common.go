// Package transform holds Kafka Connect's built-in single message
// transforms (Cast, DropHeaders, ExtractField, Filter, Flatten, HeaderFrom,
// HoistField, InsertField, InsertHeader, MaskField, RegexRouter,
// ReplaceField, SetSchemaMetadata, TimestampConverter, TimestampRouter,
// ValueToKey) and predicates (TopicNameMatches, HasHeaderKey,
// RecordIsTombstone), with the behaviour and settings of Kafka's: a
// transform with Key and Value variants works on the record's key or value,
// with a schema (a *data.Struct) or without one (a map[string]any).
//
// Field names are Kafka's "V1" syntax: a name is one field, dots included.
package transform

import (
	"fmt"
	"maps"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/data"
)

// ReplaceNullWithDefault is the setting several transforms share: read a
// null struct field as its schema's default.
const ReplaceNullWithDefault = "replace.null.with.default"

// Version is the transforms' version, shown by the REST API.
const Version = "1.0"

// side is the part of a record a Key or Value variant works on.
type side bool

const (
	onKey   side = true
	onValue side = false
)

func (s side) String() string {
	if s == onKey {
		return "key"
	}
	return "value"
}

// get returns the schema and value the transform works on.
func (s side) get(r connect.AnyRecord) (*data.Schema, any) {
	b := r.Base()
	if s == onKey {
		return b.KeySchema, b.Key
	}
	return b.ValueSchema, b.Value
}

// with returns the record with a new schema and value on the side.
func (s side) with(r connect.AnyRecord, schema *data.Schema, value any) connect.AnyRecord {
	b := *r.Base()
	if s == onKey {
		b.KeySchema, b.Key = schema, value
	} else {
		b.ValueSchema, b.Value = schema, value
	}
	return r.WithBase(b)
}

// requireMap returns a schemaless map, as Kafka's Requirements.requireMap.
func requireMap(v any, purpose string) (map[string]any, error) {
	switch m := v.(type) {
	case map[string]any:
		return m, nil
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, mv := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, data.Errorf("Only Map objects with string keys supported for [%s], found key of type %T", purpose, k)
			}
			out[ks] = mv
		}
		return out, nil
	}
	return nil, data.Errorf("Only Map objects supported in absence of schema for [%s], found: %s", purpose, typeName(v))
}

// requireMapOrNull is requireMap that lets nil through.
func requireMapOrNull(v any, purpose string) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	return requireMap(v, purpose)
}

// requireStruct returns a struct value, as Kafka's Requirements.requireStruct.
func requireStruct(v any, purpose string) (*data.Struct, error) {
	st, ok := v.(*data.Struct)
	if !ok {
		return nil, data.Errorf("Only Struct objects supported for [%s], found: %s", purpose, typeName(v))
	}
	return st, nil
}

func requireStructOrNull(v any, purpose string) (*data.Struct, error) {
	if v == nil {
		return nil, nil
	}
	return requireStruct(v, purpose)
}

func typeName(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// fieldValue reads a struct field, with its default when replaceNull.
func fieldValue(st *data.Struct, name string, replaceNull bool) any {
	if replaceNull {
		return st.Get(name)
	}
	return st.GetWithoutDefault(name)
}

// copyBasics returns a struct schema builder's start: the name, version,
// doc and parameters of src, as Kafka's SchemaUtil.copySchemaBasics.
func copyBasics(src *data.Schema, t data.Type) *data.Schema {
	return &data.Schema{Type: t, Name: src.Name, Version: src.Version, Doc: src.Doc, Parameters: maps.Clone(src.Parameters)}
}

// addField appends a field to a struct schema being built.
func addField(s *data.Schema, name string, fs *data.Schema) {
	s.Fields = append(s.Fields, data.Field{Name: name, Index: len(s.Fields), Schema: fs})
}

// schemaCache remembers the output schema for an input schema, as Kafka's
// transforms keep an LRU cache of 16: a schema is built once per input
// schema, so records of one schema share one output schema.
type schemaCache struct {
	m map[*data.Schema]*data.Schema
}

func (c *schemaCache) get(in *data.Schema, build func() (*data.Schema, error)) (*data.Schema, error) {
	if s, ok := c.m[in]; ok {
		return s, nil
	}
	s, err := build()
	if err != nil {
		return nil, err
	}
	if c.m == nil || len(c.m) >= 16 {
		c.m = map[*data.Schema]*data.Schema{}
	}
	c.m[in] = s
	return s, nil
}

// putAll fills a new struct; values must fit.
func putAll(s *data.Schema, values map[string]any) (*data.Struct, error) {
	st := data.NewStruct(s)
	for _, f := range s.Fields {
		if err := st.Put(f.Name, values[f.Name]); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// plugin builds the registry entries of a transform with Key and Value
// variants (Kafka's nested classes Name$Key and Name$Value).
func keyValuePlugins(class string, newFn func(side) connect.Transformation) []connect.Plugin {
	return []connect.Plugin{
		{Class: class + "$Key", Type: connect.TransformationPlugin, Version: Version, New: func() any { return newFn(onKey) }},
		{Class: class + "$Value", Type: connect.TransformationPlugin, Version: Version, New: func() any { return newFn(onValue) }},
	}
}
