package postgres

import (
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicehq/sluice/connect/data"
)

// column is how the source reads one result column: its Connect schema,
// a scan destination, and how to turn what was scanned into a Connect
// value.
type column struct {
	name   string
	schema *data.Schema
	dest   func() any             // a fresh scan destination
	value  func(any) (any, error) // from the destination to a Connect value; nil for NULL
	text   bool                   // read in text format
}

// numericScale returns a numeric column's declared scale, or -1 when it has
// none (numeric without precision).
func numericScale(typmod int32) int32 {
	if typmod < 4 {
		return -1
	}
	return (typmod - 4) & 0xffff
}

// columnFor maps a result column to Connect, as the JDBC source maps SQL
// types: integers to INT16/INT32/INT64, floating point to FLOAT32/FLOAT64,
// numeric with a scale to Decimal (numeric without one to FLOAT64), dates
// and times to the Date, Time and Timestamp logical types, bytea to BYTES,
// and text, uuid, json and every other type to STRING (their text form).
// optional is whether the column may be NULL; loc is the session's time
// zone, in which times without a time zone are.
func columnFor(f pgconn.FieldDescription, optional bool, loc *time.Location) column {
	c := column{name: f.Name}
	prim := func(t data.Type) *data.Schema { return data.PrimitiveSchema(t, optional) }
	logical := func(s *data.Schema) *data.Schema {
		if optional {
			return s.AsOptional()
		}
		return s
	}
	switch f.DataTypeOID {
	case pgtype.BoolOID:
		c.schema = prim(data.TypeBoolean)
		c.dest = func() any { return new(*bool) }
		c.value = func(d any) (any, error) { return ptrValue(*d.(**bool)), nil }
	case pgtype.Int2OID:
		c.schema = prim(data.TypeInt16)
		c.dest = func() any { return new(*int16) }
		c.value = func(d any) (any, error) { return ptrValue(*d.(**int16)), nil }
	case pgtype.Int4OID:
		c.schema = prim(data.TypeInt32)
		c.dest = func() any { return new(*int32) }
		c.value = func(d any) (any, error) { return ptrValue(*d.(**int32)), nil }
	case pgtype.Int8OID:
		c.schema = prim(data.TypeInt64)
		c.dest = func() any { return new(*int64) }
		c.value = func(d any) (any, error) { return ptrValue(*d.(**int64)), nil }
	case pgtype.Float4OID:
		c.schema = prim(data.TypeFloat32)
		c.dest = func() any { return new(*float32) }
		c.value = func(d any) (any, error) { return ptrValue(*d.(**float32)), nil }
	case pgtype.Float8OID:
		c.schema = prim(data.TypeFloat64)
		c.dest = func() any { return new(*float64) }
		c.value = func(d any) (any, error) { return ptrValue(*d.(**float64)), nil }
	case pgtype.NumericOID:
		scale := numericScale(f.TypeModifier)
		if scale < 0 {
			c.schema = prim(data.TypeFloat64)
			c.dest = func() any { return new(*float64) }
			c.value = func(d any) (any, error) { return ptrValue(*d.(**float64)), nil }
			break
		}
		c.schema = logical(data.DecimalSchema(scale))
		c.dest = func() any { return new(pgtype.Numeric) }
		c.value = func(d any) (any, error) {
			n := d.(*pgtype.Numeric)
			if !n.Valid {
				return nil, nil
			}
			if n.NaN || n.InfinityModifier != pgtype.Finite {
				return nil, fmt.Errorf("column %s: %v cannot be a Decimal", f.Name, n)
			}
			dec := data.Decimal{Unscaled: new(big.Int).Set(n.Int), Scale: -n.Exp}
			return dec.Rescale(scale)
		}
	case pgtype.ByteaOID:
		c.schema = prim(data.TypeBytes)
		c.dest = func() any { return new([]byte) }
		c.value = func(d any) (any, error) {
			if b := *d.(*[]byte); b != nil {
				return b, nil
			}
			return nil, nil
		}
	case pgtype.DateOID:
		c.schema = logical(data.DateSchema)
		c.dest = func() any { return new(pgtype.Date) }
		c.value = func(d any) (any, error) {
			v := d.(*pgtype.Date)
			if !v.Valid {
				return nil, nil
			}
			if v.InfinityModifier != pgtype.Finite {
				return nil, fmt.Errorf("column %s: an infinite date cannot be a Date", f.Name)
			}
			t := v.Time
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		}
	case pgtype.TimeOID:
		c.schema = logical(data.TimeSchema)
		c.dest = func() any { return new(pgtype.Time) }
		c.value = func(d any) (any, error) {
			v := d.(*pgtype.Time)
			if !v.Valid {
				return nil, nil
			}
			// Connect's Time has milliseconds.
			return time.UnixMilli(v.Microseconds / 1000).UTC(), nil
		}
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		c.schema = logical(data.TimestampSchema)
		c.dest = func() any { return new(pgtype.Timestamptz) }
		if f.DataTypeOID == pgtype.TimestampOID {
			c.dest = func() any { return new(pgtype.Timestamp) }
		}
		c.value = func(d any) (any, error) {
			var t time.Time
			switch v := d.(type) {
			case *pgtype.Timestamptz:
				if !v.Valid {
					return nil, nil
				}
				if v.InfinityModifier != pgtype.Finite {
					return nil, fmt.Errorf("column %s: an infinite timestamp cannot be a Timestamp", f.Name)
				}
				t = v.Time
			case *pgtype.Timestamp:
				if !v.Valid {
					return nil, nil
				}
				if v.InfinityModifier != pgtype.Finite {
					return nil, fmt.Errorf("column %s: an infinite timestamp cannot be a Timestamp", f.Name)
				}
				t = inZone(v.Time, loc)
			}
			return t.UTC(), nil
		}
	default:
		// text, varchar, uuid, json and the rest: their text form.
		c.schema = prim(data.TypeString)
		c.text = true
		c.dest = func() any { return new(pgtype.Text) }
		c.value = func(d any) (any, error) {
			v := d.(*pgtype.Text)
			if !v.Valid {
				return nil, nil
			}
			return v.String, nil
		}
	}
	return c
}

