package tlsconfig

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"
)

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidSerial = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidDC     = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidUID    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidEmail  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// atv is an attribute with a string value of the given ASN.1 tag.
func atv(oid asn1.ObjectIdentifier, tag int, value string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: []byte(value)}}
}

func utf8ATV(oid asn1.ObjectIdentifier, value string) pkix.AttributeTypeAndValue {
	return atv(oid, asn1.TagUTF8String, value)
}

// name encodes RDNs given in ASN.1 order (least specific first).
func name(t *testing.T, rdns ...[]pkix.AttributeTypeAndValue) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, r := range rdns {
		seq = append(seq, pkix.RelativeDistinguishedNameSET(r))
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func one(a pkix.AttributeTypeAndValue) []pkix.AttributeTypeAndValue {
	return []pkix.AttributeTypeAndValue{a}
}

func TestDistinguishedName(t *testing.T) {
	emailDER := append([]byte{asn1.TagIA5String, 11}, "a@example.c"...)
	serialDER := append([]byte{asn1.TagPrintableString, 3}, "123"...)
	tests := []struct {
		name string
		der  []byte
		want string
	}{
		{"most specific first", name(t, one(atv(oidC, asn1.TagPrintableString, "US")), one(utf8ATV(oidO, "Acme")), one(utf8ATV(oidOU, "eng")), one(utf8ATV(oidCN, "alice"))),
			"CN=alice,OU=eng,O=Acme,C=US"},
		{"special characters escaped", name(t, one(utf8ATV(oidCN, `a,b=c+d<e>f#g;h"i\j`))), `CN=a\,b\=c\+d\<e\>f\#g\;h\"i\\j`},
		{"leading and trailing spaces escaped", name(t, one(utf8ATV(oidCN, "  x y "))), `CN=\ \ x y\ `},
		{"leading hash escaped", name(t, one(utf8ATV(oidCN, "#x"))), `CN=\#x`},
		{"NUL", name(t, one(utf8ATV(oidCN, "a\x00b"))), `CN=a\00b`},
		{"non-ASCII kept", name(t, one(utf8ATV(oidCN, "zoë"))), "CN=zoë"},
		{"DC and UID are keywords", name(t, one(atv(oidDC, asn1.TagIA5String, "com")), one(atv(oidDC, asn1.TagIA5String, "example")), one(utf8ATV(oidUID, "u1"))),
			"UID=u1,DC=example,DC=com"},
		{"email is an OID with DER hex", name(t, one(atv(oidEmail, asn1.TagIA5String, "a@example.c")), one(utf8ATV(oidCN, "bob"))),
			"CN=bob,1.2.840.113549.1.9.1=#" + hex.EncodeToString(emailDER)},
		{"serialNumber has no RFC 2253 keyword", name(t, one(atv(oidSerial, asn1.TagPrintableString, "123"))),
			"2.5.4.5=#" + hex.EncodeToString(serialDER)},
		{"multi-valued RDN", name(t, []pkix.AttributeTypeAndValue{utf8ATV(oidCN, "a"), utf8ATV(oidUID, "u")}), "CN=a+UID=u"},
		{"a keyword with a non-string value is hex", name(t, one(pkix.AttributeTypeAndValue{Type: oidCN, Value: 7})), "CN=#020107"},
		{"empty name", name(t), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DistinguishedName(tt.der)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("DistinguishedName = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x00, 0x00}, {0x31, 0x00}} {
		if _, err := DistinguishedName(bad); err == nil {
			t.Errorf("DistinguishedName(%x) accepted", bad)
		}
	}
}

func TestPrincipalMappingRules(t *testing.T) {
	const dn = "CN=Alice,OU=ServiceUsers,O=Acme,C=US"
	tests := []struct {
		rules   string
		want    string
		wantErr bool
	}{
		{rules: "", want: dn},
		{rules: "DEFAULT", want: dn},
		{rules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/", want: "Alice"},
		{rules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L", want: "alice"},
		{rules: "RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/U", want: "ALICE@SERVICEUSERS"},
		{rules: "RULE:^CN=(.*?),OU=Admins.*$/$1/, DEFAULT", want: dn},
		{rules: "RULE:^CN=(.*?),OU=Admins.*$/$1/,\n RULE:^CN=(.*?),.*$/svc-$1/L", want: "svc-alice"},
		{rules: `RULE:^CN=(.*?),.*$/users\/$1/`, want: "users/Alice"},
		{rules: `RULE:^CN=(.*?),.*$/\$1 is $1/`, want: "$1 is Alice"},
		{rules: "RULE:CN=Alice/whole/", want: "", wantErr: true}, // must match the whole name
		{rules: "RULE:^CN=Bob.*$/bob/", wantErr: true},
	}
	for _, tt := range tests {
		pb, err := NewPrincipalBuilder(tt.rules)
		if err != nil {
			t.Errorf("NewPrincipalBuilder(%q): %v", tt.rules, err)
			continue
		}
		got, err := pb.MapName(dn)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("rules %q: MapName = %q, %v; want %q", tt.rules, got, err, tt.want)
		}
	}
	for _, bad := range []string{"RULE:^CN=(.*)$", "RULE:^CN=(.*)$/x", "RULE:(/x/", "NOPE", "DEFAULT DEFAULT", "RULE:a/b/X"} {
		if _, err := NewPrincipalBuilder(bad); err == nil {
			t.Errorf("NewPrincipalBuilder(%q) accepted", bad)
		}
	}
}

func TestCertificatePrincipalWithRules(t *testing.T) {
	ca := newPKI(t, "CA")
	cert, _ := ca.leaf(t, aliceSubject)
	pb, err := NewPrincipalBuilder("RULE:^CN=([^,]*),.*$/$1/")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := pb.CertificatePrincipal(cert); err != nil || p != "User:alice" {
		t.Fatalf("principal %q, %v", p, err)
	}
	strict, _ := NewPrincipalBuilder("RULE:^CN=bob$/bob/")
	if _, err := strict.CertificatePrincipal(cert); err == nil || !strings.Contains(err.Error(), "no rule") {
		t.Fatalf("no matching rule: %v", err)
	}
}

func FuzzDistinguishedName(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	seed, _ := asn1.Marshal(pkix.RDNSequence{pkix.RelativeDistinguishedNameSET{{Type: oidCN, Value: "x"}}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, der []byte) {
		s, err := DistinguishedName(der)
		if err == nil && len(s) > 8*len(der)+8 {
			t.Fatalf("%d bytes of name gave %d bytes of text", len(der), len(s))
		}
	})
}

func FuzzPrincipalMappingRules(f *testing.F) {
	f.Add("RULE:^CN=(.*?),OU=(.*?),.*$/$1@$2/L, DEFAULT", "CN=a,OU=b,O=c")
	f.Add(`RULE:^(.*)$/\/$1\$/U`, "x")
	f.Fuzz(func(t *testing.T, rules, dn string) {
		pb, err := NewPrincipalBuilder(rules)
		if err != nil {
			return
		}
		_, _ = pb.MapName(dn)
	})
}
