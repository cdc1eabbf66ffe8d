package data

import (
	"bytes"
	"fmt"
	"reflect"
	"time"
)

// Error is Kafka Connect's DataException: a value that does not fit its
// schema, or bytes a converter cannot read. Error tolerance treats it like
// any other failure of a converter or transform.
type Error struct {
	Msg string
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a *Error; a %w verb is unwrapped.
func Errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Msg: err.Error()}
}

// Struct is a value of a struct schema: one value per field.
type Struct struct {
	schema *Schema
	values []any
}

// NewStruct returns an empty struct of the schema, which must be a Struct
// schema.
func NewStruct(s *Schema) *Struct {
	if s == nil || s.Type != TypeStruct {
		panic(fmt.Sprintf("data.NewStruct: schema %v is not a struct schema", s))
	}
	return &Struct{schema: s, values: make([]any, len(s.Fields))}
}

// Schema returns the struct's schema.
func (s *Struct) Schema() *Schema { return s.schema }

// Put sets a field, checking the value against the field's schema.
func (s *Struct) Put(name string, v any) error {
	f, ok := s.schema.Field(name)
	if !ok {
		return &Error{Msg: fmt.Sprintf("%s is not a valid field name", name)}
	}
	if err := validateField(name, f.Schema, v); err != nil {
		return err
	}
	s.values[f.Index] = v
	return nil
}

// MustPut is Put for values known to fit, as in tests and literals; it
// panics otherwise.
func (s *Struct) MustPut(name string, v any) *Struct {
	if err := s.Put(name, v); err != nil {
		panic(err)
	}
	return s
}

// Get returns a field's value, or its schema's default when the value is
// nil, as Kafka's Struct.get.
func (s *Struct) Get(name string) any {
	f, ok := s.schema.Field(name)
	if !ok {
		return nil
	}
	v := s.values[f.Index]
	if v == nil {
		return f.Schema.Default
	}
	return v
}

// GetWithoutDefault returns a field's value as set, nil included.
func (s *Struct) GetWithoutDefault(name string) any {
	f, ok := s.schema.Field(name)
	if !ok {
		return nil
	}
	return s.values[f.Index]
}

// Value returns the value of the field at index i, as set.
func (s *Struct) Value(i int) any { return s.values[i] }

// Validate checks every field: required fields without a default must be
// set, and values must fit.
func (s *Struct) Validate() error {
	for _, f := range s.schema.Fields {
		v := s.values[f.Index]
		if v == nil && (f.Schema.Optional || f.Schema.Default != nil) {
			continue
		}
		if err := validateField(f.Name, f.Schema, v); err != nil {
			return err
		}
	}
	return nil
}

// String writes the struct as Kafka's Struct.toString: the fields that are
// set, "Struct{a=1,b=x}".
func (s *Struct) String() string { return Format(s) }

// Validate checks that v fits schema s, recursively.
func Validate(s *Schema, v any) error { return validateField("", s, v) }

