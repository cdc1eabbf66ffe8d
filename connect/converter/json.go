// Package converter holds Kafka Connect's converters: JSON (with or without
// the schema envelope), String, ByteArray, the number and Boolean
// converters, and the SimpleHeaderConverter. Each accepts Kafka's class name
// and its short aliases (JsonConverter, Json).
package converter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/data"
)

// JSON converter settings.
const (
	SchemasEnable          = "schemas.enable"
	SchemasCacheSize       = "schemas.cache.size"
	DecimalFormat          = "decimal.format"
	ReplaceNullWithDefault = "replace.null.with.default"
	ConverterType          = "converter.type"
)

// JSON is Kafka's JsonConverter. With schemas.enable (the default) a value
// is written as {"schema": ..., "payload": ...} and read back with its
// schema; without, as plain JSON, read back schemaless (integers as int64,
// other numbers as float64, objects as map[string]any).
type JSON struct {
	schemas     bool
	numericDec  bool
	replaceNull bool
	cacheSize   int

	mu       sync.Mutex
	toJSON   map[*data.Schema][]byte // schema → its JSON
	fromJSON map[string]*data.Schema // schema JSON → schema

	// last is the schema text of the last envelope read and its schema:
	// a topic's records mostly share one schema, and an envelope that
	// begins with it needs no scan of its schema half at all.
	last atomic.Pointer[cachedSchema]
}

type cachedSchema struct {
	prefix []byte // {"schema":<text>,"payload":
	schema *data.Schema
}

// JSONConfig describes the JSON converter's settings.
func JSONConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: SchemasEnable, Type: configdef.Boolean, Default: "true", Importance: configdef.High,
			Doc: "Include schemas within each of the serialized values and keys.", Group: "Schemas"},
		configdef.Key{Name: SchemasCacheSize, Type: configdef.Int, Default: "1000", Importance: configdef.High,
			Validator: configdef.AtLeast(0),
			Doc:       "The maximum number of schemas that can be cached in this converter instance.", Group: "Schemas"},
		configdef.Key{Name: DecimalFormat, Type: configdef.String, Default: "BASE64", Importance: configdef.Low,
			Validator: configdef.OneOf(true, "BASE64", "NUMERIC"),
			Doc:       "Controls which format this converter will serialize decimals in: BASE64 (the unscaled bytes in base64) or NUMERIC (a JSON number).", Group: "Serialization"},
		configdef.Key{Name: ReplaceNullWithDefault, Type: configdef.Boolean, Default: "true", Importance: configdef.Low,
			Doc: "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.", Group: "Serialization"},
		configdef.Key{Name: ConverterType, Type: configdef.String, Default: "", Importance: configdef.Low,
			Validator: configdef.Func("[key, value, header]", func(_ string, v any) error {
				if s, _ := v.(string); s != "" && s != "key" && s != "value" && s != "header" {
					return fmt.Errorf("must be key, value or header")
				}
				return nil
			}),
			Doc: "How this converter will be used: key, value or header (set by the worker)."},
	)
}

// Config describes the settings.
func (c *JSON) Config() *configdef.Def { return JSONConfig() }

// Configure reads the settings.
func (c *JSON) Configure(props map[string]string, _ bool) error {
	v, err := JSONConfig().Parse(props)
	if err != nil {
		return &connect.ConfigError{Msg: "JsonConverter", Err: err}
	}
	c.schemas = v.Bool(SchemasEnable)
	c.numericDec = strings.EqualFold(v.String(DecimalFormat), "NUMERIC")
	c.replaceNull = v.Bool(ReplaceNullWithDefault)
	c.cacheSize = int(v.Int(SchemasCacheSize))
	c.toJSON = map[*data.Schema][]byte{}
	c.fromJSON = map[string]*data.Schema{}
	return nil
}

// configureDefaults configures a converter used without Configure.
func (c *JSON) configureDefaults() {
	if c.toJSON == nil {
		_ = c.Configure(nil, false)
	}
}

