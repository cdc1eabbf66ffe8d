package sasl

import (
	"errors"
	"fmt"
	"strings"
)

// PlainLoginModule is the JAAS login module class of Kafka's PLAIN mechanism.
const PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"

// LoginModule is one entry of a JAAS configuration: the login module class, its control
// flag and its options.
type LoginModule struct {
	Class   string
	Flag    string // required, requisite, sufficient or optional
	Options map[string]string
}

// ParseJAAS parses the value of a sasl.jaas.config setting, Kafka's one-line JAAS syntax:
//
//	<class> <flag> [<key>=<value> ...];  [<class> <flag> ...;]
//
// Values are words or strings in double or single quotes, where a backslash escapes the
// next character (\n, \t, \r, \b, \f and octal \ooo as in Java's StreamTokenizer). Comments
// in // and /* */ are skipped. Unlike Kafka, an unquoted value may start with a digit.
func ParseJAAS(s string) ([]LoginModule, error) {
	p := &jaasParser{s: s}
	var modules []LoginModule
	for {
		tok, err := p.next()
		if err != nil {
			return nil, err
		}
		if tok.kind == tokEOF {
			break
		}
		if tok.kind != tokWord {
			return nil, fmt.Errorf("jaas: expected a login module class, got %s", tok)
		}
		m := LoginModule{Class: tok.text, Options: make(map[string]string)}
		flag, err := p.next()
		if err != nil {
			return nil, err
		}
		if flag.kind != tokWord {
			return nil, errors.New("jaas: login module control flag not specified in JAAS config")
		}
		switch strings.ToLower(flag.text) {
		case "required", "requisite", "sufficient", "optional":
			m.Flag = strings.ToLower(flag.text)
		default:
			return nil, fmt.Errorf("jaas: invalid login module control flag '%s' in JAAS config", flag.text)
		}
		for {
			key, err := p.next()
			if err != nil {
				return nil, err
			}
			if key.kind == tokSemicolon {
				break
			}
			if key.kind != tokWord && key.kind != tokQuoted {
				return nil, errors.New("jaas: JAAS config entry not terminated by semi-colon")
			}
			eq, err := p.next()
			if err != nil {
				return nil, err
			}
			val, err := p.next()
			if err != nil {
				return nil, err
			}
			if eq.kind != tokEquals || (val.kind != tokWord && val.kind != tokQuoted) {
				return nil, fmt.Errorf("jaas: value not specified for key '%s' in JAAS config", key.text)
			}
			m.Options[key.text] = val.text
		}
		modules = append(modules, m)
	}
	if len(modules) == 0 {
		return nil, errors.New("jaas: login module not specified in JAAS config")
	}
	return modules, nil
}

// PlainUsersFromJAAS reads PLAIN's user list from a listener's
// listener.name.<l>.plain.sasl.jaas.config: exactly one PlainLoginModule whose
// user_<name>="<password>" options are the users. The username and password options (the
// broker's own client login) are not users.
func PlainUsersFromJAAS(s string) (StaticUsers, error) {
	modules, err := ParseJAAS(s)
	if err != nil {
		return nil, err
	}
	if len(modules) != 1 {
		return nil, fmt.Errorf("jaas: JAAS config property contains %d login modules, should be 1 module", len(modules))
	}
	if modules[0].Class != PlainLoginModule {
		return nil, fmt.Errorf("jaas: login module %s is not %s", modules[0].Class, PlainLoginModule)
	}
	users := make(StaticUsers)
	for k, v := range modules[0].Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok && name != "" {
			users[name] = v
		}
	}
	return users, nil
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuoted
	tokEquals
	tokSemicolon
	tokOther
)

type token struct {
	kind tokKind
	text string
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokQuoted:
		return "a quoted string"
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

type jaasParser struct {
	s   string
	pos int
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || c == '-' || c >= 0x80 ||
		c >= '0' && c <= '9' || c == '.'
}

// next returns the next token, skipping blanks and comments.
func (p *jaasParser) next() (token, error) {
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c <= ' ':
			p.pos++
		case strings.HasPrefix(p.s[p.pos:], "//"):
			if i := strings.IndexAny(p.s[p.pos:], "\r\n"); i >= 0 {
				p.pos += i
			} else {
				p.pos = len(p.s)
			}
		case strings.HasPrefix(p.s[p.pos:], "/*"):
			i := strings.Index(p.s[p.pos+2:], "*/")
			if i < 0 {
				return token{}, errors.New("jaas: unterminated comment")
			}
			p.pos += 2 + i + 2
		case c == '=':
			p.pos++
			return token{kind: tokEquals, text: "="}, nil
		case c == ';':
			p.pos++
			return token{kind: tokSemicolon, text: ";"}, nil
		case c == '"' || c == '\'':
			return p.quoted(c)
		case isWordStart(c):
			start := p.pos
			for p.pos < len(p.s) && isWordStart(p.s[p.pos]) {
				p.pos++
			}
			return token{kind: tokWord, text: p.s[start:p.pos]}, nil
		default:
			p.pos++
			return token{kind: tokOther, text: string(c)}, nil
		}
	}
	return token{kind: tokEOF}, nil
}

// quoted reads a string in quote q, with StreamTokenizer's escapes.
func (p *jaasParser) quoted(q byte) (token, error) {
	p.pos++ // the opening quote
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == q:
			return token{kind: tokQuoted, text: b.String()}, nil
		case c == '\n' || c == '\r':
			return token{}, errors.New("jaas: unterminated quoted string")
		case c == '\\' && p.pos < len(p.s):
			e := p.s[p.pos]
			p.pos++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'a':
				b.WriteByte(7)
			case 'v':
				b.WriteByte(11)
			default:
				if e >= '0' && e <= '7' {
					// Up to three octal digits, at most \377, as StreamTokenizer reads them.
					v, n := int(e-'0'), 1
					for n < 3 && p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '7' && v*8+int(p.s[p.pos]-'0') <= 0377 {
						v = v*8 + int(p.s[p.pos]-'0')
						p.pos++
						n++
					}
					b.WriteByte(byte(v))
				} else {
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return token{}, errors.New("jaas: unterminated quoted string")
}
