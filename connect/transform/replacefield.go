package transform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// ReplaceField keeps, drops and renames fields: exclude wins over include,
// an empty include keeps everything, renames is "old:new,...". A null key
// or value passes unchanged.
type ReplaceField struct {
	side             side
	exclude, include []string
	renames          map[string]string
	reverse          map[string]string
	replaceNull      bool
	cache            schemaCache
}

// ReplaceFieldConfig describes ReplaceField's settings.
func ReplaceFieldConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "exclude", Type: configdef.List, Default: "", Importance: configdef.Medium,
			Doc: "Fields to exclude. This takes precedence over the fields to include."},
		configdef.Key{Name: "include", Type: configdef.List, Default: "", Importance: configdef.Medium,
			Doc: "Fields to include. If specified, only these fields will be used."},
		configdef.Key{Name: "renames", Type: configdef.List, Default: "", Importance: configdef.Medium,
			Validator: configdef.Func("list of colon-delimited pairs, e.g. foo:bar,abc:xyz", func(_ string, v any) error {
				for _, m := range v.([]string) {
					if len(strings.Split(m, ":")) != 2 {
						return fmt.Errorf("Invalid rename mapping: %s", m)
					}
				}
				return nil
			}),
			Doc: "Field rename mappings."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*ReplaceField) Config() *configdef.Def { return ReplaceFieldConfig() }

// Close does nothing.
func (*ReplaceField) Close() error { return nil }

// Configure reads the lists.
func (t *ReplaceField) Configure(props map[string]string) error {
	v, err := ReplaceFieldConfig().Parse(props)
	if err != nil {
		return err
	}
	t.exclude, t.include = v.List("exclude"), v.List("include")
	t.renames, t.reverse = map[string]string{}, map[string]string{}
	for _, m := range v.List("renames") {
		from, to, _ := strings.Cut(m, ":")
		t.renames[from] = to
		t.reverse[to] = from
	}
	t.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

func (t *ReplaceField) keep(name string) bool {
	return !slices.Contains(t.exclude, name) && (len(t.include) == 0 || slices.Contains(t.include, name))
}

func (t *ReplaceField) renamed(name string) string {
	if to, ok := t.renames[name]; ok {
		return to
	}
	return name
}

// Apply replaces the fields.
func (t *ReplaceField) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	const purpose = "field replacement"
	schema, value := t.side.get(r)
	if value == nil {
		return r, nil
	}
	if schema == nil {
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			if t.keep(k) {
				out[t.renamed(k)] = v
			}
		}
		return t.side.with(r, nil, out), nil
	}
	st, err := requireStruct(value, purpose)
	if err != nil {
		return nil, err
	}
	updated, err := t.cache.get(st.Schema(), func() (*data.Schema, error) {
		s := copyBasics(st.Schema(), data.TypeStruct)
		for _, f := range st.Schema().Fields {
			if t.keep(f.Name) {
				addField(s, t.renamed(f.Name), f.Schema)
			}
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	out := data.NewStruct(updated)
	for _, f := range updated.Fields {
		orig := f.Name
		if from, ok := t.reverse[f.Name]; ok {
			orig = from
		}
		if err := out.Put(f.Name, fieldValue(st, orig, t.replaceNull)); err != nil {
			return nil, err
		}
	}
	return t.side.with(r, updated, out), nil
}
