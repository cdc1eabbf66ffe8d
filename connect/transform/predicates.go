package transform

import (
	"regexp"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
)

// Filter drops every record it is applied to; use it with a predicate.
type Filter struct{}

// Config describes the settings: none.
func (Filter) Config() *configdef.Def { return configdef.New() }

// Configure does nothing.
func (Filter) Configure(map[string]string) error { return nil }

// Close does nothing.
func (Filter) Close() error { return nil }

// Apply drops the record.
func (Filter) Apply(connect.AnyRecord) (connect.AnyRecord, error) { return nil, nil }

// TopicNameMatches is true for records whose topic matches pattern as a
// whole.
type TopicNameMatches struct{ re *regexp.Regexp }

// TopicNameMatchesConfig describes TopicNameMatches' settings.
func TopicNameMatchesConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: "pattern", Type: configdef.String, Required: true, Importance: configdef.Medium,
		Validator: configdef.Func("non-empty string, valid regex", func(n string, v any) error {
			if err := configdef.NonEmpty().Validate(n, v); err != nil {
				return err
			}
			return configdef.Regexp().Validate(n, v)
		}),
		Doc: "A Java regular expression for matching against the name of a record's topic."})
}

// Config describes the settings.
func (*TopicNameMatches) Config() *configdef.Def { return TopicNameMatchesConfig() }

// Close does nothing.
func (*TopicNameMatches) Close() error { return nil }

// Configure compiles pattern.
func (p *TopicNameMatches) Configure(props map[string]string) error {
	v, err := TopicNameMatchesConfig().Parse(props)
	if err != nil {
		return err
	}
	p.re, err = CompileFull(v.String("pattern"))
	return err
}

// Test matches the topic.
func (p *TopicNameMatches) Test(r connect.AnyRecord) bool { return p.re.MatchString(r.Base().Topic) }

// HasHeaderKey is true for records with at least one header called name.
type HasHeaderKey struct{ name string }

// HasHeaderKeyConfig describes HasHeaderKey's settings.
func HasHeaderKeyConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: "name", Type: configdef.String, Required: true, Validator: configdef.NonEmpty(),
		Importance: configdef.Medium, Doc: "The header name."})
}

// Config describes the settings.
func (*HasHeaderKey) Config() *configdef.Def { return HasHeaderKeyConfig() }

// Close does nothing.
func (*HasHeaderKey) Close() error { return nil }

// Configure reads name.
func (p *HasHeaderKey) Configure(props map[string]string) error {
	v, err := HasHeaderKeyConfig().Parse(props)
	if err != nil {
		return err
	}
	p.name = v.String("name")
	return nil
}

// Test looks for the header.
func (p *HasHeaderKey) Test(r connect.AnyRecord) bool {
	_, ok := r.Base().Headers.Last(p.name)
	return ok
}

// RecordIsTombstone is true for records whose value is null.
type RecordIsTombstone struct{}

// Config describes the settings: none.
func (RecordIsTombstone) Config() *configdef.Def { return configdef.New() }

// Configure does nothing.
func (RecordIsTombstone) Configure(map[string]string) error { return nil }

// Close does nothing.
func (RecordIsTombstone) Close() error { return nil }

// Test checks the value.
func (RecordIsTombstone) Test(r connect.AnyRecord) bool { return r.Base().Value == nil }
