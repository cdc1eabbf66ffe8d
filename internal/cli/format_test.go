package cli

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestSplitAddConfig(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"retention.ms=1000", "retention.ms=1000", false},
		{"a=1,b=2", "a=1 b=2", false},
		{"cleanup.policy=[compact,delete],retention.ms=5", "cleanup.policy=compact,delete retention.ms=5", false},
		{" a = 1 , ", "a= 1", false},
		{"novalue", "", true},
		{"a=[1,2", "", true},
		{"a=1]", "", true},
	} {
		got, err := splitAddConfig(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && strings.Join(got, " ") != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, strings.Join(got, " "), tc.want)
		}
	}
}

func TestLineFormat(t *testing.T) {
	f := &produceFlags{props: []string{"parse.key=true", "parse.headers=true", "null.marker=NULL"}, headers: []string{"static=s"}}
	lf, err := f.format()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line    string
		key     *string
		value   *string
		headers string
		err     string
	}{
		{"h1:a,h2:b\tk\tv", fmtStrPtr("k"), fmtStrPtr("v"), "h1=a h2=b static=s", ""},
		{"\tk\tv\tw", fmtStrPtr("k"), fmtStrPtr("v\tw"), "static=s", ""},
		{"h:NULL\tNULL\tNULL", nil, nil, "h=<nil> static=s", ""},
		{"h1:a\tk", nil, nil, "", "no key separator"},
		{"h1a\tk\tv", nil, nil, "", "has no key separator"},
		{"no tabs", nil, nil, "", "no headers delimiter"},
	} {
		r, err := lf.parse([]byte(tc.line), 7)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "line 7") {
				t.Errorf("%q: err %v, want %q on line 7", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if !sameBytes(r.Key, tc.key) || !sameBytes(r.Value, tc.value) {
			t.Errorf("%q: key %q value %q", tc.line, r.Key, r.Value)
		}
		var hs []string
		for _, h := range r.Headers {
			v := "<nil>"
			if h.Value != nil {
				v = string(h.Value)
			}
			hs = append(hs, h.Key+"="+v)
		}
		if strings.Join(hs, " ") != tc.headers {
			t.Errorf("%q: headers %v, want %s", tc.line, hs, tc.headers)
		}
	}
	if _, err := (&produceFlags{props: []string{"key.separator="}}).format(); err == nil {
		t.Error("an empty key.separator was accepted")
	}
	if _, err := (&produceFlags{props: []string{"no.such=1"}}).format(); err == nil {
		t.Error("an unknown property was accepted")
	}
	// An empty line is an empty value, not null.
	plain, _ := (&produceFlags{}).format()
	if r, err := plain.parse(nil, 1); err != nil || r.Value == nil || len(r.Value) != 0 {
		t.Errorf("empty line: %v %#v", err, r)
	}
}

func fmtStrPtr(s string) *string { return &s }

func sameBytes(b []byte, s *string) bool {
	if s == nil {
		return b == nil
	}
	return b != nil && string(b) == *s
}

func TestOutFormat(t *testing.T) {
	rec := &kgo.Record{Topic: "t", Partition: 2, Offset: 9, Timestamp: time.UnixMilli(1234), Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "n"}}}
	bin := &kgo.Record{Topic: "t", Value: []byte{0xff, 0xfe}}
	for _, tc := range []struct {
		name  string
		flags consumeFlags
		rec   *kgo.Record
		want  string
	}{
		{"value only", consumeFlags{format: "plain"}, rec, "v\n"},
		{"every field", consumeFlags{format: "plain", props: []string{"print.timestamp=true", "print.partition=true", "print.offset=true", "print.headers=true", "print.key=true", `key.separator=\t`}},
			rec, "CreateTime:1234\tPartition:2\tOffset:9\th:x,n:null\tk\tv\n"},
		{"null key", consumeFlags{format: "plain", props: []string{"print.key=true", "null.literal=-"}}, bin, "-\t\xff\xfe\n"},
		{"json", consumeFlags{format: "json"}, rec, `{"topic":"t","partition":2,"offset":9,"timestamp":1234,"key":"k","value":"v","headers":[{"key":"h","value":"x"},{"key":"n","value":null}]}` + "\n"},
		{"json binary", consumeFlags{format: "json"}, bin, `{"topic":"t","partition":0,"offset":0,"timestamp":-62135596800000,"key":null,"value":"//4=","value_encoding":"base64","headers":[]}` + "\n"},
		{"template", consumeFlags{tmpl: "{{.Partition}}/{{.Offset}} {{.Key}}={{.Value}} {{len .Headers}}"}, rec, "2/9 k=v 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.flags.outFormat()
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			w := bufio.NewWriter(&b)
			if err := o.write(w, tc.rec); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if b.String() != tc.want {
				t.Fatalf("got  %q\nwant %q", b.String(), tc.want)
			}
		})
	}
	for _, bad := range []consumeFlags{{format: "xml"}, {format: "template"}, {tmpl: "{{.Nope"}, {format: "plain", props: []string{"print.everything=true"}}} {
		if _, err := bad.outFormat(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