// FromConnectData writes a value as JSON. A nil schema and nil value is a
// tombstone: nil bytes.
func (c *JSON) FromConnectData(_ string, _ connect.Headers, schema *data.Schema, value any) ([]byte, error) {
	c.configureDefaults()
	if schema == nil && value == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if c.schemas {
		buf.WriteString(`{"schema":`)
		if schema == nil {
			buf.WriteString("null")
		} else {
			buf.Write(c.schemaJSON(schema))
		}
		buf.WriteString(`,"payload":`)
	}
	if err := c.writeValue(&buf, schema, value); err != nil {
		return nil, &data.Error{Msg: "Converting Kafka Connect data to byte[] failed due to serialization error", Err: err}
	}
	if c.schemas {
		buf.WriteByte('}')
	}
	return buf.Bytes(), nil
}

// ToConnectData reads JSON. nil bytes are a tombstone: nil schema and value.
//
// With schemas on, the envelope is split into its two raw halves first: the
// schema's text is the key of the schema cache, so a known schema costs a
// map lookup instead of a decode (the schema is most of a small record's
// bytes), and only the payload is decoded into values.
func (c *JSON) ToConnectData(_ string, _ connect.Headers, value []byte) (*data.Schema, any, error) {
	c.configureDefaults()
	if value == nil {
		return nil, nil, nil
	}
	if !c.schemas {
		doc, err := decodeJSON(value)
		if err != nil {
			return nil, nil, err
		}
		v, err := c.toConnect(nil, doc)
		return nil, v, err
	}
	if last := c.last.Load(); last != nil && bytes.HasPrefix(value, last.prefix) {
		// The envelope is the known schema text, then the payload, then
		// '}'. The payload must be exactly one JSON value, so that the
		// envelope has no other field; if it is not, the full path below
		// gives the error.
		rest := bytes.TrimRight(value[len(last.prefix):], " \t\r\n")
		if n := len(rest); n > 0 && rest[n-1] == '}' {
			if payload, err := decodeJSON(rest[:n-1]); err == nil {
				v, err := c.toConnect(last.schema, payload)
				return last.schema, v, err
			}
		}
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(value, &env); err != nil {
		if !json.Valid(value) {
			return nil, nil, &data.Error{Msg: "Converting byte[] to Kafka Connect data failed due to serialization error", Err: err}
		}
		env = nil // valid JSON, but not an object: not an envelope
	}
	rawSchema, hasSchema := env["schema"]
	rawPayload, hasPayload := env["payload"]
	if len(env) != 2 || !hasSchema || !hasPayload {
		return nil, nil, &data.Error{Msg: `JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`}
	}
	schema, err := c.schemaFromRaw(rawSchema)
	if err != nil {
		return nil, nil, err
	}
	prefix := append(append([]byte(`{"schema":`), rawSchema...), `,"payload":`...)
	if bytes.HasPrefix(value, prefix) {
		c.last.Store(&cachedSchema{prefix: prefix, schema: schema})
	}
	payload, err := decodeJSON(rawPayload)
	if err != nil {
		return nil, nil, err
	}
	v, err := c.toConnect(schema, payload)
	return schema, v, err
}

// decodeJSON decodes one JSON value into generic values, numbers kept as
// json.Number so that integers keep their precision.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, &data.Error{Msg: "Converting byte[] to Kafka Connect data failed due to serialization error", Err: err}
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, &data.Error{Msg: "Converting byte[] to Kafka Connect data failed due to serialization error: trailing data after the JSON value"}
	}
	return doc, nil
}

// FromConnectHeader writes a header value, as FromConnectData.
func (c *JSON) FromConnectHeader(topic, _ string, schema *data.Schema, value any) ([]byte, error) {
	return c.FromConnectData(topic, nil, schema, value)
}

// ToConnectHeader reads a header value, as ToConnectData.
func (c *JSON) ToConnectHeader(topic, _ string, value []byte) (*data.Schema, any, error) {
	return c.ToConnectData(topic, nil, value)
}

