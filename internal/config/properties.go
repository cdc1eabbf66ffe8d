package config

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Property is one key=value pair of a properties file.
type Property struct {
	Key, Value string
	// Line is the 1-based line on which the pair starts.
	Line int
}

// ReadProperties reads Java .properties text, as Kafka's server.properties
// is written. See ParseProperties for the syntax.
func ReadProperties(r io.Reader) ([]Property, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return ParseProperties(string(b))
}

// ParseProperties parses Java .properties text, following
// java.util.Properties.load:
//
//   - Lines end with \n, \r or \r\n. Leading spaces, tabs and form feeds are
//     ignored. Blank lines and lines whose first other character is '#' or
//     '!' are comments.
//   - A line ending in an odd number of backslashes continues on the next
//     line, whose leading whitespace is dropped. Comment lines do not
//     continue.
//   - The key runs to the first unescaped '=', ':' or whitespace; whitespace
//     and at most one '=' or ':' separate it from the value, which is the
//     rest of the line (trailing whitespace included).
//   - In keys and values, \t \n \r \f are control characters, \uXXXX is a
//     UTF-16 code unit (surrogate pairs combine), and a backslash before any
//     other character stands for that character.
//
// One difference from Java: the text is UTF-8, not ISO-8859-1. Pairs are
// returned in file order; when a key repeats, the caller keeps the last.
func ParseProperties(text string) ([]Property, error) {
	lines := splitLines(text)
	var out []Property
	for i := 0; i < len(lines); {
		start := i + 1
		logical := trimLeftSpace(lines[i])
		i++
		if logical == "" || logical[0] == '#' || logical[0] == '!' {
			continue
		}
		// Each continuation drops one backslash, so what remains ends in
		// an even run and only the appended line can make the run odd again.
		for oddTrailingBackslashes(logical) {
			logical = logical[:len(logical)-1]
			if i >= len(lines) {
				break
			}
			logical += trimLeftSpace(lines[i])
			i++
		}
		rawKey, rawValue := splitKeyValue(logical)
		key, err := unescapeProperty(rawKey)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		value, err := unescapeProperty(rawValue)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		out = append(out, Property{Key: key, Value: value, Line: start})
	}
	return out, nil
}

// splitLines splits at \n, \r and \r\n, without the terminators.
func splitLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return lines
}

func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeftSpace(s string) string {
	i := 0
	for i < len(s) && isPropSpace(s[i]) {
		i++
	}
	return s[i:]
}

func oddTrailingBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line into its raw (still escaped) key and
// value.
func splitKeyValue(l string) (key, value string) {
	keyLen, valueStart := 0, len(l)
	hasSep, escaped := false, false
	for keyLen < len(l) {
		c := l[keyLen]
		if !escaped && (c == '=' || c == ':') {
			valueStart, hasSep = keyLen+1, true
			break
		}
		if !escaped && isPropSpace(c) {
			valueStart = keyLen + 1
			break
		}
		escaped = c == '\\' && !escaped
		keyLen++
	}
	for valueStart < len(l) {
		c := l[valueStart]
		if !isPropSpace(c) {
			if hasSep || (c != '=' && c != ':') {
				break
			}
			hasSep = true
		}
		valueStart++
	}
	return l[:keyLen], l[valueStart:]
}

// unescapeProperty resolves the backslash escapes of a key or value.
func unescapeProperty(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		i++
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i >= len(s) { // a lone backslash at the very end is dropped, as Java does
			break
		}
		c = s[i]
		i++
		switch c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, ok := hex4(s, i)
			if !ok {
				return "", fmt.Errorf(`malformed \uxxxx encoding in %q`, s)
			}
			i += 4
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by an escaped low one is one rune.
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2, ok := hex4(s, i+2); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							b.WriteRune(dec)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// hex4 decodes four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return 0, false
		}
	}
	return r, true
}