// inZone reads the wall clock of a time without a time zone (which pgx
// gives in UTC) as a time in loc.
func inZone(wall time.Time, loc *time.Location) time.Time {
	return time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), wall.Nanosecond(), loc)
}

// wallClock is the reverse of inZone: t's wall clock in loc, as a time
// without a time zone for pgx.
func wallClock(t time.Time, loc *time.Location) pgtype.Timestamp {
	w := t.In(loc)
	return pgtype.Timestamp{Time: time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC), Valid: true}
}

func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// sqlType is the PostgreSQL column type for a Connect schema, for
// auto.create and auto.evolve.
func sqlType(s *data.Schema) (string, error) {
	switch s.Name {
	case data.DecimalName:
		return "NUMERIC", nil
	case data.DateName:
		return "DATE", nil
	case data.TimeName:
		return "TIME", nil
	case data.TimestampName:
		return "TIMESTAMP", nil
	}
	switch s.Type {
	case data.TypeInt8, data.TypeInt16:
		return "SMALLINT", nil
	case data.TypeInt32:
		return "INT", nil
	case data.TypeInt64:
		return "BIGINT", nil
	case data.TypeFloat32:
		return "REAL", nil
	case data.TypeFloat64:
		return "DOUBLE PRECISION", nil
	case data.TypeBoolean:
		return "BOOLEAN", nil
	case data.TypeString:
		return "TEXT", nil
	case data.TypeBytes:
		return "BYTEA", nil
	}
	return "", fmt.Errorf("no PostgreSQL type for a Connect %s", s.Type)
}

// sqlValue turns a Connect value into what pgx writes for its column; loc
// is the session's time zone.
func sqlValue(s *data.Schema, v any, loc *time.Location) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case int8:
		return int16(x), nil
	case data.Decimal:
		return pgtype.Numeric{Int: x.Unscaled, Exp: -x.Scale, Valid: true}, nil
	case time.Time:
		if s != nil && s.Name == data.TimeName {
			t := x.UTC()
			us := int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000)
			return pgtype.Time{Microseconds: us, Valid: true}, nil
		}
		if s != nil && s.Name == data.TimestampName {
			return wallClock(x, loc), nil
		}
		return x, nil
	case *data.Struct, []any, map[any]any, map[string]any:
		return nil, fmt.Errorf("a %T cannot be written to a PostgreSQL column", v)
	}
	return v, nil
}
