package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DateFormat formats and parses instants with a java.text.SimpleDateFormat
// pattern, in UTC, as TimestampConverter and TimestampRouter do. It knows
// the letters G y Y M L d D E u a H k K h m s S z Z X and quoted literals
// ('T', ” for a quote).
type DateFormat struct {
	pattern string
	tokens  []dfToken
}

type dfToken struct {
	letter byte // 0 for a literal
	count  int
	lit    string
}

const dfLetters = "GyYMLdDEuaHkKhmsSzZX"

// NewDateFormat compiles a pattern.
func NewDateFormat(pattern string) (*DateFormat, error) {
	f := &DateFormat{pattern: pattern}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				f.tokens = append(f.tokens, dfToken{lit: "'"})
				i += 2
				continue
			}
			var lit strings.Builder
			j := i + 1
			for ; j < len(pattern); j++ {
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					break
				}
				lit.WriteByte(pattern[j])
			}
			if j >= len(pattern) {
				return nil, fmt.Errorf("date format %q: unterminated quote", pattern)
			}
			f.tokens = append(f.tokens, dfToken{lit: lit.String()})
			i = j + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune(dfLetters, rune(c)) {
				return nil, fmt.Errorf("date format %q: illegal pattern character '%c'", pattern, c)
			}
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			f.tokens = append(f.tokens, dfToken{letter: c, count: j - i})
			i = j
		default:
			f.tokens = append(f.tokens, dfToken{lit: string(c)})
			i++
		}
	}
	return f, nil
}

// Pattern returns the pattern.
func (f *DateFormat) Pattern() string { return f.pattern }

func pad(n, width int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + pad(-n, width)
	}
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// Format writes t (in UTC).
func (f *DateFormat) Format(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	for _, tk := range f.tokens {
		if tk.letter == 0 {
			b.WriteString(tk.lit)
			continue
		}
		n := tk.count
		switch tk.letter {
		case 'G':
			if t.Year() > 0 {
				b.WriteString("AD")
			} else {
				b.WriteString("BC")
			}
		case 'y', 'Y':
			if n == 2 {
				b.WriteString(pad(t.Year()%100, 2))
			} else {
				b.WriteString(pad(t.Year(), n))
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(pad(int(t.Month()), n))
			}
		case 'd':
			b.WriteString(pad(t.Day(), n))
		case 'D':
			b.WriteString(pad(t.YearDay(), n))
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(pad(wd, n))
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'H':
			b.WriteString(pad(t.Hour(), n))
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, n))
		case 'K':
			b.WriteString(pad(t.Hour()%12, n))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, n))
		case 'm':
			b.WriteString(pad(t.Minute(), n))
		case 's':
			b.WriteString(pad(t.Second(), n))
		case 'S':
			b.WriteString(pad(t.Nanosecond()/int(time.Millisecond), n))
		case 'z':
			if n >= 4 {
				b.WriteString("Coordinated Universal Time")
			} else {
				b.WriteString("UTC")
			}
		case 'Z':
			b.WriteString("+0000")
		case 'X':
			b.WriteString("Z")
		}
	}
	return b.String()
}

