package config

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Validator checks a parsed value. Validate returns "" when the value is
// acceptable and otherwise the reason it is not; String describes the valid
// values for documentation, as the "Valid Values" line of Kafka's docs.
type Validator interface {
	Validate(v any) string
	String() string
}

// asFloat widens a numeric value for range checks.
func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// asInt64 widens an integer value.
func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// rangeValidator accepts numbers in [min, max]; a bound of ±Inf is open.
type rangeValidator struct{ min, max float64 }

func atLeast(min float64) Validator      { return rangeValidator{min, math.Inf(1)} }
func between(min, max float64) Validator { return rangeValidator{min, max} }

func fmtBound(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e18 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
func (r rangeValidator) String() string {
	switch {
	case math.IsInf(r.max, 1):
		return "[" + fmtBound(r.min) + ",...]"
	default:
		return "[" + fmtBound(r.min) + ",...," + fmtBound(r.max) + "]"
	}
}

func (r rangeValidator) Validate(v any) string {
	f, ok := asFloat(v)
	if !ok {
		return "not a number"
	}
	if math.IsNaN(f) {
		return "value must be a number"
	}
	if f < r.min {
		return "Value must be at least " + fmtBound(r.min)
	}
	if f > r.max {
		return "Value must be no more than " + fmtBound(r.max)
	}
	return ""
}

// oneOf accepts one of a fixed set of strings, compared exactly as Kafka's
// ValidString does.
type oneOf []string

func (o oneOf) String() string { return "[" + strings.Join(o, ", ") + "]" }
func (o oneOf) Validate(v any) string {
	s, _ := v.(string)
	if slices.Contains(o, s) {
		return ""
	}
	return "String must be one of: " + strings.Join(o, ", ")
}

// listOf accepts a list whose elements are all in a fixed set, without
// duplicates or empty elements. allowEmpty says whether the empty list is
// valid.
type listOf struct {
	values     []string
	allowEmpty bool
}

func (l listOf) String() string { return "[" + strings.Join(l.values, ", ") + "]" }
func (l listOf) Validate(v any) string {
	list, _ := v.([]string)
	if len(list) == 0 && !l.allowEmpty {
		return "Empty list is not allowed"
	}
	if reason := plainList(list); reason != "" {
		return reason
	}
	for _, e := range list {
		if !slices.Contains(l.values, e) {
			return fmt.Sprintf("Invalid value %s; valid values are: %s", e, strings.Join(l.values, ", "))
		}
	}
	return ""
}

// plainList rejects empty and duplicate elements.
func plainList(list []string) string {
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		if e == "" {
			return "List contains an empty element"
		}
		if seen[e] {
			return "List contains duplicate value " + e
		}
		seen[e] = true
	}
	return ""
}

// funcValidator adapts a function and its documentation.
type funcValidator struct {
	doc string
	fn  func(v any) string
}

func (f funcValidator) String() string        { return f.doc }
func (f funcValidator) Validate(v any) string { return f.fn(v) }

// orMinusOne accepts -1 (Kafka's "use the codec's default") or a range.
func orMinusOne(min, max int64) Validator {
	return funcValidator{
		doc: fmt.Sprintf("[%d,...,%d] or -1", min, max),
		fn: func(v any) string {
			n, _ := asInt64(v)
			if n == -1 || (n >= min && n <= max) {
				return ""
			}
			return fmt.Sprintf("Value must be -1 or between %d and %d", min, max)
		},
	}
}

// listenerList validates listeners and advertised.listeners.
var listenerList = funcValidator{
	doc: "comma-separated NAME://host:port",
	fn: func(v any) string {
		list, _ := v.([]string)
		if reason := plainList(list); reason != "" {
			return reason
		}
		if _, err := ParseListeners(strings.Join(list, ",")); err != nil {
			return err.Error()
		}
		return ""
	},
}

