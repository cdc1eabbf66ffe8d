package transform

import (
	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// SetSchemaMetadata sets the name and/or version of the key or value
// schema; a struct value is rebuilt on the new schema. It needs a schema:
// a schemaless record fails, except a null schema and value together,
// which pass unchanged.
type SetSchemaMetadata struct {
	side        side
	name        string
	version     *int32
	replaceNull bool
}

// SetSchemaMetadataConfig describes SetSchemaMetadata's settings.
func SetSchemaMetadataConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "schema.name", Type: configdef.String, Importance: configdef.High, Doc: "Schema name to set."},
		configdef.Key{Name: "schema.version", Type: configdef.Int, Importance: configdef.High, Doc: "Schema version to set."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium, Doc: replaceNullDoc},
	)
}

// Config describes the settings.
func (*SetSchemaMetadata) Config() *configdef.Def { return SetSchemaMetadataConfig() }

// Close does nothing.
func (*SetSchemaMetadata) Close() error { return nil }

// Configure reads the name and version; one is needed.
func (t *SetSchemaMetadata) Configure(props map[string]string) error {
	v, err := SetSchemaMetadataConfig().Parse(props)
	if err != nil {
		return err
	}
	t.name = v.String("schema.name")
	t.version = nil
	if v.Has("schema.version") {
		t.version = data.Int32Ptr(int32(v.Int("schema.version")))
	}
	if t.name == "" && t.version == nil {
		return connect.ConfigErrorf("Neither schema name nor version configured")
	}
	t.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

// Apply sets the metadata.
func (t *SetSchemaMetadata) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	schema, value := t.side.get(r)
	if schema == nil && value == nil {
		return r, nil
	}
	if schema == nil {
		return nil, data.Errorf("Schema required for [updating schema metadata]")
	}
	updated := schema.Clone()
	if t.name != "" {
		updated.Name = t.name
	}
	if t.version != nil {
		updated.Version = t.version
	}
	if st, ok := value.(*data.Struct); ok && schema.Type == data.TypeStruct {
		out := data.NewStruct(updated)
		for _, f := range updated.Fields {
			if err := out.Put(f.Name, fieldValue(st, f.Name, t.replaceNull)); err != nil {
				return nil, err
			}
		}
		value = out
	}
	return t.side.with(r, updated, value), nil
}
