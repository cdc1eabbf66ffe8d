package data

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Kafka Connect's logical type names, carried in Schema.Name.
const (
	DecimalName   = "org.apache.kafka.connect.data.Decimal"
	DateName      = "org.apache.kafka.connect.data.Date"
	TimeName      = "org.apache.kafka.connect.data.Time"
	TimestampName = "org.apache.kafka.connect.data.Timestamp"
	// DecimalScaleParam is the decimal schema parameter holding the scale.
	DecimalScaleParam = "scale"
)

// Decimal is an arbitrary-precision decimal number: Unscaled × 10^-Scale,
// as Java's BigDecimal. It is the value of the Decimal logical type, whose
// schema is Bytes (the unscaled value in big-endian two's complement) with
// the scale as a parameter.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// NewDecimal returns unscaled × 10^-scale.
func NewDecimal(unscaled int64, scale int32) Decimal {
	return Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// ParseDecimal reads a decimal written in plain or scientific notation
// ("12.30", "-1E+3"), keeping its scale as written.
func ParseDecimal(s string) (Decimal, error) {
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil {
			return Decimal{}, fmt.Errorf("decimal %q: bad exponent", s)
		}
		mant, exp = s[:i], e
	}
	scale := int64(0)
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		scale = int64(len(mant) - i - 1)
		mant = mant[:i] + mant[i+1:]
	}
	u, ok := new(big.Int).SetString(mant, 10)
	if !ok || mant == "" || strings.ContainsAny(mant, "_") {
		return Decimal{}, fmt.Errorf("decimal %q: not a number", s)
	}
	return Decimal{Unscaled: u, Scale: int32(scale - exp)}, nil
}

// String writes the decimal as Java's BigDecimal.toString does for the
// usual scales: plain notation with Scale digits after the point.
func (d Decimal) String() string {
	if d.Unscaled == nil {
		return "0"
	}
	digits := new(big.Int).Abs(d.Unscaled).String()
	sign := ""
	if d.Unscaled.Sign() < 0 {
		sign = "-"
	}
	switch {
	case d.Scale <= 0:
		if d.Unscaled.Sign() == 0 {
			return "0"
		}
		return sign + digits + strings.Repeat("0", int(-d.Scale))
	case int(d.Scale) >= len(digits):
		return sign + "0." + strings.Repeat("0", int(d.Scale)-len(digits)) + digits
	default:
		return sign + digits[:len(digits)-int(d.Scale)] + "." + digits[len(digits)-int(d.Scale):]
	}
}

// Rat returns the decimal's exact value.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt(d.unscaled())
	if d.Scale > 0 {
		r.Quo(r, new(big.Rat).SetInt(pow10(int64(d.Scale))))
	} else if d.Scale < 0 {
		r.Mul(r, new(big.Rat).SetInt(pow10(int64(-d.Scale))))
	}
	return r
}

// Float64 returns the nearest float64.
func (d Decimal) Float64() float64 {
	f, _ := d.Rat().Float64()
	return f
}

// Rescale returns the decimal with the given scale, failing if that would
// lose digits.
func (d Decimal) Rescale(scale int32) (Decimal, error) {
	u := new(big.Int).Set(d.unscaled())
	switch {
	case scale > d.Scale:
		u.Mul(u, pow10(int64(scale-d.Scale)))
	case scale < d.Scale:
		q, r := new(big.Int).QuoRem(u, pow10(int64(d.Scale-scale)), new(big.Int))
		if r.Sign() != 0 {
			return Decimal{}, fmt.Errorf("decimal %s does not fit scale %d without rounding", d, scale)
		}
		u = q
	}
	return Decimal{Unscaled: u, Scale: scale}, nil
}

func (d Decimal) unscaled() *big.Int {
	if d.Unscaled == nil {
		return new(big.Int)
	}
	return d.Unscaled
}

func pow10(n int64) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil) }

// DecimalSchema returns the required schema of decimals with the scale.
func DecimalSchema(scale int32) *Schema {
	return &Schema{Type: TypeBytes, Name: DecimalName, Version: Int32Ptr(1),
		Parameters: map[string]string{DecimalScaleParam: strconv.Itoa(int(scale))}}
}

// DecimalScale returns the scale parameter of a decimal schema.
func DecimalScale(s *Schema) (int32, error) {
	v, ok := s.Parameters[DecimalScaleParam]
	if !ok {
		return 0, &Error{Msg: "invalid Decimal schema: scale parameter not found"}
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, &Error{Msg: fmt.Sprintf("invalid Decimal schema: scale %q is not an integer", v)}
	}
	return int32(n), nil
}

// DecimalToBytes encodes a decimal's unscaled value as big-endian two's
// complement, the bytes of the Decimal logical type. Its scale must be the
// schema's.
func DecimalToBytes(s *Schema, d Decimal) ([]byte, error) {
	scale, err := DecimalScale(s)
	if err != nil {
		return nil, err
	}
	if d.Scale != scale {
		return nil, &Error{Msg: fmt.Sprintf("decimal %s has scale %d, the schema has scale %d", d, d.Scale, scale)}
	}
	return twosComplement(d.unscaled()), nil
}

