package configdef

import (
	"fmt"
	"regexp"
	"strings"
)

// AtLeast accepts numbers >= min.
func AtLeast(min float64) Validator { return rangeValidator{min: &min} }

// Between accepts numbers in [min, max].
func Between(min, max float64) Validator { return rangeValidator{min: &min, max: &max} }

type rangeValidator struct{ min, max *float64 }

func (r rangeValidator) Validate(_ string, v any) error {
	var f float64
	switch x := v.(type) {
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return nil
	}
	if r.min != nil && f < *r.min {
		return fmt.Errorf("value must be at least %v", *r.min)
	}
	if r.max != nil && f > *r.max {
		return fmt.Errorf("value must be no more than %v", *r.max)
	}
	return nil
}

func (r rangeValidator) String() string {
	switch {
	case r.max == nil:
		return fmt.Sprintf("[%v,...]", *r.min)
	case r.min == nil:
		return fmt.Sprintf("[...,%v]", *r.max)
	}
	return fmt.Sprintf("[%v,...,%v]", *r.min, *r.max)
}

// OneOf accepts one of the strings, compared without regard to case when
// fold is true.
func OneOf(fold bool, valid ...string) Validator { return oneOf{valid: valid, fold: fold} }

type oneOf struct {
	valid []string
	fold  bool
}

func (o oneOf) Validate(_ string, v any) error {
	s, _ := v.(string)
	for _, ok := range o.valid {
		if s == ok || (o.fold && strings.EqualFold(s, ok)) {
			return nil
		}
	}
	return fmt.Errorf("string must be one of: %s", strings.Join(o.valid, ", "))
}

func (o oneOf) String() string { return "[" + strings.Join(o.valid, ", ") + "]" }

// ListOf accepts lists whose every item is one of valid, and not empty
// unless allowEmpty.
func ListOf(allowEmpty bool, valid ...string) Validator {
	return listOf{valid: valid, allowEmpty: allowEmpty}
}

type listOf struct {
	valid      []string
	allowEmpty bool
}

func (l listOf) Validate(_ string, v any) error {
	items, _ := v.([]string)
	if len(items) == 0 && !l.allowEmpty {
		return fmt.Errorf("empty list")
	}
	if len(l.valid) == 0 {
		return nil
	}
	for _, item := range items {
		ok := false
		for _, want := range l.valid {
			ok = ok || item == want
		}
		if !ok {
			return fmt.Errorf("invalid value %s: must be one of %s", item, strings.Join(l.valid, ", "))
		}
	}
	return nil
}

func (l listOf) String() string {
	if len(l.valid) == 0 {
		return "non-empty list"
	}
	return "[" + strings.Join(l.valid, ", ") + "]"
}

// NonEmpty accepts non-empty strings and lists.
func NonEmpty() Validator { return nonEmpty{} }

type nonEmpty struct{}

func (nonEmpty) Validate(_ string, v any) error {
	switch x := v.(type) {
	case string:
		if x == "" {
			return fmt.Errorf("string must be non-empty")
		}
	case []string:
		if len(x) == 0 {
			return fmt.Errorf("empty list")
		}
	}
	return nil
}

func (nonEmpty) String() string { return "non-empty string" }

// Regexp accepts strings that compile as regular expressions.
func Regexp() Validator { return regexpValidator{} }

type regexpValidator struct{}

func (regexpValidator) Validate(_ string, v any) error {
	s, _ := v.(string)
	if _, err := regexp.Compile(s); err != nil {
		return fmt.Errorf("not a valid regular expression: %v", err)
	}
	return nil
}

func (regexpValidator) String() string { return "valid regex" }

// Func is a validator from a function and its description.
func Func(desc string, f func(name string, v any) error) Validator { return funcValidator{desc, f} }

type funcValidator struct {
	desc string
	f    func(string, any) error
}

func (f funcValidator) Validate(name string, v any) error { return f.f(name, v) }
func (f funcValidator) String() string                    { return f.desc }
