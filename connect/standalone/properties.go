package standalone

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ReadProperties reads a Java .properties file: key=value, key: value or
// key value lines; # and ! comments; a backslash at the end of a line
// continues it; \t, \n, \r, \f, \uXXXX and \ before any other character
// are escapes.
func ReadProperties(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseProperties(raw)
}

// ParseProperties parses the text of a .properties file.
func ParseProperties(raw []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var logical strings.Builder
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if logical.Len() == 0 && (line == "" || line[0] == '#' || line[0] == '!') {
			continue
		}
		// An odd number of trailing backslashes continues the line.
		n := len(line) - len(strings.TrimRight(line, `\`))
		if n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		k, v, err := splitProperty(logical.String())
		logical.Reset()
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if logical.Len() > 0 {
		k, v, err := splitProperty(logical.String())
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func splitProperty(s string) (string, string, error) {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
	}
	key := s[:min(i, len(s))]
	rest := ""
	if i < len(s) {
		rest = strings.TrimLeft(s[i:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
	}
	k, err := unescape(key)
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rest)
	return k, v, err
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", fmt.Errorf("malformed \\uxxxx escape in %q", s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx escape in %q", s)
			}
			var buf [4]byte
			n := utf8.EncodeRune(buf[:], rune(r))
			b.Write(buf[:n])
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}

// ReadConnectorConfig reads a connector config: a .properties file, or
// JSON in the shape of the REST API's create request ({"name": ...,
// "config": {...}}) or of a bare config object. JSON values that are not
// strings are written as text.
func ReadConnectorConfig(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(raw)
	if !strings.HasSuffix(strings.ToLower(path), ".json") && (len(trimmed) == 0 || trimmed[0] != '{') {
		return ParseProperties(raw)
	}
	var doc map[string]any
	if err := json.Unmarshal(trimmed, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", path, err)
	}
	out := map[string]string{}
	if cfg, ok := doc["config"].(map[string]any); ok {
		for k, v := range cfg {
			out[k] = jsonText(v)
		}
		if name, ok := doc["name"].(string); ok {
			if n, set := out["name"]; set && n != name {
				return nil, fmt.Errorf("%s: name %q differs from config name %q", path, name, n)
			}
			out["name"] = name
		}
		return out, nil
	}
	for k, v := range doc {
		out[k] = jsonText(v)
	}
	return out, nil
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
