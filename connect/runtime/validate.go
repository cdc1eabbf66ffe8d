package runtime

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
)

// ConnectorValidator is implemented by connectors that check their settings
// beyond each one's type and validator, as Kafka's Connector.validate: the
// result maps a setting to its error messages.
type ConnectorValidator interface {
	Validate(props map[string]string) map[string][]string
}

// Validation is the outcome of checking a connector config: every setting
// the connector has (common ones, the connector's own, and those of the
// transforms and predicates it names), and the errors found per setting.
type Validation struct {
	Plugin connect.Plugin
	Def    *configdef.Def
	Errors map[string][]string
}

// ErrorCount is the number of errors.
func (v *Validation) ErrorCount() int {
	n := 0
	for _, e := range v.Errors {
		n += len(e)
	}
	return n
}

// Messages lists the errors as "setting: message", sorted by the order of
// the settings.
func (v *Validation) Messages() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range v.Def.Keys() {
		seen[k.Name] = true
		for _, e := range v.Errors[k.Name] {
			out = append(out, k.Name+": "+e)
		}
	}
	var rest []string
	for k, errs := range v.Errors {
		if !seen[k] {
			for _, e := range errs {
				rest = append(rest, k+": "+e)
			}
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func (v *Validation) add(key, msg string) {
	if !slices.Contains(v.Errors[key], msg) {
		v.Errors[key] = append(v.Errors[key], msg)
	}
}

// ValidateConnector checks a connector config as creating the connector
// would, but setting by setting, so that every problem is reported: the
// connector class, each setting's type and validator, the sink's topics,
// the converters, the transforms and predicates, and the connector's own
// checks (ConnectorValidator). An unknown connector class is an error.
func (h *Herder) ValidateConnector(props map[string]string) (*Validation, error) {
	conn, plugin, err := h.reg.NewConnector(props[ConnectorClass])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ConnectorClass, err)
	}
	sink := plugin.Type == connect.SinkPlugin
	def := ConnectorConfig(sink).Merge(conn.Config())
	v := &Validation{Plugin: plugin, Errors: map[string][]string{}}
	// The settings of the transforms and predicates, under their prefixes.
	for _, kind := range []struct {
		list, prefix string
		typ          connect.PluginType
	}{{Transforms, "transforms.", connect.TransformationPlugin}, {Predicates, "predicates.", connect.PredicatePlugin}} {
		for _, alias := range splitList(props[kind.list]) {
			pre := kind.prefix + alias + "."
			def.Define(configdef.Key{Name: pre + "type", Type: configdef.Class, Required: true, Importance: configdef.High,
				Group: strings.TrimSuffix(kind.prefix, ".") + ": " + alias, Doc: "Class for the '" + alias + "' " + string(kind.typ) + "."})
			if p, err := h.reg.Lookup(props[pre+"type"], kind.typ); err == nil {
				for _, k := range p.Config().Keys() {
					k.Name = pre + k.Name
					k.Group = strings.TrimSuffix(kind.prefix, ".") + ": " + alias
					def.Define(k)
				}
			} else if props[pre+"type"] != "" {
				v.add(pre+"type", err.Error())
			}
		}
	}
	v.Def = def
	for _, k := range def.Keys() {
		raw, ok := props[k.Name]
		if !ok {
			if k.Required {
				v.add(k.Name, fmt.Sprintf("Missing required configuration %q which has no default value.", k.Name))
			}
			continue
		}
		val, err := configdef.ParseValue(k.Type, raw)
		if err != nil {
			v.add(k.Name, fmt.Sprintf("Invalid value %s for configuration %s: %v", raw, k.Name, err))
			continue
		}
		if k.Validator != nil {
			if err := k.Validator.Validate(k.Name, val); err != nil {
				v.add(k.Name, fmt.Sprintf("Invalid value %s for configuration %s: %v", raw, k.Name, err))
			}
		}
	}
	if strings.TrimSpace(props[Name]) == "" && len(v.Errors[Name]) == 0 {
		v.add(Name, "Connector name is missing or empty.")
	}
	if sink {
		topics, regex := splitList(props[Topics]), strings.TrimSpace(props[TopicsRegex])
		dlq := strings.TrimSpace(props[DLQTopic])
		switch {
		case len(topics) > 0 && regex != "":
			msg := fmt.Sprintf("%s and %s are mutually exclusive options, but both are set.", Topics, TopicsRegex)
			v.add(Topics, msg)
			v.add(TopicsRegex, msg)
		case len(topics) == 0 && regex == "":
			msg := fmt.Sprintf("Must configure one of %s or %s", Topics, TopicsRegex)
			v.add(Topics, msg)
			v.add(TopicsRegex, msg)
		case regex != "":
			if re, err := regexp.Compile("^(?:" + regex + ")$"); err != nil {
				v.add(TopicsRegex, err.Error())
			} else if dlq != "" && re.MatchString(dlq) {
				v.add(TopicsRegex, fmt.Sprintf("The DLQ topic %s matches %s=%s", dlq, TopicsRegex, regex))
			}
		}
		if dlq != "" && slices.Contains(topics, dlq) {
			v.add(Topics, fmt.Sprintf("The DLQ topic %s cannot also be a topic the connector consumes", dlq))
		}
	}
	if _, err := newConverters(h.reg, h.worker, props); err != nil {
		key := ValueConverter
		for _, k := range []string{KeyConverter, HeaderConverter} {
			if strings.Contains(err.Error(), k) {
				key = k
			}
		}
		v.add(key, err.Error())
	}
	if c, err := newChain(h.reg, props); err != nil {
		key := Transforms
		if strings.Contains(err.Error(), "predicate") {
			key = Predicates
		}
		v.add(key, err.Error())
	} else {
		c.close()
	}
	if !sink {
		h.validateExactlyOnce(conn, props, v)
	}
	if cv, ok := conn.(ConnectorValidator); ok {
		for k, errs := range cv.Validate(props) {
			for _, e := range errs {
				v.add(k, e)
			}
		}
	}
	return v, nil
}
