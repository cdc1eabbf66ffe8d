// Package data is Connect's data model: schemas, structs and the values they
// describe, with Kafka Connect's types and logical types, so that converters,
// transforms and connectors exchange records without agreeing on a wire
// format.
//
// A value is described by a *Schema, or travels without one ("schemaless").
// The Go type of a value follows its schema's type:
//
//	TypeInt8 int8, TypeInt16 int16, TypeInt32 int32, TypeInt64 int64,
//	TypeFloat32 float32, TypeFloat64 float64, TypeBoolean bool,
//	TypeString string, TypeBytes []byte, TypeArray []any,
//	TypeMap map[any]any (map[string]any is accepted too),
//	TypeStruct *Struct
//
// and the logical types: Decimal Decimal, Date, Time and Timestamp time.Time
// (UTC). A nil value is Kafka's null.
//
// Schemas are values to share, not to change: build a new one rather than
// modifying a schema another record may hold.
package data

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Type is a schema type. Its String is Kafka's name in upper case (INT8,
// STRUCT); JSONName is the name the JSON converter writes.
type Type int

// The schema types of Kafka Connect.
const (
	TypeInt8 Type = iota + 1
	TypeInt16
	TypeInt32
	TypeInt64
	TypeFloat32
	TypeFloat64
	TypeBoolean
	TypeString
	TypeBytes
	TypeArray
	TypeMap
	TypeStruct
)

var typeNames = [...]string{"", "INT8", "INT16", "INT32", "INT64", "FLOAT32", "FLOAT64", "BOOLEAN", "STRING", "BYTES", "ARRAY", "MAP", "STRUCT"}

// jsonNames are the type names of the JSON schema envelope.
var jsonNames = [...]string{"", "int8", "int16", "int32", "int64", "float", "double", "boolean", "string", "bytes", "array", "map", "struct"}

func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// JSONName is the type's name in the JSON converter's schema envelope
// ("float" for Float32, "double" for Float64).
func (t Type) JSONName() string {
	if t > 0 && int(t) < len(jsonNames) {
		return jsonNames[t]
	}
	return ""
}

// ParseType reads a type name: Kafka's (INT32, any case) or the JSON
// envelope's (int32, float, double).
func ParseType(s string) (Type, bool) {
	for i := 1; i < len(typeNames); i++ {
		if strings.EqualFold(s, typeNames[i]) || s == jsonNames[i] {
			return Type(i), true
		}
	}
	return 0, false
}

// IsPrimitive reports whether t is neither TypeArray, TypeMap nor TypeStruct.
func (t Type) IsPrimitive() bool { return t >= TypeInt8 && t <= TypeBytes }

