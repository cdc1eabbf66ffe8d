package data

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// ParseValue infers a schema and value from text, as Kafka's
// Values.parseString does for header values and InsertHeader literals:
// "null" is null; "true" and "false" are booleans; integers take the
// smallest of Int8..Int64 that holds them, a larger one is a Decimal;
// other numbers are Float32 (Float64 when out of Float32's range);
// yyyy-MM-dd, HH:mm:ss.SSS'Z' and yyyy-MM-dd'T'HH:mm:ss.SSS'Z' are Date,
// Time and Timestamp; "[...]" and "{...}" are arrays and maps of such
// values (embedded strings in double quotes); anything else, or text that
// does not parse whole, is the string itself. The schema of an array or
// map is nil when its elements do not share one.
func ParseValue(s string) (*Schema, any) {
	if s == "" {
		return StringSchema, s
	}
	p := &parser{s: s}
	sch, v, err := p.value(false)
	if err == nil {
		p.space()
		if p.i == len(p.s) {
			return sch, v
		}
	}
	return StringSchema, s
}

type parser struct {
	s string
	i int
}

var errParse = errors.New("not a value")

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z`)
	dateRE      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	timeRE      = regexp.MustCompile(`^\d{2}:\d{2}:\d{2}\.\d{3}Z`)
)

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// literal consumes word if it stands alone (followed by a delimiter or the
// end, or, at the top level, only by the end).
func (p *parser) literal(word string, embedded bool) bool {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return false
	}
	rest := strings.TrimLeft(p.s[p.i+len(word):], " \t\r\n")
	if rest == "" || (embedded && strings.ContainsRune(",]}:", rune(rest[0]))) {
		p.i += len(word)
		return true
	}
	return false
}

func (p *parser) value(embedded bool) (*Schema, any, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, nil, errParse
	}
	if embedded && p.peek() == '"' {
		str, err := p.quoted()
		if err != nil {
			return nil, nil, err
		}
		if sch, v, ok := parseTemporal(str); ok && len(str) == temporalLen(str) {
			return sch, v, nil
		}
		return StringSchema, str, nil
	}
	switch {
	case p.literal("null", embedded):
		return nil, nil, nil
	case p.literal("true", embedded):
		return BooleanSchema, true, nil
	case p.literal("false", embedded):
		return BooleanSchema, false, nil
	}
	switch p.peek() {
	case '[':
		return p.array()
	case '{':
		return p.mapValue()
	}
	var tok string
	if embedded {
		// A temporal literal holds colons, the map delimiter: take it whole.
		rest := p.s[p.i:]
		if n := temporalLen(rest); n > 0 {
			tok = rest[:n]
		} else {
			j := strings.IndexAny(rest, ",]}:")
			if j < 0 {
				j = len(rest)
			}
			tok = rest[:j]
		}
	} else {
		tok = p.s[p.i:]
	}
	p.i += len(tok)
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return nil, nil, errParse
	}
	if sch, v, ok := parseTemporal(tok); ok && len(tok) == temporalLen(tok) {
		return sch, v, nil
	}
	if c := tok[0]; (c >= '0' && c <= '9') || c == '+' || c == '-' {
		if sch, v, ok := parseNumber(tok); ok {
			return sch, v, nil
		}
	}
	if embedded {
		return nil, nil, errParse
	}
	return StringSchema, p.s, nil
}

func (p *parser) quoted() (string, error) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\' && p.i+1 < len(p.s):
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c == '"':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errParse
}

func (p *parser) array() (*Schema, any, error) {
	p.i++ // [
	items := []any{}
	var common *Schema
	mixed := false
	for first := true; ; first = false {
		p.space()
		if p.peek() == ']' && first {
			p.i++
			return arraySchema(common, mixed), items, nil
		}
		sch, v, err := p.value(true)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, v)
		common, mixed = commonSchema(common, sch, mixed, v == nil)
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return arraySchema(common, mixed), items, nil
		default:
			return nil, nil, errParse
		}
	}
}

func arraySchema(common *Schema, mixed bool) *Schema {
	if mixed || common == nil {
		return nil
	}
	return NewArraySchema(common)
}

func (p *parser) mapValue() (*Schema, any, error) {
	p.i++ // {
	m := map[any]any{}
	var ks, vs *Schema
	kmixed, vmixed := false, false
	for first := true; ; first = false {
		p.space()
		if p.peek() == '}' && first {
			p.i++
			return mapSchema(ks, vs, kmixed, vmixed), m, nil
		}
		kSch, k, err := p.value(true)
		if err != nil || k == nil {
			return nil, nil, errParse
		}
		p.space()
		if p.peek() != ':' {
			return nil, nil, errParse
		}
		p.i++
		vSch, v, err := p.value(true)
		if err != nil {
			return nil, nil, err
		}
		if !comparable(k) {
			return nil, nil, errParse
		}
		m[k] = v
		ks, kmixed = commonSchema(ks, kSch, kmixed, false)
		vs, vmixed = commonSchema(vs, vSch, vmixed, v == nil)
		p.space()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return mapSchema(ks, vs, kmixed, vmixed), m, nil
		default:
			return nil, nil, errParse
		}
	}
}

func comparable(v any) bool {
	switch v.(type) {
	case []any, []byte, map[any]any:
		return false
	}
	return true
}

func mapSchema(ks, vs *Schema, kmixed, vmixed bool) *Schema {
	if kmixed || vmixed || ks == nil || vs == nil {
		return nil
	}
	return NewMapSchema(ks, vs)
}

// commonSchema folds one more element's schema into the elements' common
// schema; null elements make it optional.
func commonSchema(common, next *Schema, mixed, isNull bool) (*Schema, bool) {
	if mixed {
		return nil, true
	}
	if isNull {
		return common.AsOptional(), false
	}
	if common == nil {
		return next, false
	}
	if next == nil || common.Type != next.Type || common.Name != next.Name {
		return nil, true
	}
	return common, false
}

// temporalLen returns the length of a temporal literal at the start of s,
// or 0.
func temporalLen(s string) int {
	for _, re := range []*regexp.Regexp{timestampRE, timeRE, dateRE} {
		if loc := re.FindStringIndex(s); loc != nil {
			return loc[1]
		}
	}
	return 0
}

func parseTemporal(s string) (*Schema, any, bool) {
	n := temporalLen(s)
	if n == 0 {
		return nil, nil, false
	}
	lit := s[:n]
	for _, c := range []struct {
		layout string
		schema *Schema
	}{{isoTimestamp, TimestampSchema}, {isoTime, TimeSchema}, {isoDate, DateSchema}} {
		if len(lit) != len(c.layout) {
			continue
		}
		t, err := time.Parse(c.layout, lit)
		if err != nil {
			continue
		}
		if c.schema == TimeSchema {
			t = t.AddDate(1970, 0, 0) // time.Parse puts a lone time in year 0
		}
		return c.schema, t.UTC(), true
	}
	return nil, nil, false
}

func parseNumber(tok string) (*Schema, any, bool) {
	d, err := ParseDecimal(strings.TrimPrefix(tok, "+"))
	if err != nil {
		return nil, nil, false
	}
	r := d.Rat()
	if r.IsInt() {
		n := r.Num()
		if n.IsInt64() {
			v := n.Int64()
			switch {
			case v >= math.MinInt8 && v <= math.MaxInt8:
				return Int8Schema, int8(v), true
			case v >= math.MinInt16 && v <= math.MaxInt16:
				return Int16Schema, int16(v), true
			case v >= math.MinInt32 && v <= math.MaxInt32:
				return Int32Schema, int32(v), true
			default:
				return Int64Schema, v, true
			}
		}
	}
	if d.Scale != 0 {
		f32, _ := r.Float32()
		if !math.IsInf(float64(f32), 0) {
			return Float32Schema, f32, true
		}
		f64, _ := r.Float64()
		if !math.IsInf(f64, 0) {
			return Float64Schema, f64, true
		}
	}
	return DecimalSchema(d.Scale), Decimal{Unscaled: new(big.Int).Set(d.unscaled()), Scale: d.Scale}, true
}
