// Package configdef describes and parses the settings of connectors,
// converters, transforms and workers, as Kafka's ConfigDef does: each key
// has a type, a default (or none, making it required), a validator, an
// importance and documentation. A Def parses a map of strings into typed
// values and lists what it accepts for `sluice connect plugins` and the
// REST API.
package configdef

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is a setting's type, with Kafka's names.
type Type int

// Setting types.
const (
	String Type = iota
	Boolean
	Int
	Short
	Long
	Double
	List
	Class
	Password
)

func (t Type) String() string {
	return [...]string{"STRING", "BOOLEAN", "INT", "SHORT", "LONG", "DOUBLE", "LIST", "CLASS", "PASSWORD"}[t]
}

// Importance tells a user which settings matter most.
type Importance int

// Importances.
const (
	High Importance = iota
	Medium
	Low
)

func (i Importance) String() string { return [...]string{"HIGH", "MEDIUM", "LOW"}[i] }

// Key is one setting.
type Key struct {
	Name string
	Type Type
	// Default is the setting's value when it is not given, written as a
	// user would write it. An empty Default of a non-string type means
	// null: the setting is then absent from the parsed values.
	Default string
	// Required settings have no default: parsing fails without them.
	Required   bool
	Validator  Validator
	Importance Importance
	Doc        string
	Group      string
	// DisplayName is the name user interfaces show; Name when empty.
	DisplayName string
}

// Validator checks a parsed value.
type Validator interface {
	// Validate returns an error for a bad value of the named setting.
	Validate(name string, value any) error
	// String describes the valid values for documentation, e.g. "[none, all]".
	String() string
}

// Def is an ordered set of settings.
type Def struct {
	keys []Key
}

// New returns a Def of the keys, in order.
func New(keys ...Key) *Def {
	d := &Def{}
	for _, k := range keys {
		d.Define(k)
	}
	return d
}

// Define adds or replaces a setting.
func (d *Def) Define(k Key) *Def {
	for i := range d.keys {
		if d.keys[i].Name == k.Name {
			d.keys[i] = k
			return d
		}
	}
	d.keys = append(d.keys, k)
	return d
}

// Merge returns a new Def with d's settings and then other's, which win on
// a shared name.
func (d *Def) Merge(other *Def) *Def {
	out := &Def{keys: slices.Clone(d.keys)}
	if other != nil {
		for _, k := range other.keys {
			out.Define(k)
		}
	}
	return out
}

// WithPrefix returns a Def whose names carry the prefix, for embedding a
// plugin's settings in a connector's (transforms.x.field).
func (d *Def) WithPrefix(prefix string) *Def {
	out := &Def{}
	for _, k := range d.keys {
		k.Name = prefix + k.Name
		out.keys = append(out.keys, k)
	}
	return out
}

// Keys returns the settings in order.
func (d *Def) Keys() []Key {
	if d == nil {
		return nil
	}
	return slices.Clone(d.keys)
}

// Key returns the setting called name.
func (d *Def) Key(name string) (Key, bool) {
	if d != nil {
		for _, k := range d.keys {
			if k.Name == name {
				return k, true
			}
		}
	}
	return Key{}, false
}

// Parse reads every defined setting from props: a missing one takes its
// default, a required one without a value is an error, and every value is
// converted to its type and validated. All problems are reported together.
// Settings props has but d does not define are kept as strings in
// Values.Originals.
func (d *Def) Parse(props map[string]string) (*Values, error) {
	v := &Values{parsed: map[string]any{}, originals: maps.Clone(props)}
	if v.originals == nil {
		v.originals = map[string]string{}
	}
	var errs []error
	for _, k := range d.keys {
		raw, ok := props[k.Name]
		if !ok {
			if k.Required {
				errs = append(errs, fmt.Errorf("missing required configuration %q which has no default value", k.Name))
				continue
			}
			raw = k.Default
			if raw == "" && k.Type != String && k.Type != Password && k.Type != List {
				continue // null default
			}
		}
		val, err := ParseValue(k.Type, raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for configuration %s: %w", raw, k.Name, err))
			continue
		}
		if k.Validator != nil {
			if err := k.Validator.Validate(k.Name, val); err != nil {
				errs = append(errs, fmt.Errorf("invalid value %q for configuration %s: %w", raw, k.Name, err))
				continue
			}
		}
		v.parsed[k.Name] = val
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return v, nil
}

// ParseValue converts text to a setting type's Go value: string, bool,
// int32, int16, int64, float64, []string (comma-separated, trimmed,
// empty items dropped), or Secret.
func ParseValue(t Type, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch t {
	case String, Class:
		return s, nil
	case Password:
		return Secret(raw), nil
	case Boolean:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("expected value to be either true or false")
	case Int:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, errors.New("not a number of type INT")
		}
		return int32(n), nil
	case Short:
		n, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return nil, errors.New("not a number of type SHORT")
		}
		return int16(n), nil
	case Long:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errors.New("not a number of type LONG")
		}
		return n, nil
	case Double:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("not a number of type DOUBLE")
		}
		return f, nil
	case List:
		return SplitList(s), nil
	}
	return nil, fmt.Errorf("unknown type %v", t)
}

// SplitList splits a comma-separated list, trimming items and dropping
// empty ones.
func SplitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Secret is a password: it prints as [hidden].
type Secret string

func (Secret) String() string { return "[hidden]" }

// Values are parsed settings.
type Values struct {
	parsed    map[string]any
	originals map[string]string
}

// Has reports whether the setting has a non-null value.
func (v *Values) Has(name string) bool { _, ok := v.parsed[name]; return ok }

// Get returns a setting's parsed value, nil when null.
func (v *Values) Get(name string) any { return v.parsed[name] }

// String returns a String, Class or Password setting ("" when null).
func (v *Values) String(name string) string {
	switch x := v.parsed[name].(type) {
	case string:
		return x
	case Secret:
		return string(x)
	}
	return ""
}

// Bool returns a Boolean setting.
func (v *Values) Bool(name string) bool { b, _ := v.parsed[name].(bool); return b }

// Int returns an Int, Short or Long setting.
func (v *Values) Int(name string) int64 {
	switch x := v.parsed[name].(type) {
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int64:
		return x
	}
	return 0
}

// Double returns a Double setting.
func (v *Values) Double(name string) float64 { f, _ := v.parsed[name].(float64); return f }

// List returns a List setting.
func (v *Values) List(name string) []string { l, _ := v.parsed[name].([]string); return l }

// Duration returns a setting of milliseconds as a duration.
func (v *Values) Duration(name string) time.Duration {
	return time.Duration(v.Int(name)) * time.Millisecond
}

// Originals returns every setting as given, defined or not.
func (v *Values) Originals() map[string]string { return maps.Clone(v.originals) }

// WithPrefix returns the given settings whose names start with prefix,
// the prefix removed, as Kafka's originalsWithPrefix.
func (v *Values) WithPrefix(prefix string) map[string]string {
	return WithPrefix(v.originals, prefix)
}

// WithPrefix returns the entries of props whose keys start with prefix,
// the prefix removed.
func WithPrefix(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, val := range props {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = val
		}
	}
	return out
}
