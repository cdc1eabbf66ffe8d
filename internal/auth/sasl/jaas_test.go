package sasl

import (
	"maps"
	"testing"
)

func TestParseJAAS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []LoginModule
	}{
		{
			name: "Kafka's broker example",
			in:   `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`,
			want: []LoginModule{{Class: PlainLoginModule, Flag: "required", Options: map[string]string{
				"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret"}}},
		},
		{
			name: "no options, other flag case, newlines and comments",
			in:   "// first\n com.example.Module  Optional /* none */ ;\n",
			want: []LoginModule{{Class: "com.example.Module", Flag: "optional", Options: map[string]string{}}},
		},
		{
			name: "unquoted, single-quoted and escaped values",
			in:   `m.M sufficient a=word b='single' c="q\"uote\\back\ttab\101" d=-1.5 e=$x_y;`,
			want: []LoginModule{{Class: "m.M", Flag: "sufficient", Options: map[string]string{
				"a": "word", "b": "single", "c": "q\"uote\\back\ttabA", "d": "-1.5", "e": "$x_y"}}},
		},
		{
			name: "two modules",
			in:   `a.A required x="1"; b.B requisite;`,
			want: []LoginModule{
				{Class: "a.A", Flag: "required", Options: map[string]string{"x": "1"}},
				{Class: "b.B", Flag: "requisite", Options: map[string]string{}},
			},
		},
		{
			name: "non-ASCII in a quoted password",
			in:   `m.M required user_zoë="pässwörd";`,
			want: []LoginModule{{Class: "m.M", Flag: "required", Options: map[string]string{"user_zoë": "pässwörd"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJAAS(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d modules, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Class != w.Class || g.Flag != w.Flag || !maps.Equal(g.Options, w.Options) {
					t.Errorf("module %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseJAASErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"   // only a comment",
		"m.M",
		"m.M required",
		"m.M mandatory;",
		"m.M required a;",
		"m.M required a=;",
		"m.M required a=\"unterminated;",
		"m.M required a=\"line\nbreak\";",
		"m.M required /* open",
		"m.M required a=b c",
		"= required;",
		"m.M required a==b;",
	} {
		if got, err := ParseJAAS(in); err == nil {
			t.Errorf("ParseJAAS(%q) = %+v, want an error", in, got)
		}
	}
}

func TestPlainUsersFromJAAS(t *testing.T) {
	users, err := PlainUsersFromJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required
		username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret" user_="x";`)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(users, StaticUsers{"admin": "admin-secret", "alice": "alice-secret"}) {
		t.Fatalf("users %v", users)
	}
	for _, in := range []string{
		`org.apache.kafka.common.security.scram.ScramLoginModule required;`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required; org.apache.kafka.common.security.plain.PlainLoginModule required;`,
		`broken`,
	} {
		if _, err := PlainUsersFromJAAS(in); err == nil {
			t.Errorf("PlainUsersFromJAAS(%q) accepted", in)
		}
	}
}
