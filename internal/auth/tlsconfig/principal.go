package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Anonymous is the principal of a client without a certificate.
const Anonymous = "User:ANONYMOUS"

// rfc2253Keywords are the attribute types Java's RFC 2253 form names by keyword.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// rawATV is an AttributeTypeAndValue with its value undecoded, so that its tag and DER bytes
// are at hand.
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rawRDNSET is a RelativeDistinguishedName: encoding/asn1 reads a type whose name ends in
// SET as a SET OF.
type rawRDNSET []rawATV

// DistinguishedName writes a DER-encoded Name (a certificate's RawSubject) as Java's
// X500Principal.getName() does, RFC 2253 form: RDNs most specific first, joined by ",",
// the attributes of a multi-valued RDN joined by "+".
func DistinguishedName(rawName []byte) (string, error) {
	var rdns []rawRDNSET
	rest, err := asn1.Unmarshal(rawName, &rdns)
	if err != nil {
		return "", fmt.Errorf("parse distinguished name: %w", err)
	}
	if len(rest) != 0 {
		return "", errors.New("parse distinguished name: trailing data")
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeATV(&b, atv)
		}
	}
	return b.String(), nil
}

// isDerString says whether a value's tag is one Java prints as a string in RFC 2253 form.
func isDerString(v asn1.RawValue) bool {
	if v.Class != asn1.ClassUniversal {
		return false
	}
	switch v.Tag {
	case asn1.TagPrintableString, asn1.TagT61String, asn1.TagIA5String, asn1.TagGeneralString, asn1.TagBMPString, asn1.TagUTF8String:
		return true
	}
	return false
}

func writeATV(b *strings.Builder, atv rawATV) {
	oid := atv.Type.String()
	keyword, ok := rfc2253Keywords[oid]
	if !ok {
		keyword = oid
	}
	b.WriteString(keyword)
	b.WriteByte('=')
	if !ok || !isDerString(atv.Value) {
		b.WriteByte('#')
		b.WriteString(hex.EncodeToString(atv.Value.FullBytes))
		return
	}
	// Java reads the content bytes as UTF-8 whatever the string type.
	val := strings.ToValidUTF8(string(atv.Value.Bytes), "\uFFFD")
	var esc strings.Builder
	for _, c := range val {
		switch {
		case strings.ContainsRune(",=+<>#;\"\\", c):
			esc.WriteByte('\\')
			esc.WriteRune(c)
		case c == 0:
			esc.WriteString(`\00`)
		default:
			esc.WriteRune(c)
		}
	}
	// Leading and trailing spaces (and carriage returns) are escaped too.
	s := esc.String()
	lead := 0
	for lead < len(s) && (s[lead] == ' ' || s[lead] == '\r') {
		lead++
	}
	trail := len(s)
	for trail > lead && (s[trail-1] == ' ' || s[trail-1] == '\r') {
		trail--
	}
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		if i < lead || i >= trail {
			b.WriteByte('\\')
		}
		b.WriteString(s[i : i+n])
		i += n
	}
}

// rule is one entry of ssl.principal.mapping.rules.
type rule struct {
	isDefault bool
	pattern   *regexp.Regexp
	template  string // in Go's Expand syntax
	toLower   bool
	toUpper   bool
}

// PrincipalBuilder maps client certificates to principals.
type PrincipalBuilder struct {
	rules []rule
}

