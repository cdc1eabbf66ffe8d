package data

import (
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Format writes a value as Java's toString does for the value's Kafka
// counterpart, which is what Kafka's StringConverter and FileStreamSink
// print: "null", numbers as Java prints them (1.0, 1.0E10), lists
// "[a, b]", maps "{k=v}" (keys sorted, Go maps having no order),
// structs "Struct{a=1,b=x}" (fields that are set), and dates as
// java.util.Date prints them in UTC. Bytes are written as they are (Java
// would print an object reference, which helps nobody).
func Format(v any) string {
	var b strings.Builder
	format(&b, v)
	return b.String()
}

func format(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		b.WriteString(x)
	case []byte:
		b.Write(x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		fmt.Fprint(b, x)
	case float32:
		b.WriteString(JavaFloat(float64(x), 32))
	case float64:
		b.WriteString(JavaFloat(x, 64))
	case Decimal:
		b.WriteString(x.String())
	case time.Time:
		b.WriteString(x.UTC().Format("Mon Jan 02 15:04:05 UTC 2006"))
	case *Struct:
		b.WriteString("Struct{")
		first := true
		for i, f := range x.schema.Fields {
			if x.values[i] == nil {
				continue
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(f.Name)
			b.WriteString("=")
			format(b, x.values[i])
		}
		b.WriteString("}")
	case []any:
		b.WriteString("[")
		for i, item := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, item)
		}
		b.WriteString("]")
	default:
		if t, ok := InferType(v); ok && t == TypeMap {
			b.WriteString("{")
			for i, e := range sortedEntries(v) {
				if i > 0 {
					b.WriteString(", ")
				}
				format(b, e.k)
				b.WriteString("=")
				format(b, e.v)
			}
			b.WriteString("}")
			return
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
			b.WriteString("[")
			for i := 0; i < rv.Len(); i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				format(b, rv.Index(i).Interface())
			}
			b.WriteString("]")
			return
		}
		fmt.Fprint(b, v)
	}
}

type entry struct{ k, v any }

// sortedEntries returns a map's entries ordered by their keys' Format.
func sortedEntries(m any) []entry {
	var es []entry
	RangeMap(m, func(k, v any) bool {
		es = append(es, entry{k, v})
		return true
	})
	sort.SliceStable(es, func(i, j int) bool { return Format(es[i].k) < Format(es[j].k) })
	return es
}

// JavaFloat formats a float as Java's Float.toString or Double.toString:
// the shortest digits that read back, in plain notation with at least one
// decimal for magnitudes in [1e-3, 1e7), otherwise as d.dddE±n.
func JavaFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, bits) // d.ddde+nn
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}

// ValueString writes a value as Kafka's Values.convertToString, the text
// form the SimpleHeaderConverter and InsertHeader use: strings as they are,
// bytes in base64, lists "[1,2]", maps and structs {"k":v} with embedded
// strings quoted, and dates in ISO 8601 (yyyy-MM-dd, HH:mm:ss.SSS'Z' or
// yyyy-MM-dd'T'HH:mm:ss.SSS'Z', as the schema or the instant suggests).
func ValueString(s *Schema, v any) string {
	var b strings.Builder
	appendValue(&b, s, v, false)
	return b.String()
}

// The ISO 8601 layouts of Kafka's Values.
const (
	isoDate      = "2006-01-02"
	isoTime      = "15:04:05.000Z"
	isoTimestamp = "2006-01-02T15:04:05.000Z"
)

// ISOFormat formats an instant as Kafka's Values.dateFormatFor does, by the
// logical type of the schema when there is one, otherwise by the instant:
// before the end of the epoch day a time, at a midnight a date, otherwise a
// timestamp.
func ISOFormat(s *Schema, t time.Time) string {
	t = t.UTC()
	name := ""
	if s != nil {
		name = s.Name
	}
	ms := t.UnixMilli()
	switch {
	case name == DateName:
		return t.Format(isoDate)
	case name == TimeName:
		return t.Format(isoTime)
	case name == TimestampName:
		return t.Format(isoTimestamp)
	case ms >= 0 && ms < msPerDay:
		return t.Format(isoTime)
	case ms%msPerDay == 0:
		return t.Format(isoDate)
	default:
		return t.Format(isoTimestamp)
	}
}

func appendValue(b *strings.Builder, s *Schema, v any, embedded bool) {
	var items, vals *Schema
	if s != nil {
		items, vals = s.ValueSchema, s.ValueSchema
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if embedded {
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), `"`, `\"`))
			b.WriteByte('"')
		} else {
			b.WriteString(x)
		}
	case []byte:
		enc := base64.StdEncoding.EncodeToString(x)
		if embedded {
			enc = `"` + enc + `"`
		}
		b.WriteString(enc)
	case time.Time:
		b.WriteString(ISOFormat(s, x))
	case *Struct:
		b.WriteByte('{')
		for i, f := range x.schema.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			appendValue(b, nil, f.Name, true)
			b.WriteByte(':')
			appendValue(b, f.Schema, x.Get(f.Name), true)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			appendValue(b, items, item, true)
		}
		b.WriteByte(']')
	default:
		if t, ok := InferType(v); ok && t == TypeMap {
			var keys *Schema
			if s != nil {
				keys = s.KeySchema
			}
			b.WriteByte('{')
			for i, e := range sortedEntries(v) {
				if i > 0 {
					b.WriteByte(',')
				}
				appendValue(b, keys, e.k, true)
				b.WriteByte(':')
				appendValue(b, vals, e.v, true)
			}
			b.WriteByte('}')
			return
		}
		format(b, v)
	}
}