func validateField(field string, s *Schema, v any) error {
	// where names the field in an error; built only for an error, as this
	// runs for every field of every record.
	where := func() string {
		if field == "" {
			return ""
		}
		return fmt.Sprintf(" for field: %q", field)
	}
	if s == nil {
		return &Error{Msg: "Invalid value: schema is null" + where()}
	}
	if v == nil {
		if !s.Optional && s.Default == nil {
			return &Error{Msg: fmt.Sprintf("Invalid value: null used for required field: %q, schema type: %s", field, s.Type)}
		}
		return nil
	}
	if IsLogical(s) {
		want := "time.Time"
		ok := false
		if s.Name == DecimalName {
			_, ok = v.(Decimal)
			want = "data.Decimal"
		} else {
			_, ok = v.(time.Time)
		}
		if !ok {
			return &Error{Msg: fmt.Sprintf("Invalid Go type for %s: %T%s (want %s)", s.Name, v, where(), want)}
		}
		return nil
	}
	ok := false
	switch s.Type {
	case TypeInt8:
		_, ok = v.(int8)
	case TypeInt16:
		_, ok = v.(int16)
	case TypeInt32:
		_, ok = v.(int32)
	case TypeInt64:
		_, ok = v.(int64)
	case TypeFloat32:
		_, ok = v.(float32)
	case TypeFloat64:
		_, ok = v.(float64)
	case TypeBoolean:
		_, ok = v.(bool)
	case TypeString:
		_, ok = v.(string)
	case TypeBytes:
		_, ok = v.([]byte)
	case TypeArray:
		items, isList := v.([]any)
		if !isList {
			break
		}
		for _, item := range items {
			if err := validateField(field, s.ValueSchema, item); err != nil {
				return err
			}
		}
		return nil
	case TypeMap:
		var err error
		isMap := RangeMap(v, func(k, mv any) bool {
			if err = validateField(field, s.KeySchema, k); err == nil {
				err = validateField(field, s.ValueSchema, mv)
			}
			return err == nil
		})
		if !isMap {
			break
		}
		return err
	case TypeStruct:
		st, isStruct := v.(*Struct)
		if !isStruct {
			break
		}
		if !Equal(st.schema, s) {
			return &Error{Msg: "Struct schemas do not match." + where()}
		}
		return st.Validate()
	}
	if !ok {
		return &Error{Msg: fmt.Sprintf("Invalid Go type for schema with type %s: %T%s", s.Type, v, where())}
	}
	return nil
}

// RangeMap calls f for each entry of a map value (map[any]any,
// map[string]any, or another Go map), until f returns false. It reports
// whether v is a map.
func RangeMap(v any, f func(k, v any) bool) bool {
	switch m := v.(type) {
	case map[any]any:
		for k, mv := range m {
			if !f(k, mv) {
				break
			}
		}
		return true
	case map[string]any:
		for k, mv := range m {
			if !f(k, mv) {
				break
			}
		}
		return true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return false
	}
	it := rv.MapRange()
	for it.Next() {
		if !f(it.Key().Interface(), it.Value().Interface()) {
			break
		}
	}
	return true
}

// MapLen returns the number of entries of a map value.
func MapLen(v any) int {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return 0
	}
	return rv.Len()
}

// InferType returns the schema type of a schemaless value's Go type, as
// Kafka's ConnectSchema.schemaType: false for a type Connect has no schema
// type for.
func InferType(v any) (Type, bool) {
	switch v.(type) {
	case int8:
		return TypeInt8, true
	case int16:
		return TypeInt16, true
	case int32:
		return TypeInt32, true
	case int64:
		return TypeInt64, true
	case float32:
		return TypeFloat32, true
	case float64:
		return TypeFloat64, true
	case bool:
		return TypeBoolean, true
	case string:
		return TypeString, true
	case []byte:
		return TypeBytes, true
	case []any:
		return TypeArray, true
	case map[any]any, map[string]any:
		return TypeMap, true
	case *Struct:
		return TypeStruct, true
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return TypeArray, true
	case reflect.Map:
		return TypeMap, true
	}
	return 0, false
}

// ValuesEqual compares two values deeply: bytes by content, structs by
// schema and fields, decimals by value and scale, times by instant.
func ValuesEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Scale == y.Scale && x.unscaled().Cmp(y.unscaled()) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case *Struct:
		y, ok := b.(*Struct)
		if !ok || !Equal(x.schema, y.schema) {
			return false
		}
		for i := range x.values {
			if !ValuesEqual(x.values[i], y.values[i]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ValuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	if _, ok := InferType(a); ok {
		if t, _ := InferType(a); t == TypeMap {
			if tb, _ := InferType(b); tb != TypeMap || MapLen(a) != MapLen(b) {
				return false
			}
			eq := true
			RangeMap(a, func(k, v any) bool {
				found := false
				RangeMap(b, func(k2, v2 any) bool {
					if ValuesEqual(k, k2) {
						found = ValuesEqual(v, v2)
						return false
					}
					return true
				})
				eq = found
				return eq
			})
			return eq
		}
	}
	return reflect.DeepEqual(a, b)
}