// DecimalFromBytes decodes the bytes of the Decimal logical type.
func DecimalFromBytes(s *Schema, b []byte) (Decimal, error) {
	scale, err := DecimalScale(s)
	if err != nil {
		return Decimal{}, err
	}
	return Decimal{Unscaled: fromTwosComplement(b), Scale: scale}, nil
}

func twosComplement(u *big.Int) []byte {
	if u.Sign() >= 0 {
		b := u.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -u - 1 in ones' complement is u in two's complement.
	n := new(big.Int).Neg(u)
	n.Sub(n, big.NewInt(1))
	b := n.Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

func fromTwosComplement(b []byte) *big.Int {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return u
}

// The date and time logical schemas, required and optional.
var (
	DateSchema              = &Schema{Type: TypeInt32, Name: DateName, Version: Int32Ptr(1)}
	TimeSchema              = &Schema{Type: TypeInt32, Name: TimeName, Version: Int32Ptr(1)}
	TimestampSchema         = &Schema{Type: TypeInt64, Name: TimestampName, Version: Int32Ptr(1)}
	OptionalDateSchema      = &Schema{Type: TypeInt32, Name: DateName, Version: Int32Ptr(1), Optional: true}
	OptionalTimeSchema      = &Schema{Type: TypeInt32, Name: TimeName, Version: Int32Ptr(1), Optional: true}
	OptionalTimestampSchema = &Schema{Type: TypeInt64, Name: TimestampName, Version: Int32Ptr(1), Optional: true}
)

const msPerDay = 24 * 60 * 60 * 1000

// DateToDays encodes a Date: days since the epoch. Kafka requires the time
// of day to be midnight UTC.
func DateToDays(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms%msPerDay != 0 {
		return 0, &Error{Msg: "Kafka Connect Date type should not have any time fields set to non-zero values."}
	}
	return int32(ms / msPerDay), nil
}

// DaysToDate decodes a Date.
func DaysToDate(days int32) time.Time { return time.UnixMilli(int64(days) * msPerDay).UTC() }

// TimeToMillis encodes a Time: milliseconds since midnight. Kafka requires
// the date to be the epoch day.
func TimeToMillis(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms >= msPerDay {
		return 0, &Error{Msg: "Kafka Connect Time type should not have any date fields set to non-zero values."}
	}
	return int32(ms), nil
}

// MillisToTime decodes a Time.
func MillisToTime(ms int32) time.Time { return time.UnixMilli(int64(ms)).UTC() }

// TimestampToMillis encodes a Timestamp: milliseconds since the epoch.
func TimestampToMillis(t time.Time) int64 { return t.UnixMilli() }

// MillisToTimestamp decodes a Timestamp.
func MillisToTimestamp(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// IsLogical reports whether s is one of Kafka's logical types.
func IsLogical(s *Schema) bool {
	if s == nil {
		return false
	}
	switch s.Name {
	case DecimalName:
		return s.Type == TypeBytes
	case DateName, TimeName:
		return s.Type == TypeInt32
	case TimestampName:
		return s.Type == TypeInt64
	}
	return false
}

// ToLogical turns the physical value of a logical-typed schema into its
// logical value (days into a time.Time, bytes into a Decimal). Other values
// are returned unchanged.
func ToLogical(s *Schema, v any) (any, error) {
	if v == nil || !IsLogical(s) {
		return v, nil
	}
	switch s.Name {
	case DecimalName:
		b, ok := v.([]byte)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("Decimal value must be bytes, got %T", v)}
		}
		return DecimalFromBytes(s, b)
	case DateName:
		n, ok := v.(int32)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("Date value must be int32, got %T", v)}
		}
		return DaysToDate(n), nil
	case TimeName:
		n, ok := v.(int32)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("Time value must be int32, got %T", v)}
		}
		return MillisToTime(n), nil
	default:
		n, ok := v.(int64)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("Timestamp value must be int64, got %T", v)}
		}
		return MillisToTimestamp(n), nil
	}
}

// FromLogical turns a logical value into its physical value (the inverse
// of ToLogical).
func FromLogical(s *Schema, v any) (any, error) {
	if v == nil || !IsLogical(s) {
		return v, nil
	}
	if s.Name == DecimalName {
		d, ok := v.(Decimal)
		if !ok {
			return nil, &Error{Msg: fmt.Sprintf("Decimal value must be a data.Decimal, got %T", v)}
		}
		return DecimalToBytes(s, d)
	}
	t, ok := v.(time.Time)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("%s value must be a time.Time, got %T", s.Name, v)}
	}
	switch s.Name {
	case DateName:
		return DateToDays(t)
	case TimeName:
		return TimeToMillis(t)
	default:
		return TimestampToMillis(t), nil
	}
}