// jsonHeader adapts JSON to connect.HeaderConverter's Configure.
type jsonHeader struct{ *JSON }

func (h jsonHeader) Configure(props map[string]string) error { return h.JSON.Configure(props, false) }

// schemaJSON returns the envelope form of a schema, cached by pointer.
func (c *JSON) schemaJSON(s *data.Schema) []byte {
	c.mu.Lock()
	b, ok := c.toJSON[s]
	c.mu.Unlock()
	if ok {
		return b
	}
	var buf bytes.Buffer
	c.writeSchema(&buf, s)
	b = buf.Bytes()
	if c.cacheSize > 0 {
		c.mu.Lock()
		if len(c.toJSON) >= c.cacheSize {
			clear(c.toJSON)
		}
		c.toJSON[s] = b
		c.mu.Unlock()
	}
	return b
}

// writeSchema writes Kafka's JSON form of a schema: type, then fields,
// items or keys and values, then optional, name, version, doc, parameters
// and default; a struct field adds "field" last.
func (c *JSON) writeSchema(b *bytes.Buffer, s *data.Schema) {
	c.writeSchemaField(b, s, "")
}

func (c *JSON) writeSchemaField(b *bytes.Buffer, s *data.Schema, field string) {
	b.WriteString(`{"type":`)
	writeString(b, s.Type.JSONName())
	switch s.Type {
	case data.TypeArray:
		b.WriteString(`,"items":`)
		c.writeSchema(b, s.ValueSchema)
	case data.TypeMap:
		b.WriteString(`,"keys":`)
		c.writeSchema(b, s.KeySchema)
		b.WriteString(`,"values":`)
		c.writeSchema(b, s.ValueSchema)
	case data.TypeStruct:
		b.WriteString(`,"fields":[`)
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			c.writeSchemaField(b, f.Schema, f.Name)
		}
		b.WriteByte(']')
	}
	b.WriteString(`,"optional":`)
	b.WriteString(strconv.FormatBool(s.Optional))
	if s.Name != "" {
		b.WriteString(`,"name":`)
		writeString(b, s.Name)
	}
	if s.Version != nil {
		b.WriteString(`,"version":`)
		b.WriteString(strconv.Itoa(int(*s.Version)))
	}
	if s.Doc != "" {
		b.WriteString(`,"doc":`)
		writeString(b, s.Doc)
	}
	if s.Parameters != nil {
		b.WriteString(`,"parameters":{`)
		keys := make([]string, 0, len(s.Parameters))
		for k := range s.Parameters {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeString(b, s.Parameters[k])
		}
		b.WriteByte('}')
	}
	if s.Default != nil {
		var d bytes.Buffer
		if err := c.writeValue(&d, s, s.Default); err == nil {
			b.WriteString(`,"default":`)
			b.Write(d.Bytes())
		}
	}
	if field != "" {
		b.WriteString(`,"field":`)
		writeString(b, field)
	}
	b.WriteByte('}')
}

