package transform

import (
	"fmt"
	"slices"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// DropHeaders removes every header whose name is listed in headers.
type DropHeaders struct {
	names []string
}

// DropHeadersConfig describes DropHeaders' settings.
func DropHeadersConfig() *configdef.Def {
	return configdef.New(configdef.Key{Name: "headers", Type: configdef.List, Required: true, Validator: configdef.NonEmpty(),
		Importance: configdef.High, Doc: "The name of the headers to be removed."})
}

// Config describes the settings.
func (*DropHeaders) Config() *configdef.Def { return DropHeadersConfig() }

// Close does nothing.
func (*DropHeaders) Close() error { return nil }

// Configure reads headers.
func (d *DropHeaders) Configure(props map[string]string) error {
	v, err := DropHeadersConfig().Parse(props)
	if err != nil {
		return err
	}
	d.names = v.List("headers")
	return nil
}

// Apply drops the headers.
func (d *DropHeaders) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	b := *r.Base()
	kept := make(connect.Headers, 0, len(b.Headers))
	for _, h := range b.Headers {
		if !slices.Contains(d.names, h.Key) {
			kept = append(kept, h)
		}
	}
	b.Headers = kept
	return r.WithBase(b), nil
}

// InsertHeader adds a header with a literal value, parsed as the
// SimpleHeaderConverter would parse it ("42" is an Int8).
type InsertHeader struct {
	name   string
	schema *data.Schema
	value  any
}

// InsertHeaderConfig describes InsertHeader's settings.
func InsertHeaderConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "header", Type: configdef.String, Required: true, Importance: configdef.High, Doc: "The name of the header."},
		configdef.Key{Name: "value.literal", Type: configdef.String, Required: true, Importance: configdef.High,
			Doc: "The literal value that is to be set as the header value on all records."},
	)
}

// Config describes the settings.
func (*InsertHeader) Config() *configdef.Def { return InsertHeaderConfig() }

// Close does nothing.
func (*InsertHeader) Close() error { return nil }

// Configure reads header and value.literal.
func (h *InsertHeader) Configure(props map[string]string) error {
	v, err := InsertHeaderConfig().Parse(props)
	if err != nil {
		return err
	}
	h.name = v.String("header")
	h.schema, h.value = data.ParseValue(props["value.literal"])
	return nil
}

// Apply adds the header.
func (h *InsertHeader) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	b := *r.Base()
	b.Headers = b.Headers.Add(h.name, h.schema, h.value)
	return r.WithBase(b), nil
}

// HeaderFrom copies or moves fields of the key or value into headers.
type HeaderFrom struct {
	side        side
	fields      []string
	headers     []string
	move        bool
	replaceNull bool
	cache       schemaCache
}

// HeaderFromConfig describes HeaderFrom's settings.
func HeaderFromConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: "fields", Type: configdef.List, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "Field names in the record whose values are to be copied or moved to headers."},
		configdef.Key{Name: "headers", Type: configdef.List, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "Header names, in the same order as the field names listed in the fields configuration property."},
		configdef.Key{Name: "operation", Type: configdef.String, Required: true, Validator: configdef.OneOf(false, "move", "copy"), Importance: configdef.High,
			Doc: "Either move if the fields are to be moved to the headers (removed from the key/value), or copy if the fields are to be copied to the headers (retained in the key/value)."},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Medium,
			Doc: "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."},
	)
}

// Config describes the settings.
func (*HeaderFrom) Config() *configdef.Def { return HeaderFromConfig() }

// Close does nothing.
func (*HeaderFrom) Close() error { return nil }

// Configure reads the settings.
func (h *HeaderFrom) Configure(props map[string]string) error {
	v, err := HeaderFromConfig().Parse(props)
	if err != nil {
		return err
	}
	h.fields, h.headers = v.List("fields"), v.List("headers")
	if len(h.fields) != len(h.headers) {
		return fmt.Errorf("'fields' config must have the same number of elements as 'headers' config.")
	}
	h.move = v.String("operation") == "move"
	h.replaceNull = v.Bool(ReplaceNullWithDefault)
	return nil
}

// Apply copies or moves the fields. A null key or value fails, as Kafka's.
func (h *HeaderFrom) Apply(r connect.AnyRecord) (connect.AnyRecord, error) {
	schema, value := h.side.get(r)
	purpose := "header copy"
	if h.move {
		purpose = "header move"
	}
	headers := r.Base().Headers.Clone()
	if schema == nil {
		m, err := requireMap(value, purpose)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[k] = v
		}
		for i, f := range h.fields {
			if h.move {
				delete(out, f)
			}
			headers = headers.Add(h.headers[i], nil, m[f])
		}
		r = h.side.with(r, nil, out)
		b := *r.Base()
		b.Headers = headers
		return r.WithBase(b), nil
	}
	st, err := requireStruct(value, purpose)
	if err != nil {
		return nil, err
	}
	updated, updatedValue := schema, st
	if h.move {
		updated, err = h.cache.get(schema, func() (*data.Schema, error) {
			b := copyBasics(schema, data.TypeStruct)
			b.Optional = schema.Optional
			for _, f := range schema.Fields {
				if !slices.Contains(h.fields, f.Name) {
					addField(b, f.Name, f.Schema)
				}
			}
			return b, nil
		})
		if err != nil {
			return nil, err
		}
		updatedValue = data.NewStruct(updated)
		for _, f := range updated.Fields {
			if err := updatedValue.Put(f.Name, fieldValue(st, f.Name, h.replaceNull)); err != nil {
				return nil, err
			}
		}
	}
	for i, name := range h.fields {
		f, ok := schema.Field(name)
		if !ok {
			return nil, data.Errorf("Field %s not found in schema", name)
		}
		headers = headers.Add(h.headers[i], f.Schema, fieldValue(st, name, h.replaceNull))
	}
	r = h.side.with(r, updated, updatedValue)
	b := *r.Base()
	b.Headers = headers
	return r.WithBase(b), nil
}
