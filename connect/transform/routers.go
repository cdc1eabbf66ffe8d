package transform

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// RegexRouter renames the topic of records whose topic matches regex as a
// whole, with replacement ($1 for groups, as Java's Matcher.replaceFirst).
type RegexRouter struct {
	re          *regexp.Regexp
	replacement string // in Go's Expand syntax
}

// RegexRouterConfig describes RegexRouter's settings.
func RegexRouterConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "regex", Type: configdef.String, Required: true, Validator: configdef.Regexp(), Importance: configdef.High,
			Doc: "Regular expression to use for matching."},
		configdef.Key{Name: "replacement", Type: configdef.String, Required: true, Importance: configdef.High, Doc: "Replacement string."},
	)
}

// Config describes the settings.
func (*RegexRouter) Config() *configdef.Def { return RegexRouterConfig() }

// Close does nothing.
func (*RegexRouter) Close() error { return nil }

// Configure compiles regex; the whole topic must match it.
func (t *RegexRouter) Configure(props map[string]string) error {
	v, err := RegexRouterConfig().Parse(props)
	if err != nil {
		return err
	}
	re, err := CompileFull(v.String("regex"))
	if err != nil {
		return err
	}
	t.re = re
	t.replacement = javaReplacement(props["replacement"])
	return nil
}

// CompileFull compiles a regular expression that must match a whole
// string, as Java's Matcher.matches.
func CompileFull(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	return re, nil
}

// javaReplacement turns Java's replacement syntax ($1, ${name}, \$) into
// Go's Expand syntax (${1}, ${name}, $$).
func javaReplacement(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case c == '$' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Apply renames the topic when it matches.
func (t *RegexRouter) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	b := *r.Base()
	m := t.re.FindStringSubmatchIndex(b.Topic)
	if m == nil {
		return r, nil
	}
	b.Topic = string(t.re.ExpandString(nil, t.replacement, b.Topic, m))
	return r.WithBase(b), nil
}

// TimestampRouter renames the topic with the record's timestamp:
// topic.format with ${topic} and ${timestamp}, the timestamp written with
// timestamp.format (a SimpleDateFormat pattern, in UTC).
type TimestampRouter struct {
	topicFormat string
	tsFormat    *DateFormat
}

// TimestampRouterConfig describes TimestampRouter's settings.
func TimestampRouterConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "topic.format", Type: configdef.String, Default: "${topic}-${timestamp}", Importance: configdef.High,
			Doc: "Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively."},
		configdef.Key{Name: "timestamp.format", Type: configdef.String, Default: "yyyyMMdd", Importance: configdef.High,
			Doc: "Format string for the timestamp that is compatible with java.text.SimpleDateFormat."},
	)
}

// Config describes the settings.
func (*TimestampRouter) Config() *configdef.Def { return TimestampRouterConfig() }

// Close does nothing.
func (*TimestampRouter) Close() error { return nil }

// Configure reads the formats.
func (t *TimestampRouter) Configure(props map[string]string) error {
	v, err := TimestampRouterConfig().Parse(props)
	if err != nil {
		return err
	}
	t.topicFormat = v.String("topic.format")
	t.tsFormat, err = NewDateFormat(v.String("timestamp.format"))
	return err
}

// Apply renames the topic. A record without a timestamp fails.
func (t *TimestampRouter) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	b := *r.Base()
	if b.Timestamp.IsZero() {
		return nil, data.Errorf("Timestamp missing on record: topic %s", b.Topic)
	}
	ts := t.tsFormat.Format(b.Timestamp)
	b.Topic = strings.ReplaceAll(strings.ReplaceAll(t.topicFormat, "${topic}", b.Topic), "${timestamp}", ts)
	return r.WithBase(b), nil
}
