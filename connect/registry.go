package connect

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/connect/configdef"
)

// PluginType is a kind of plugin, named as Kafka's REST API names it.
type PluginType string

// Plugin types.
const (
	SourcePlugin          PluginType = "source"
	SinkPlugin            PluginType = "sink"
	ConverterPlugin       PluginType = "converter"
	HeaderConverterPlugin PluginType = "header_converter"
	TransformationPlugin  PluginType = "transformation"
	PredicatePlugin       PluginType = "predicate"
)

// suffix is what Kafka prunes from a class's simple name to make the short
// alias (FileStreamSourceConnector → FileStreamSource, JsonConverter →
// Json).
func (t PluginType) suffix() string {
	switch t {
	case SourcePlugin, SinkPlugin:
		return "Connector"
	case ConverterPlugin:
		return "Converter"
	case HeaderConverterPlugin:
		return "HeaderConverter"
	case TransformationPlugin:
		return "Transformation"
	case PredicatePlugin:
		return "Predicate"
	}
	return ""
}

// Plugin is a registered plugin: its class name, type and a constructor.
type Plugin struct {
	// Class is the plugin's full name; Kafka's class name for Kafka's own
	// plugins (org.apache.kafka.connect.file.FileStreamSourceConnector).
	Class   string
	Type    PluginType
	Version string
	// New returns a fresh instance: a SourceConnector, SinkConnector,
	// Converter, HeaderConverter, Transformation or Predicate as Type says.
	New func() any
}

// Aliases returns the names that select the plugin besides Class: the
// simple name (after the last dot) and the simple name without the type's
// suffix, as Kafka's plugin aliases.
func (p Plugin) Aliases() []string {
	simple := p.Class[strings.LastIndexByte(p.Class, '.')+1:]
	out := []string{}
	if simple != p.Class {
		out = append(out, simple)
	}
	if pruned, ok := strings.CutSuffix(simple, p.Type.suffix()); ok && pruned != "" {
		out = append(out, pruned)
	}
	return out
}

// Config returns the settings of a new instance.
func (p Plugin) Config() *configdef.Def {
	type configured interface{ Config() *configdef.Def }
	if c, ok := p.New().(configured); ok {
		return c.Config()
	}
	return configdef.New()
}

// Registry finds plugins by class name or alias. Build one per worker; it
// is not safe for concurrent registration.
type Registry struct {
	plugins []Plugin
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds a plugin. A class may be registered once per type (a
// converter may also be a header converter).
func (r *Registry) Register(p Plugin) error {
	if p.Class == "" || p.New == nil || p.Type == "" {
		return fmt.Errorf("register plugin %q: class, type and constructor are required", p.Class)
	}
	for _, q := range r.plugins {
		if q.Class == p.Class && q.Type == p.Type {
			return fmt.Errorf("register plugin %s: already registered as a %s", p.Class, p.Type)
		}
	}
	r.plugins = append(r.plugins, p)
	return nil
}

// MustRegister registers plugins and panics on a clash, for building the
// built-in registry.
func (r *Registry) MustRegister(ps ...Plugin) *Registry {
	for _, p := range ps {
		if err := r.Register(p); err != nil {
			panic(err)
		}
	}
	return r
}

// Plugins returns the plugins of the given types (all when none are
// given), sorted by type then class.
func (r *Registry) Plugins(types ...PluginType) []Plugin {
	var out []Plugin
	for _, p := range r.plugins {
		if len(types) == 0 || slices.Contains(types, p.Type) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Class < out[j].Class
	})
	return out
}

// Lookup finds a plugin of one of the types by class name or alias. An
// alias two plugins share is ambiguous and refused.
func (r *Registry) Lookup(name string, types ...PluginType) (Plugin, error) {
	name = strings.TrimSpace(name)
	var found []Plugin
	for _, p := range r.Plugins(types...) {
		if p.Class == name {
			return p, nil
		}
		if slices.Contains(p.Aliases(), name) {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		kinds := make([]string, len(types))
		for i, t := range types {
			kinds[i] = string(t)
		}
		return Plugin{}, fmt.Errorf("no %s plugin called %q (see `sluice connect plugins`)", strings.Join(kinds, " or "), name)
	}
	// One class registered under two types (a converter that is also a
	// header converter) is not ambiguous.
	for _, p := range found[1:] {
		if p.Class != found[0].Class {
			return Plugin{}, fmt.Errorf("plugin alias %q is ambiguous: %s and %s", name, found[0].Class, p.Class)
		}
	}
	return found[0], nil
}

// NewConverter returns a converter by name, not yet configured.
func (r *Registry) NewConverter(name string) (Converter, error) {
	p, err := r.Lookup(name, ConverterPlugin)
	if err != nil {
		return nil, err
	}
	c, ok := p.New().(Converter)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a converter", p.Class)
	}
	return c, nil
}

// NewHeaderConverter returns a header converter by name, not yet
// configured.
func (r *Registry) NewHeaderConverter(name string) (HeaderConverter, error) {
	p, err := r.Lookup(name, HeaderConverterPlugin)
	if err != nil {
		return nil, err
	}
	c, ok := p.New().(HeaderConverter)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a header converter", p.Class)
	}
	return c, nil
}

// NewTransformation returns a transform by name, not yet configured.
func (r *Registry) NewTransformation(name string) (Transformation, error) {
	p, err := r.Lookup(name, TransformationPlugin)
	if err != nil {
		return nil, err
	}
	t, ok := p.New().(Transformation)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a transformation", p.Class)
	}
	return t, nil
}

// NewPredicate returns a predicate by name, not yet configured.
func (r *Registry) NewPredicate(name string) (Predicate, error) {
	p, err := r.Lookup(name, PredicatePlugin)
	if err != nil {
		return nil, err
	}
	t, ok := p.New().(Predicate)
	if !ok {
		return nil, fmt.Errorf("plugin %s is not a predicate", p.Class)
	}
	return t, nil
}

// NewConnector returns a source or sink connector by name, with its plugin.
func (r *Registry) NewConnector(name string) (Connector, Plugin, error) {
	p, err := r.Lookup(name, SourcePlugin, SinkPlugin)
	if err != nil {
		return nil, Plugin{}, err
	}
	c, ok := p.New().(Connector)
	if !ok {
		return nil, Plugin{}, fmt.Errorf("plugin %s is not a connector", p.Class)
	}
	return c, p, nil
}