// writeValue writes a value by its schema, or by its Go type when schema
// is nil.
func (c *JSON) writeValue(b *bytes.Buffer, s *data.Schema, v any) error {
	if v == nil {
		switch {
		case s == nil:
		case s.Default != nil && c.replaceNull:
			return c.writeValue(b, s, s.Default)
		case !s.Optional:
			return data.Errorf("Conversion error: null value for field that is required and has no default value")
		}
		b.WriteString("null")
		return nil
	}
	if data.IsLogical(s) {
		return c.writeLogical(b, s, v)
	}
	var t data.Type
	if s != nil {
		t = s.Type
	} else {
		var ok bool
		if t, ok = data.InferType(v); !ok {
			return data.Errorf("Go type %T does not have corresponding schema type", v)
		}
	}
	bad := func() error { return data.Errorf("Invalid type for %s: %T", t, v) }
	switch t {
	case data.TypeInt8:
		x, ok := v.(int8)
		if !ok {
			return bad()
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case data.TypeInt16:
		x, ok := v.(int16)
		if !ok {
			return bad()
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case data.TypeInt32:
		x, ok := v.(int32)
		if !ok {
			return bad()
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case data.TypeInt64:
		x, ok := v.(int64)
		if !ok {
			return bad()
		}
		b.WriteString(strconv.FormatInt(x, 10))
	case data.TypeFloat32:
		x, ok := v.(float32)
		if !ok {
			return bad()
		}
		writeFloat(b, float64(x), 32)
	case data.TypeFloat64:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		writeFloat(b, x, 64)
	case data.TypeBoolean:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		b.WriteString(strconv.FormatBool(x))
	case data.TypeString:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		writeString(b, x)
	case data.TypeBytes:
		x, ok := v.([]byte)
		if !ok {
			return bad()
		}
		b.WriteByte('"')
		b.WriteString(base64.StdEncoding.EncodeToString(x))
		b.WriteByte('"')
	case data.TypeArray:
		var items *data.Schema
		if s != nil {
			items = s.ValueSchema
		}
		list, ok := asList(v)
		if !ok {
			return bad()
		}
		b.WriteByte('[')
		for i, item := range list {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := c.writeValue(b, items, item); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case data.TypeMap:
		return c.writeMap(b, s, v)
	case data.TypeStruct:
		st, ok := v.(*data.Struct)
		if !ok {
			return bad()
		}
		if s == nil || !data.Equal(st.Schema(), s) {
			return data.Errorf("Mismatching schema.")
		}
		b.WriteByte('{')
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, f.Name)
			b.WriteByte(':')
			if err := c.writeValue(b, f.Schema, st.Value(i)); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return data.Errorf("Couldn't convert %v to JSON.", v)
	}
	return nil
}

func (c *JSON) writeMap(b *bytes.Buffer, s *data.Schema, v any) error {
	var ks, vs *data.Schema
	if s != nil {
		ks, vs = s.KeySchema, s.ValueSchema
	}
	type kv struct {
		k   any
		key string
		v   any
	}
	var entries []kv
	objectMode := true
	if !data.RangeMap(v, func(k, mv any) bool {
		key, isString := k.(string)
		objectMode = objectMode && isString
		entries = append(entries, kv{k, key, mv})
		return true
	}) {
		return data.Errorf("Invalid type for MAP: %T", v)
	}
	if ks != nil {
		objectMode = ks.Type == data.TypeString && !data.IsLogical(ks)
	}
	if objectMode {
		sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
		b.WriteByte('{')
		for i, e := range entries {
			if i > 0 {
				b.WriteByte(',')
			}
			key, ok := e.k.(string)
			if !ok {
				return data.Errorf("Invalid type for STRING map key: %T", e.k)
			}
			writeString(b, key)
			b.WriteByte(':')
			if err := c.writeValue(b, vs, e.v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	}
	sort.SliceStable(entries, func(i, j int) bool { return data.Format(entries[i].k) < data.Format(entries[j].k) })
	b.WriteByte('[')
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		if err := c.writeValue(b, ks, e.k); err != nil {
			return err
		}
		b.WriteByte(',')
		if err := c.writeValue(b, vs, e.v); err != nil {
			return err
		}
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return nil
}

func (c *JSON) writeLogical(b *bytes.Buffer, s *data.Schema, v any) error {
	switch s.Name {
	case data.DecimalName:
		d, ok := v.(data.Decimal)
		if !ok {
			return data.Errorf("Invalid type for Decimal: %T", v)
		}
		if c.numericDec {
			scale, err := data.DecimalScale(s)
			if err != nil {
				return err
			}
			if d, err = d.Rescale(scale); err != nil {
				return &data.Error{Msg: "Decimal", Err: err}
			}
			b.WriteString(d.String())
			return nil
		}
		raw, err := data.DecimalToBytes(s, d)
		if err != nil {
			return err
		}
		b.WriteByte('"')
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteByte('"')
		return nil
	}
	phys, err := data.FromLogical(s, v)
	if err != nil {
		return err
	}
	switch x := phys.(type) {
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	}
	return nil
}

func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	if t, ok := data.InferType(v); ok && t == data.TypeArray {
		if _, isBytes := v.([]byte); isBytes {
			return nil, false
		}
		return reflectList(v), true
	}
	return nil, false
}

func writeFloat(b *bytes.Buffer, f float64, bits int) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		// JSON has no such numbers; Jackson writes them as strings.
		writeString(b, data.JavaFloat(f, bits))
		return
	}
	b.WriteString(data.JavaFloat(f, bits))
}

const hexDigits = "0123456789abcdef"

// writeString writes a JSON string, escaping only what JSON requires
// (Jackson does not escape <, > or & as encoding/json does). Bytes that
// are not UTF-8 pass through, so a string round-trips byte for byte.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

// schemaFromRaw reads the schema half of an envelope, cached by its text.
func (c *JSON) schemaFromRaw(raw json.RawMessage) (*data.Schema, error) {
	key := string(raw)
	if c.cacheSize > 0 {
		c.mu.Lock()
		s, ok := c.fromJSON[key]
		c.mu.Unlock()
		if ok {
			return s, nil
		}
	}
	node, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	var s *data.Schema
	if node != nil {
		if s, err = c.parseSchema(node); err != nil {
			return nil, err
		}
	}
	if c.cacheSize > 0 {
		c.mu.Lock()
		if len(c.fromJSON) >= c.cacheSize {
			clear(c.fromJSON)
		}
		c.fromJSON[key] = s
		c.mu.Unlock()
	}
	return s, nil
}

func (c *JSON) parseSchema(node any) (*data.Schema, error) {
	obj, ok := node.(map[string]any)
	if !ok {
		return nil, data.Errorf("Schema must be a JSON object, got %s", jsonKind(node))
	}
	typeName, ok := obj["type"].(string)
	if !ok {
		return nil, data.Errorf("Schema must contain 'type' field")
	}
	t, ok := data.ParseType(typeName)
	if !ok || t.JSONName() != typeName {
		return nil, data.Errorf("Unknown schema type: %s", typeName)
	}
	s := &data.Schema{Type: t}
	switch t {
	case data.TypeStruct:
		fields, ok := obj["fields"].([]any)
		if !ok {
			return nil, data.Errorf(`Struct schema's "fields" argument is not an array.`)
		}
		for i, fn := range fields {
			fo, ok := fn.(map[string]any)
			name, nameOK := fo["field"].(string)
			if !ok || !nameOK {
				return nil, data.Errorf("Struct schema's field name not specified properly")
			}
			fs, err := c.parseSchema(fn)
			if err != nil {
				return nil, err
			}
			s.Fields = append(s.Fields, data.Field{Name: name, Index: i, Schema: fs})
		}
	case data.TypeArray:
		items, ok := obj["items"]
		if !ok || items == nil {
			return nil, data.Errorf("Array schema did not specify the element type")
		}
		is, err := c.parseSchema(items)
		if err != nil {
			return nil, err
		}
		s.ValueSchema = is
	case data.TypeMap:
		keys, kok := obj["keys"]
		values, vok := obj["values"]
		if !kok || keys == nil {
			return nil, data.Errorf("Map schema did not specify the key type")
		}
		if !vok || values == nil {
			return nil, data.Errorf("Map schema did not specify the value type")
		}
		var err error
		if s.KeySchema, err = c.parseSchema(keys); err != nil {
			return nil, err
		}
		if s.ValueSchema, err = c.parseSchema(values); err != nil {
			return nil, err
		}
	}
	if opt, ok := obj["optional"].(bool); ok {
		s.Optional = opt
	}
	if name, ok := obj["name"].(string); ok {
		s.Name = name
	}
	if v, ok := obj["version"].(json.Number); ok {
		n, err := v.Int64()
		if err != nil {
			return nil, data.Errorf("Schema version must be an integer, got %s", v)
		}
		s.Version = data.Int32Ptr(int32(n))
	}
	if doc, ok := obj["doc"].(string); ok {
		s.Doc = doc
	}
	if p, ok := obj["parameters"]; ok && p != nil {
		po, ok := p.(map[string]any)
		if !ok {
			return nil, data.Errorf("Schema parameters must be a JSON object")
		}
		s.Parameters = map[string]string{}
		for k, v := range po {
			str, ok := v.(string)
			if !ok {
				return nil, data.Errorf("Schema parameters must have string values")
			}
			s.Parameters[k] = str
		}
	}
	if d, ok := obj["default"]; ok && d != nil {
		noDefault := *s
		noDefault.Optional = true
		v, err := c.toConnect(&noDefault, d)
		if err != nil {
			return nil, &data.Error{Msg: "invalid schema default", Err: err}
		}
		s.Default = v
	}
	return s, nil
}

func jsonKind(n any) string {
	switch n.(type) {
	case nil:
		return "NULL"
	case bool:
		return "BOOLEAN"
	case json.Number:
		return "NUMBER"
	case string:
		return "STRING"
	case []any:
		return "ARRAY"
	case map[string]any:
		return "OBJECT"
	}
	return fmt.Sprintf("%T", n)
}

// toConnect converts decoded JSON to a Connect value of the schema, or
// infers one when schema is nil.
func (c *JSON) toConnect(s *data.Schema, n any) (any, error) {
	if s == nil {
		return schemaless(n), nil
	}
	if n == nil {
		switch {
		case s.Default != nil && c.replaceNull:
			return s.Default, nil
		case s.Optional:
			return nil, nil
		}
		return nil, data.Errorf("Invalid null value for required %s field", s.Type)
	}
	mismatch := func() error {
		return data.Errorf("Schema type %s does not match JSON %s value", s.Type, jsonKind(n))
	}
	if data.IsLogical(s) {
		return c.logicalToConnect(s, n)
	}
	switch s.Type {
	case data.TypeBoolean:
		b, ok := n.(bool)
		if !ok {
			return nil, mismatch()
		}
		return b, nil
	case data.TypeInt8, data.TypeInt16, data.TypeInt32, data.TypeInt64:
		num, ok := n.(json.Number)
		if !ok {
			return nil, mismatch()
		}
		bits := map[data.Type]int{data.TypeInt8: 8, data.TypeInt16: 16, data.TypeInt32: 32, data.TypeInt64: 64}[s.Type]
		i, err := strconv.ParseInt(string(num), 10, bits)
		if err != nil {
			return nil, data.Errorf("JSON number %s is not a valid %s", num, s.Type)
		}
		switch s.Type {
		case data.TypeInt8:
			return int8(i), nil
		case data.TypeInt16:
			return int16(i), nil
		case data.TypeInt32:
			return int32(i), nil
		}
		return i, nil
	case data.TypeFloat32, data.TypeFloat64:
		num, ok := n.(json.Number)
		if !ok {
			return nil, mismatch()
		}
		bits := 64
		if s.Type == data.TypeFloat32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(num), bits)
		if err != nil {
			return nil, data.Errorf("JSON number %s is not a valid %s", num, s.Type)
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case data.TypeString:
		str, ok := n.(string)
		if !ok {
			return nil, mismatch()
		}
		return str, nil
	case data.TypeBytes:
		str, ok := n.(string)
		if !ok {
			return nil, mismatch()
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return nil, data.Errorf("Invalid bytes field: not base64")
		}
		return b, nil
	case data.TypeArray:
		list, ok := n.([]any)
		if !ok {
			return nil, mismatch()
		}
		out := make([]any, len(list))
		for i, item := range list {
			v, err := c.toConnect(s.ValueSchema, item)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case data.TypeMap:
		out := map[any]any{}
		if s.KeySchema.Type == data.TypeString && !data.IsLogical(s.KeySchema) {
			obj, ok := n.(map[string]any)
			if !ok {
				return nil, data.Errorf("Maps with string fields should be encoded as JSON objects, but found %s", jsonKind(n))
			}
			for k, mv := range obj {
				v, err := c.toConnect(s.ValueSchema, mv)
				if err != nil {
					return nil, err
				}
				out[k] = v
			}
			return out, nil
		}
		list, ok := n.([]any)
		if !ok {
			return nil, data.Errorf("Maps with non-string fields should be encoded as JSON array of tuples, but found %s", jsonKind(n))
		}
		for _, e := range list {
			pair, ok := e.([]any)
			if !ok || len(pair) != 2 {
				return nil, data.Errorf("Found invalid map entry instead of array tuple: %s", jsonKind(e))
			}
			k, err := c.toConnect(s.KeySchema, pair[0])
			if err != nil {
				return nil, err
			}
			v, err := c.toConnect(s.ValueSchema, pair[1])
			if err != nil {
				return nil, err
			}
			if !isComparable(k) {
				return nil, data.Errorf("map key of type %T cannot be a Go map key", k)
			}
			out[k] = v
		}
		return out, nil
	case data.TypeStruct:
		obj, ok := n.(map[string]any)
		if !ok {
			return nil, data.Errorf("Structs should be encoded as JSON objects, but found %s", jsonKind(n))
		}
		st := data.NewStruct(s)
		for _, f := range s.Fields {
			v, err := c.toConnect(f.Schema, obj[f.Name])
			if err != nil {
				return nil, err
			}
			if err := st.Put(f.Name, v); err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	return nil, data.Errorf("Unknown schema type: %s", s.Type)
}

func isComparable(k any) bool {
	switch k.(type) {
	case []byte, []any, map[any]any, map[string]any:
		return false
	}
	return true
}

func (c *JSON) logicalToConnect(s *data.Schema, n any) (any, error) {
	switch s.Name {
	case data.DecimalName:
		scale, err := data.DecimalScale(s)
		if err != nil {
			return nil, err
		}
		switch x := n.(type) {
		case string:
			raw, err := base64.StdEncoding.DecodeString(x)
			if err != nil {
				return nil, data.Errorf("Invalid bytes for Decimal field: not base64")
			}
			return data.DecimalFromBytes(s, raw)
		case json.Number:
			d, err := data.ParseDecimal(string(x))
			if err != nil {
				return nil, &data.Error{Msg: "Invalid Decimal", Err: err}
			}
			if d, err = d.Rescale(scale); err != nil {
				return nil, &data.Error{Msg: "Invalid Decimal", Err: err}
			}
			return d, nil
		}
		return nil, data.Errorf("Invalid type for Decimal, underlying representation should be numeric or bytes but was %s", jsonKind(n))
	case data.DateName, data.TimeName:
		num, ok := n.(json.Number)
		i, err := strconv.ParseInt(string(num), 10, 32)
		if !ok || err != nil {
			return nil, data.Errorf("Invalid type for %s, underlying representation should be integer but was %s", s.Name, jsonKind(n))
		}
		return data.ToLogical(s, int32(i))
	default:
		num, ok := n.(json.Number)
		i, err := strconv.ParseInt(string(num), 10, 64)
		if !ok || err != nil {
			return nil, data.Errorf("Invalid type for Timestamp, underlying representation should be integral but was %s", jsonKind(n))
		}
		return data.MillisToTimestamp(i), nil
	}
}

// schemaless converts decoded JSON as Kafka does without a schema:
// integral numbers are int64, other numbers float64, objects
// map[string]any.
func schemaless(n any) any {
	switch x := n.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = schemaless(item)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = schemaless(v)
		}
		return out
	}
	return n
}

var (
	_ connect.Converter       = (*JSON)(nil)
	_ connect.HeaderConverter = jsonHeader{}
)