// Schema describes a value. The zero Schema is not valid: set Type.
type Schema struct {
	Type     Type
	Optional bool
	// Default is used in place of a null value; nil means no default.
	Default any
	// Name, Version and Doc describe the schema; a Name may select a logical
	// type (see Decimal, Date, Time, Timestamp).
	Name    string
	Version *int32
	Doc     string
	// Parameters carry extra facts, such as a decimal's "scale".
	Parameters map[string]string
	// Fields of a Struct, in order.
	Fields []Field
	// KeySchema of a Map; ValueSchema of a Map or of an Array's items.
	KeySchema   *Schema
	ValueSchema *Schema
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// The primitive schemas, required and optional. Share them; do not modify.
var (
	Int8Schema            = &Schema{Type: TypeInt8}
	Int16Schema           = &Schema{Type: TypeInt16}
	Int32Schema           = &Schema{Type: TypeInt32}
	Int64Schema           = &Schema{Type: TypeInt64}
	Float32Schema         = &Schema{Type: TypeFloat32}
	Float64Schema         = &Schema{Type: TypeFloat64}
	BooleanSchema         = &Schema{Type: TypeBoolean}
	StringSchema          = &Schema{Type: TypeString}
	BytesSchema           = &Schema{Type: TypeBytes}
	OptionalInt8Schema    = &Schema{Type: TypeInt8, Optional: true}
	OptionalInt16Schema   = &Schema{Type: TypeInt16, Optional: true}
	OptionalInt32Schema   = &Schema{Type: TypeInt32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: TypeInt64, Optional: true}
	OptionalFloat32Schema = &Schema{Type: TypeFloat32, Optional: true}
	OptionalFloat64Schema = &Schema{Type: TypeFloat64, Optional: true}
	OptionalBooleanSchema = &Schema{Type: TypeBoolean, Optional: true}
	OptionalStringSchema  = &Schema{Type: TypeString, Optional: true}
	OptionalBytesSchema   = &Schema{Type: TypeBytes, Optional: true}
)

// PrimitiveSchema returns the shared schema of a primitive type.
func PrimitiveSchema(t Type, optional bool) *Schema {
	req := []*Schema{nil, Int8Schema, Int16Schema, Int32Schema, Int64Schema, Float32Schema, Float64Schema, BooleanSchema, StringSchema, BytesSchema}
	opt := []*Schema{nil, OptionalInt8Schema, OptionalInt16Schema, OptionalInt32Schema, OptionalInt64Schema, OptionalFloat32Schema, OptionalFloat64Schema, OptionalBooleanSchema, OptionalStringSchema, OptionalBytesSchema}
	if !t.IsPrimitive() {
		return nil
	}
	if optional {
		return opt[t]
	}
	return req[t]
}

// NewStructSchema returns a required struct schema with the given fields,
// their indexes set in order.
func NewStructSchema(name string, fields ...Field) *Schema {
	s := &Schema{Type: TypeStruct, Name: name, Fields: make([]Field, len(fields))}
	for i, f := range fields {
		f.Index = i
		s.Fields[i] = f
	}
	return s
}

// NewArraySchema returns a required array schema of items.
func NewArraySchema(items *Schema) *Schema { return &Schema{Type: TypeArray, ValueSchema: items} }

// NewMapSchema returns a required map schema.
func NewMapSchema(key, value *Schema) *Schema {
	return &Schema{Type: TypeMap, KeySchema: key, ValueSchema: value}
}

// Clone returns a shallow copy of s whose Fields and Parameters may be
// changed without touching s.
func (s *Schema) Clone() *Schema {
	if s == nil {
		return nil
	}
	c := *s
	c.Fields = slices.Clone(s.Fields)
	c.Parameters = maps.Clone(s.Parameters)
	return &c
}

// AsOptional returns s if it is optional, otherwise an optional copy.
func (s *Schema) AsOptional() *Schema {
	if s == nil || s.Optional {
		return s
	}
	if p := PrimitiveSchema(s.Type, true); p != nil && s.isPlain() {
		return p
	}
	c := s.Clone()
	c.Optional = true
	return c
}

// isPlain reports whether s carries nothing but its type and optionality.
func (s *Schema) isPlain() bool {
	return s.Default == nil && s.Name == "" && s.Version == nil && s.Doc == "" && len(s.Parameters) == 0
}

// Field returns the struct field called name.
func (s *Schema) Field(name string) (Field, bool) {
	if s == nil {
		return Field{}, false
	}
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// String describes the schema briefly, for error messages.
func (s *Schema) String() string {
	if s == nil {
		return "null"
	}
	var b strings.Builder
	if s.Name != "" {
		b.WriteString(s.Name)
		b.WriteString(" ")
	}
	b.WriteString(s.Type.String())
	switch s.Type {
	case TypeArray:
		fmt.Fprintf(&b, "<%s>", s.ValueSchema)
	case TypeMap:
		fmt.Fprintf(&b, "<%s,%s>", s.KeySchema, s.ValueSchema)
	case TypeStruct:
		b.WriteString("{")
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%s:%s", f.Name, f.Schema)
		}
		b.WriteString("}")
	}
	if s.Optional {
		b.WriteString(" (optional)")
	}
	return b.String()
}

// Equal reports whether two schemas describe the same thing: every
// attribute, recursively, as Kafka's ConnectSchema.equals.
func Equal(a, b *Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Type != b.Type || a.Optional != b.Optional || a.Name != b.Name || a.Doc != b.Doc ||
		!maps.Equal(a.Parameters, b.Parameters) || (a.Version == nil) != (b.Version == nil) ||
		(a.Version != nil && *a.Version != *b.Version) || !ValuesEqual(a.Default, b.Default) ||
		!Equal(a.KeySchema, b.KeySchema) || !Equal(a.ValueSchema, b.ValueSchema) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || a.Fields[i].Index != b.Fields[i].Index || !Equal(a.Fields[i].Schema, b.Fields[i].Schema) {
			return false
		}
	}
	return true
}

// Int32Ptr returns a pointer to v, for Schema.Version.
func Int32Ptr(v int32) *int32 { return &v }