// connectionOverrides validates max.connections.per.ip.overrides.
var connectionOverrides = funcValidator{
	doc: "comma-separated host:count",
	fn: func(v any) string {
		s, _ := v.(string)
		if _, err := ParseConnectionOverrides(s); err != nil {
			return err.Error()
		}
		return ""
	},
}

// ParseConnectionOverrides parses max.connections.per.ip.overrides: comma-separated
// host:count pairs, a host being an IP address or a name ("hostName:100,127.0.0.1:200").
func ParseConnectionOverrides(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		i := strings.LastIndexByte(e, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%q is not host:count", e)
		}
		n, err := strconv.Atoi(strings.TrimSpace(e[i+1:]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: the count must be a whole number >= 0", e)
		}
		out[strings.TrimSpace(e[:i])] = n
	}
	return out, nil
}

// protocolMap validates listener.security.protocol.map.
var protocolMap = funcValidator{
	doc: "comma-separated NAME:PROTOCOL",
	fn: func(v any) string {
		s, _ := v.(string)
		if _, err := parseProtocolMap(s); err != nil {
			return err.Error()
		}
		return ""
	},
}

// voterList validates controller.quorum.voters.
var voterList = funcValidator{
	doc: "comma-separated id@host:port",
	fn: func(v any) string {
		list, _ := v.([]string)
		if _, err := parseVoters(list); err != nil {
			return err.Error()
		}
		return ""
	},
}

// hostPortList validates lists of host:port.
var hostPortList = funcValidator{
	doc: "comma-separated host:port",
	fn: func(v any) string {
		list, _ := v.([]string)
		if reason := plainList(list); reason != "" {
			return reason
		}
		for _, e := range list {
			if _, _, err := splitHostPort(e); err != nil {
				return err.Error()
			}
		}
		return ""
	},
}

// nonEmptyList rejects empty and duplicate elements but accepts anything
// else, for free-form lists such as log.dirs.
var nonEmptyList = funcValidator{
	doc: "comma-separated, no empty or duplicate elements",
	fn: func(v any) string {
		list, _ := v.([]string)
		return plainList(list)
	},
}

// nonEmptyString rejects "".
var nonEmptyString = funcValidator{
	doc: "non-empty string",
	fn: func(v any) string {
		if s, _ := v.(string); s == "" {
			return "Value must not be empty"
		}
		return ""
	},
}

// clusterIDValidator accepts Kafka's cluster id form: a UUID in unpadded
// URL-safe base64 (22 characters), or nothing.
var clusterIDValidator = funcValidator{
	doc: "22-character base64url UUID, or empty to generate one",
	fn: func(v any) string {
		s, _ := v.(string)
		if s == "" {
			return ""
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 16 {
			return "Value must be a UUID in 22-character URL-safe base64, as kafka-storage random-uuid prints"
		}
		return ""
	},
}

// httpAddrValidator accepts "" (off) or host:port.
var httpAddrValidator = funcValidator{
	doc: "host:port, or empty to disable",
	fn: func(v any) string {
		s, _ := v.(string)
		if s == "" {
			return ""
		}
		if _, _, err := splitHostPort(s); err != nil {
			return err.Error()
		}
		return ""
	},
}

// throttledReplicas validates the replication throttle lists: empty, "*",
// or partition:broker pairs.
var throttledReplicas = funcValidator{
	doc: "[partitionId]:[brokerId],[partitionId]:[brokerId],... or *",
	fn: func(v any) string {
		list, _ := v.([]string)
		if len(list) == 1 && list[0] == "*" {
			return ""
		}
		for _, e := range list {
			p, b, ok := strings.Cut(e, ":")
			if !ok || !isDigits(strings.TrimSpace(p)) || !isDigits(strings.TrimSpace(b)) {
				return "Value must be a list of [partitionId]:[brokerId] pairs or the single wildcard *"
			}
		}
		return ""
	},
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// splitHostPort parses host:port, with IPv6 hosts in brackets, and checks
// the port range.
func splitHostPort(s string) (string, int, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("port %q in %q is not a number between 0 and 65535", port, s)
	}
	return host, p, nil
}