// NewPrincipalBuilder parses ssl.principal.mapping.rules: a comma- or newline-separated list
// of DEFAULT and RULE:pattern/replacement/[L|U] (a "/" inside the pattern or the replacement
// is written "\/"). Empty means DEFAULT.
func NewPrincipalBuilder(rules string) (*PrincipalBuilder, error) {
	pb := &PrincipalBuilder{}
	s := strings.TrimSpace(rules)
	if s == "" {
		s = "DEFAULT"
	}
	for {
		s = strings.TrimLeft(s, " \t\r\n,")
		if s == "" {
			break
		}
		switch {
		case strings.HasPrefix(s, "DEFAULT"):
			pb.rules = append(pb.rules, rule{isDefault: true})
			s = s[len("DEFAULT"):]
		case strings.HasPrefix(s, "RULE:"):
			r, rest, err := parseRule(s[len("RULE:"):])
			if err != nil {
				return nil, err
			}
			pb.rules = append(pb.rules, r)
			s = rest
		default:
			return nil, fmt.Errorf("tls: invalid %s: unexpected %q", KeyPrincipalMappingRules, s)
		}
		s = strings.TrimLeft(s, " \t\r")
		if s != "" && s[0] != ',' && s[0] != '\n' {
			return nil, fmt.Errorf("tls: invalid %s: unexpected %q", KeyPrincipalMappingRules, s)
		}
	}
	return pb, nil
}

// parseRule reads "pattern/replacement/[LU]" and returns the rest of the input.
func parseRule(s string) (rule, string, error) {
	field := func(s string) (string, string, bool) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '\\' && i+1 < len(s) && s[i+1] == '/':
				b.WriteByte('/')
				i++
			case s[i] == '\\' && i+1 < len(s):
				b.WriteString(s[i : i+2])
				i++
			case s[i] == '/':
				return b.String(), s[i+1:], true
			default:
				b.WriteByte(s[i])
			}
		}
		return "", "", false
	}
	pat, rest, ok := field(s)
	if !ok {
		return rule{}, "", fmt.Errorf("tls: invalid rule in %s: RULE:%s", KeyPrincipalMappingRules, s)
	}
	repl, rest, ok := field(rest)
	if !ok {
		return rule{}, "", fmt.Errorf("tls: invalid rule in %s: RULE:%s", KeyPrincipalMappingRules, s)
	}
	re, err := regexp.Compile("^(?:" + pat + ")$")
	if err != nil {
		return rule{}, "", fmt.Errorf("tls: invalid pattern %q in %s: %w", pat, KeyPrincipalMappingRules, err)
	}
	r := rule{pattern: re, template: javaTemplate(repl)}
	if strings.HasPrefix(rest, "L") {
		r.toLower, rest = true, rest[1:]
	} else if strings.HasPrefix(rest, "U") {
		r.toUpper, rest = true, rest[1:]
	}
	return r, rest, nil
}

// javaTemplate turns a Java replacement ("$1", "\$" for a dollar) into Go's Expand syntax.
func javaTemplate(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '\\' && i+1 < len(repl):
			i++
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case c == '$' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j := i + 1
			for j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			b.WriteString("${" + repl[i+1:j] + "}")
			i = j - 1
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// MapName applies the rules to a distinguished name: the first DEFAULT or matching RULE
// decides; no match is an error, which fails the client's authentication.
func (pb *PrincipalBuilder) MapName(dn string) (string, error) {
	for _, r := range pb.rules {
		if r.isDefault {
			return dn, nil
		}
		m := r.pattern.FindStringSubmatchIndex(dn)
		if m == nil {
			continue
		}
		out := string(r.pattern.ExpandString(nil, r.template, dn, m))
		switch {
		case r.toLower:
			out = strings.ToLower(out)
		case r.toUpper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("tls: no rule of %s applies to %s", KeyPrincipalMappingRules, dn)
}

// Principal is the principal of a TLS connection: User:ANONYMOUS without a verified client
// certificate, else "User:" + the mapped distinguished name of the certificate's subject.
func (pb *PrincipalBuilder) Principal(cs tls.ConnectionState) (string, error) {
	if len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return Anonymous, nil
	}
	return pb.CertificatePrincipal(cs.PeerCertificates[0])
}

// CertificatePrincipal is "User:" + the mapped distinguished name of cert's subject.
func (pb *PrincipalBuilder) CertificatePrincipal(cert *x509.Certificate) (string, error) {
	dn, err := DistinguishedName(cert.RawSubject)
	if err != nil {
		return "", err
	}
	name, err := pb.MapName(dn)
	if err != nil {
		return "", err
	}
	return "User:" + name, nil
}