// Parse reads text written in the pattern. Fields not in the pattern take
// their epoch values (1970-01-01T00:00:00.000 UTC).
func (f *DateFormat) Parse(s string) (time.Time, error) {
	year, month, day, hour, min, sec, ms := 1970, 1, 1, 0, 0, 0, 0
	pm, hasAmPm, h12 := false, false, -1
	offset := 0
	yday := 0
	pos := 0
	fail := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("unparseable date: %q does not match pattern %q", s, f.pattern)
	}
	for i, tk := range f.tokens {
		if tk.letter == 0 {
			if !strings.HasPrefix(s[pos:], tk.lit) {
				return fail()
			}
			pos += len(tk.lit)
			continue
		}
		// A numeric field followed directly by another numeric field takes
		// exactly its width (yyyyMMdd); otherwise as many digits as there are.
		fixed := i+1 < len(f.tokens) && f.tokens[i+1].letter != 0 && isNumericLetter(f.tokens[i+1].letter, f.tokens[i+1].count)
		num := func() (int, bool) {
			start := pos
			if pos < len(s) && (s[pos] == '-' || s[pos] == '+') && (tk.letter == 'y' || tk.letter == 'Y') {
				pos++
			}
			end := pos
			for end < len(s) && s[end] >= '0' && s[end] <= '9' && (!fixed || end-pos < tk.count) {
				end++
			}
			if end == pos {
				pos = start
				return 0, false
			}
			n, err := strconv.Atoi(s[start:end])
			pos = end
			return n, err == nil
		}
		word := func(options []string) (int, bool) {
			for idx, o := range options {
				if len(s)-pos >= len(o) && strings.EqualFold(s[pos:pos+len(o)], o) {
					pos += len(o)
					return idx, true
				}
			}
			return 0, false
		}
		var ok bool
		switch tk.letter {
		case 'G':
			_, ok = word([]string{"AD", "BC"})
		case 'y', 'Y':
			start := pos
			year, ok = num()
			if ok && tk.count <= 2 && pos-start == 2 {
				year += 2000
				if year > time.Now().Year()+20 {
					year -= 100
				}
			}
		case 'M', 'L':
			if tk.count >= 3 {
				var m int
				if m, ok = word(monthNames(tk.count >= 4)); !ok {
					m, ok = word(monthNames(tk.count < 4))
				}
				month = m + 1
			} else {
				month, ok = num()
			}
		case 'd':
			day, ok = num()
		case 'D':
			yday, ok = num()
		case 'E':
			if _, ok = word(dayNames(true)); !ok {
				_, ok = word(dayNames(false))
			}
		case 'u':
			_, ok = num()
		case 'a':
			var idx int
			idx, ok = word([]string{"AM", "PM"})
			pm, hasAmPm = idx == 1, true
		case 'H':
			hour, ok = num()
		case 'k':
			hour, ok = num()
			if hour == 24 {
				hour = 0
			}
		case 'K', 'h':
			h12, ok = num()
		case 'm':
			min, ok = num()
		case 's':
			sec, ok = num()
		case 'S':
			ms, ok = num()
		case 'z', 'Z', 'X':
			offset, ok = parseZone(s, &pos)
		}
		if !ok {
			return fail()
		}
	}
	if pos != len(s) {
		return fail()
	}
	if h12 >= 0 {
		hour = h12 % 12
		if hasAmPm && pm {
			hour += 12
		}
	} else if hasAmPm && pm && hour < 12 {
		hour += 12
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	if yday > 0 {
		t = time.Date(year, 1, yday, hour, min, sec, 0, time.UTC)
	}
	t = t.Add(time.Duration(ms) * time.Millisecond).Add(-time.Duration(offset) * time.Second)
	return t, nil
}

func isNumericLetter(c byte, count int) bool {
	switch c {
	case 'M', 'L':
		return count < 3
	case 'y', 'Y', 'd', 'D', 'u', 'H', 'k', 'K', 'h', 'm', 's', 'S':
		return true
	}
	return false
}

func monthNames(long bool) []string {
	out := make([]string, 12)
	for i := range out {
		n := time.Month(i + 1).String()
		if !long {
			n = n[:3]
		}
		out[i] = n
	}
	return out
}

func dayNames(long bool) []string {
	out := make([]string, 7)
	for i := range out {
		n := time.Weekday(i).String()
		if !long {
			n = n[:3]
		}
		out[i] = n
	}
	return out
}

// parseZone reads Z, UTC, GMT, or an offset +hh, +hhmm, +hh:mm; it
// returns the offset in seconds east of UTC.
func parseZone(s string, pos *int) (int, bool) {
	rest := s[*pos:]
	for _, name := range []string{"UTC", "GMT", "Z"} {
		if strings.HasPrefix(rest, name) {
			*pos += len(name)
			rest = s[*pos:]
			if name != "Z" && (strings.HasPrefix(rest, "+") || strings.HasPrefix(rest, "-")) {
				break
			}
			return 0, true
		}
	}
	if rest == "" || (rest[0] != '+' && rest[0] != '-') {
		return 0, false
	}
	sign := 1
	if rest[0] == '-' {
		sign = -1
	}
	digits := ""
	i := 1
	for ; i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == ':'); i++ {
		if rest[i] != ':' {
			digits += string(rest[i])
		}
	}
	var h, m int
	switch len(digits) {
	case 2:
		h, _ = strconv.Atoi(digits)
	case 4:
		h, _ = strconv.Atoi(digits[:2])
		m, _ = strconv.Atoi(digits[2:])
	default:
		return 0, false
	}
	*pos += i
	return sign * (h*3600 + m*60), true
}
