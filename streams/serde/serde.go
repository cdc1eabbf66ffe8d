// Package serde turns typed keys and values into the bytes of Kafka records
// and back.
//
// A Serde is the pair Kafka Streams calls a serializer and a deserializer. The
// encodings match Kafka's own serdes byte for byte, so a Java or kcat
// consumer reads what a Sluice Streams application writes: strings are UTF-8,
// Int32 and Int64 are big-endian two's complement (Kafka's IntegerSerde and
// LongSerde), Float64 is the IEEE 754 big-endian bits (DoubleSerde), and JSON
// is encoding/json.
//
// A nil byte slice is Kafka's null. Serialize is never asked to encode a null:
// the runtime writes a null value (a tombstone) without calling it.
package serde

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
)

// Serde serializes values of type T for a topic and reads them back.
type Serde[T any] interface {
	Serialize(topic string, v T) ([]byte, error)
	Deserialize(topic string, b []byte) (T, error)
}

// Funcs builds a Serde from two functions.
func Funcs[T any](ser func(topic string, v T) ([]byte, error), de func(topic string, b []byte) (T, error)) Serde[T] {
	return funcs[T]{ser, de}
}

type funcs[T any] struct {
	ser func(string, T) ([]byte, error)
	de  func(string, []byte) (T, error)
}

func (f funcs[T]) Serialize(topic string, v T) ([]byte, error)   { return f.ser(topic, v) }
func (f funcs[T]) Deserialize(topic string, b []byte) (T, error) { return f.de(topic, b) }

// Bytes passes bytes through unchanged.
var Bytes Serde[[]byte] = bytesSerde{}

type bytesSerde struct{}

func (bytesSerde) Serialize(_ string, v []byte) ([]byte, error)   { return v, nil }
func (bytesSerde) Deserialize(_ string, b []byte) ([]byte, error) { return b, nil }

// String is UTF-8 text.
var String Serde[string] = stringSerde{}

type stringSerde struct{}

func (stringSerde) Serialize(_ string, v string) ([]byte, error)   { return []byte(v), nil }
func (stringSerde) Deserialize(_ string, b []byte) (string, error) { return string(b), nil }

// Int64 is 8 bytes big-endian, as Kafka's LongSerde.
var Int64 Serde[int64] = int64Serde{}

type int64Serde struct{}

func (int64Serde) Serialize(_ string, v int64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)), nil
}

func (int64Serde) Deserialize(topic string, b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("int64 from topic %s: %d bytes, want 8", topic, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// Int32 is 4 bytes big-endian, as Kafka's IntegerSerde.
var Int32 Serde[int32] = int32Serde{}

type int32Serde struct{}

func (int32Serde) Serialize(_ string, v int32) ([]byte, error) {
	return binary.BigEndian.AppendUint32(make([]byte, 0, 4), uint32(v)), nil
}

func (int32Serde) Deserialize(topic string, b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("int32 from topic %s: %d bytes, want 4", topic, len(b))
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

// Int is a Go int as 8 bytes big-endian (the Int64 encoding).
var Int Serde[int] = intSerde{}

type intSerde struct{}

func (intSerde) Serialize(t string, v int) ([]byte, error) { return Int64.Serialize(t, int64(v)) }
func (intSerde) Deserialize(t string, b []byte) (int, error) {
	v, err := Int64.Deserialize(t, b)
	return int(v), err
}

// Float64 is the IEEE 754 bits, big-endian, as Kafka's DoubleSerde.
var Float64 Serde[float64] = float64Serde{}

type float64Serde struct{}

func (float64Serde) Serialize(_ string, v float64) ([]byte, error) {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), math.Float64bits(v)), nil
}

func (float64Serde) Deserialize(topic string, b []byte) (float64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("float64 from topic %s: %d bytes, want 8", topic, len(b))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

// JSON encodes T with encoding/json.
func JSON[T any]() Serde[T] { return jsonSerde[T]{} }

type jsonSerde[T any] struct{}

func (jsonSerde[T]) Serialize(topic string, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("json for topic %s: %w", topic, err)
	}
	return b, nil
}

func (jsonSerde[T]) Deserialize(topic string, b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("json from topic %s: %w", topic, err)
	}
	return v, nil
}

// Default is the serde used where an application names none, the Go
// counterpart of Kafka's default.key.serde and default.value.serde: chosen
// by type, Bytes, String, Int64, Int32, Int and Float64 for those types, and
// JSON for any other.
func Default[T any]() Serde[T] {
	var zero T
	var s any
	switch any(zero).(type) {
	case []byte:
		s = Bytes
	case string:
		s = String
	case int64:
		s = Int64
	case int32:
		s = Int32
	case int:
		s = Int
	case float64:
		s = Float64
	default:
		return JSON[T]()
	}
	if typed, ok := s.(Serde[T]); ok {
		return typed
	}
	// A named type with one of those underlying types (type Word string) is
	// not the same T: JSON keeps it correct.
	return JSON[T]()
}

// TypeName names T for error messages and topology descriptions.
func TypeName[T any]() string {
	return reflect.TypeFor[T]().String()
}
