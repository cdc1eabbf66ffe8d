// Package config holds Sluice's broker and topic settings under Apache Kafka's
// names, with Kafka's types, defaults, validation and documentation.
//
// Two tables describe every known key: BrokerDefs (server settings such as
// log.dirs or num.partitions) and TopicDefs (per-topic settings such as
// retention.ms, each with the broker settings that supply its default, as
// Kafka's ServerTopicConfigSynonyms does). The tables carry what DescribeConfigs
// reports — type, documentation, whether a key can be changed at run time, and
// which keys are synonyms — so the admin APIs answer from the same source as
// the validation.
//
// Load builds a Broker from defaults, a properties file, SLUICE_* environment
// variables and --set pairs. TopicConfig resolves one topic's effective values
// (topic override, else broker synonym, else default) together with where each
// came from.
package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Type is a setting's data type, numbered as in the DescribeConfigs protocol.
type Type = kmsg.ConfigType

// The types a setting can have. Short exists because Kafka declares the
// replication factors of its internal topics as SHORT.
const (
	Bool     = kmsg.ConfigTypeBoolean
	String   = kmsg.ConfigTypeString
	Int      = kmsg.ConfigTypeInt
	Short    = kmsg.ConfigTypeShort
	Long     = kmsg.ConfigTypeLong
	Double   = kmsg.ConfigTypeDouble
	List     = kmsg.ConfigTypeList
	Class    = kmsg.ConfigTypeClass
	Password = kmsg.ConfigTypePassword
)

// Source says where an effective value came from, numbered as in the
// DescribeConfigs protocol.
type Source = kmsg.ConfigSource

// The sources Sluice produces.
const (
	SourceTopic          = kmsg.ConfigSourceDynamicTopicConfig
	SourceDynamicBroker  = kmsg.ConfigSourceDynamicBrokerConfig
	SourceDynamicDefault = kmsg.ConfigSourceDynamicDefaultBrokerConfig
	SourceStatic         = kmsg.ConfigSourceStaticBrokerConfig
	SourceDefault        = kmsg.ConfigSourceDefaultConfig
)

// Importance ranks a setting in the documentation, as Kafka's ConfigDef does.
type Importance int8

const (
	High Importance = iota
	Medium
	Low
)

func (i Importance) String() string {
	switch i {
	case High:
		return "high"
	case Medium:
		return "medium"
	default:
		return "low"
	}
}

// Mode says whether and how a broker setting can change without a restart,
// matching the "update mode" column of Kafka's broker documentation.
type Mode int8

const (
	// ReadOnly settings need a restart; DescribeConfigs reports them read-only.
	ReadOnly Mode = iota
	// PerBroker settings can be changed for one broker at a time.
	PerBroker
	// ClusterWide settings can be changed as a cluster-wide default, and
	// also for one broker.
	ClusterWide
)

func (m Mode) String() string {
	switch m {
	case PerBroker:
		return "per-broker"
	case ClusterWide:
		return "cluster-wide"
	default:
		return "read-only"
	}
}

// Def defines one setting.
type Def struct {
	Name string
	Type Type
	// Default is the default in its textual form, as DescribeConfigs shows
	// it. It is ignored when NoDefault is set.
	Default string
	// NoDefault marks a setting whose default is null: unset unless given.
	NoDefault bool
	// Validator checks a parsed value; nil accepts any value of the type.
	Validator Validator
	Doc       string
	// Importance ranks the setting in documentation.
	Importance Importance
	// Mode says whether the setting can change at run time (broker settings
	// only; topic settings are always dynamic).
	Mode Mode
	// Synonyms, for a topic setting, are the broker settings that supply its
	// default, most preferred first, with the factor that converts each
	// one's unit to the topic setting's (log.retention.hours -> retention.ms
	// is 3600000). For a broker setting they are the other broker settings
	// that express the same thing (log.retention.ms, .minutes, .hours).
	Synonyms []Synonym
	// Internal settings are accepted but left out of documentation and of
	// DescribeConfigs listings that do not name them.
	Internal bool
}

// Synonym names a setting that stands in for another.
type Synonym struct {
	Name string
	// Scale converts the synonym's value to the unit of the setting it
	// stands in for; 0 means 1 (same unit).
	Scale int64
}

// Sensitive reports whether the value must not be shown (DescribeConfigs
// returns null for it).
func (d *Def) Sensitive() bool { return d.Type == Password }

// parse turns the textual value of d into its Go value: bool, int16, int32,
// int64, float64, string or []string. Like Kafka it trims surrounding
// whitespace first, and splits lists at commas with optional whitespace.
func (d *Def) parse(raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch d.Type {
	case Bool:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, d.invalid(raw, "expected value to be either true or false")
	case Short:
		n, err := strconv.ParseInt(s, 10, 16)
		if err != nil {
			return nil, d.invalid(raw, "not a number of type SHORT")
		}
		return int16(n), nil
	case Int:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, d.invalid(raw, "not a number of type INT")
		}
		return int32(n), nil
	case Long:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, d.invalid(raw, "not a number of type LONG")
		}
		return n, nil
	case Double:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, d.invalid(raw, "not a number of type DOUBLE")
		}
		return f, nil
	case List:
		return splitList(s), nil
	default: // String, Class, Password
		return s, nil
	}
}

// splitList splits a trimmed list value at commas, trimming each element.
// An empty value is an empty list. Empty elements are kept so that
// validators can reject them with a clear message.
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// check parses and validates raw.
func (d *Def) check(raw string) (any, error) {
	v, err := d.parse(raw)
	if err != nil {
		return nil, err
	}
	if d.Validator != nil {
		if reason := d.Validator.Validate(v); reason != "" {
			return nil, d.invalid(raw, reason)
		}
	}
	return v, nil
}

func (d *Def) invalid(raw, reason string) *Error {
	if d.Sensitive() {
		raw = "[hidden]"
	}
	return &Error{Name: d.Name, Value: raw, Reason: reason}
}

// defaultValue returns the parsed default, or nil for a null default. The
// tables' defaults are checked by tests, so an error here is a programming
// error that is reported rather than hidden.
func (d *Def) defaultValue() (any, error) {
	if d.NoDefault {
		return nil, nil
	}
	v, err := d.parse(d.Default)
	if err != nil {
		return nil, fmt.Errorf("default of %s: %w", d.Name, err)
	}
	return v, nil
}

// Error is a setting that is unknown or whose value is invalid. It unwraps
// to kerr.InvalidConfig, so the admin APIs answer INVALID_CONFIG with
// Error() as the message.
type Error struct {
	Name  string
	Value string
	// Reason says why the value is invalid.
	Reason string
	// Unknown is set when the name itself is not a known setting; Reason
	// then holds the whole message.
	Unknown bool
}

// Unwrap lets errors.Is(err, kerr.InvalidConfig) find the Kafka error code.
func (e *Error) Unwrap() error { return kerr.InvalidConfig }

func (e *Error) Error() string {
	if e.Unknown {
		return e.Reason
	}
	return fmt.Sprintf("Invalid value %s for configuration %s: %s", e.Value, e.Name, e.Reason)
}

// formatValue renders a parsed value the way DescribeConfigs shows it.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []string:
		return strings.Join(x, ",")
	case string:
		return x
	default:
		return fmt.Sprint(x)
	}
}
