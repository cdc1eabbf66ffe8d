package config

import (
	"slices"
	"strings"
	"testing"
)

func TestParseProperties(t *testing.T) {
	type kv = [2]string
	tests := []struct {
		name string
		in   string
		want []kv
	}{
		{"equals", "a=b", []kv{{"a", "b"}}},
		{"spaces around equals", "a = b", []kv{{"a", "b"}}},
		{"colon", "a:b", []kv{{"a", "b"}}},
		{"colon with spaces", "a : b", []kv{{"a", "b"}}},
		{"whitespace separator", "a b", []kv{{"a", "b"}}},
		{"tab separator", "a\tb", []kv{{"a", "b"}}},
		{"form feed is whitespace", "\fa\f=\fb", []kv{{"a", "b"}}},
		{"leading whitespace", "   a=b", []kv{{"a", "b"}}},
		{"trailing whitespace kept", "a=b  ", []kv{{"a", "b  "}}},
		{"empty value", "a=", []kv{{"a", ""}}},
		{"key only", "a", []kv{{"a", ""}}},
		{"only one separator is eaten", "a==b", []kv{{"a", "=b"}}},
		{"space then separator", "a  =  =b", []kv{{"a", "=b"}}},
		{"separator in value", "a=b=c:d", []kv{{"a", "b=c:d"}}},
		{"escaped separator in key", `a\=b=c`, []kv{{"a=b", "c"}}},
		{"escaped colon in key", `a\:b:c`, []kv{{"a:b", "c"}}},
		{"escaped space in key", `a\ b=c`, []kv{{"a b", "c"}}},
		{"hash comment", "# x=y\na=b", []kv{{"a", "b"}}},
		{"bang comment", "! x=y\na=b", []kv{{"a", "b"}}},
		{"indented comment", "   # x=y\na=b", []kv{{"a", "b"}}},
		{"hash inside value", "a=b # not a comment", []kv{{"a", "b # not a comment"}}},
		{"blank lines", "\n\n  \t\na=b\n\n", []kv{{"a", "b"}}},
		{"continuation", "a=b\\\n   c", []kv{{"a", "bc"}}},
		{"continuation keeps inner spaces", "a=b \\\n  c", []kv{{"a", "b c"}}},
		{"continuation in key", "ke\\\n  y=v", []kv{{"key", "v"}}},
		{"double continuation", "a=1,\\\n 2,\\\n 3", []kv{{"a", "1,2,3"}}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", []kv{{"a", `b\`}, {"c", "d"}}},
		{"three backslashes continue", "a=b\\\\\\\nc", []kv{{"a", `b\c`}}},
		{"comment does not continue", "# x\\\na=b", []kv{{"a", "b"}}},
		{"continued line may start with hash", "a=b\\\n#c", []kv{{"a", "b#c"}}},
		{"blank continuation ends the line", "a=b\\\n   \nc=d", []kv{{"a", "b"}, {"c", "d"}}},
		{"continuation at end of input", "a=b\\", []kv{{"a", "b"}}},
		{"CRLF", "a=b\r\nc=d\r\n", []kv{{"a", "b"}, {"c", "d"}}},
		{"CR", "a=b\rc=d", []kv{{"a", "b"}, {"c", "d"}}},
		{"CRLF continuation", "a=b\\\r\n  c", []kv{{"a", "bc"}}},
		{"control escapes", `a=\t\n\r\f`, []kv{{"a", "\t\n\r\f"}}},
		{"unicode escape", `a=\u0041\u00e9`, []kv{{"a", "Aé"}}},
		{"surrogate pair", `a=\uD83D\uDE00`, []kv{{"a", "😀"}}},
		{"lone surrogate", `a=\uD83Dx`, []kv{{"a", "\uFFFDx"}}},
		{"other escape is the character", `a=\q\\\#`, []kv{{"a", `q\#`}}},
		{"utf-8 text", "clé=välue", []kv{{"clé", "välue"}}},
		{"duplicates kept in order", "a=1\na=2", []kv{{"a", "1"}, {"a", "2"}}},
		{"empty input", "", nil},
		{"listeners", "listeners=PLAINTEXT://:9092,CONTROLLER://:9093", []kv{{"listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props, err := ParseProperties(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			for _, p := range props {
				got = append(got, kv{p.Key, p.Value})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseProperties(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePropertiesLineNumbers(t *testing.T) {
	props, err := ParseProperties("# c\na=1\\\n  2\n\nb=3\r\nc=4")
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, p := range props {
		lines = append(lines, p.Line)
	}
	if want := []int{2, 5, 6}; !slices.Equal(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
}

func TestParsePropertiesMalformedUnicode(t *testing.T) {
	for _, in := range []string{`a=\u00G1`, `a=\u12`, "x=1\n\\u=2"} {
		_, err := ParseProperties(in)
		if err == nil || !strings.Contains(err.Error(), `\uxxxx`) || !strings.Contains(err.Error(), "line") {
			t.Errorf("ParseProperties(%q): err %v, want a malformed \\uxxxx error naming the line", in, err)
		}
	}
}

// writeProperties renders pairs so that ParseProperties reads them back
// unchanged; the fuzz target uses it to check the parser against itself.
func writeProperties(props []Property) string {
	var b strings.Builder
	for _, p := range props {
		for i := 0; i < len(p.Key); i++ {
			c := p.Key[i]
			switch c {
			case '\\', '=', ':', ' ', '#', '!':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				writeEscapedControl(&b, c)
			}
		}
		b.WriteByte('=')
		for i := 0; i < len(p.Value); i++ {
			c := p.Value[i]
			switch {
			case c == '\\':
				b.WriteString(`\\`)
			case i == 0 && (c == ' ' || c == '=' || c == ':'):
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				writeEscapedControl(&b, c)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func writeEscapedControl(b *strings.Builder, c byte) {
	switch c {
	case '\t':
		b.WriteString(`\t`)
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\f':
		b.WriteString(`\f`)
	default:
		b.WriteByte(c)
	}
}

// FuzzParseProperties checks that no input panics, and that whatever the
// parser returns survives being written out and parsed again.
func FuzzParseProperties(f *testing.F) {
	for _, s := range []string{
		"a=b", "a b", "# c\na:b", "a=b\\\n  c", `a\ b=\u0041\uD83D\uDE00`, "a=b\\\\\nc=d\r\ne=f\rg",
		`\u`, "\\", "=", ":x", "  \f\t", "a=\\\n", "k=v\\\n\\\n\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		props, err := ParseProperties(in)
		if err != nil {
			return
		}
		text := writeProperties(props)
		again, err := ParseProperties(text)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", text, err)
		}
		if len(again) != len(props) {
			t.Fatalf("re-parse of %q gave %d pairs, want %d", text, len(again), len(props))
		}
		for i := range props {
			if again[i].Key != props[i].Key || again[i].Value != props[i].Value {
				t.Fatalf("pair %d: %q=%q came back as %q=%q (via %q)", i, props[i].Key, props[i].Value, again[i].Key, again[i].Value, text)
			}
		}
	})
}
