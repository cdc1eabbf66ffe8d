package runtime

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connect"
)

// converters are a task's key, value and header converters, with the
// class names error reports give.
type converters struct {
	key, value           connect.Converter
	header               connect.HeaderConverter
	keyClass, valueClass string
	headerClass          string
}

// newConverters builds a task's converters, as Kafka does: a converter the
// connector names (key.converter) is configured with the connector's
// key.converter.* settings; otherwise the worker's converter with the
// worker's settings.
func newConverters(reg *connect.Registry, worker, conn map[string]string) (*converters, error) {
	pick := func(name string) (string, map[string]string) {
		cls, props := strings.TrimSpace(worker[name]), prefixed(worker, name+".")
		if c, ok := conn[name]; ok && strings.TrimSpace(c) != "" {
			cls, props = strings.TrimSpace(c), prefixed(conn, name+".")
		}
		// Errors name the class as Kafka does, whatever alias was given.
		if p, err := reg.Lookup(cls, connect.ConverterPlugin, connect.HeaderConverterPlugin); err == nil {
			cls = p.Class
		}
		return cls, props
	}
	c := &converters{}
	var err error
	var props map[string]string
	c.keyClass, props = pick(KeyConverter)
	if c.key, err = reg.NewConverter(c.keyClass); err != nil {
		return nil, fmt.Errorf("%s: %w", KeyConverter, err)
	}
	props["converter.type"] = "key"
	if err := c.key.Configure(props, true); err != nil {
		return nil, fmt.Errorf("configure %s %s: %w", KeyConverter, c.keyClass, err)
	}
	c.valueClass, props = pick(ValueConverter)
	if c.value, err = reg.NewConverter(c.valueClass); err != nil {
		return nil, fmt.Errorf("%s: %w", ValueConverter, err)
	}
	props["converter.type"] = "value"
	if err := c.value.Configure(props, false); err != nil {
		return nil, fmt.Errorf("configure %s %s: %w", ValueConverter, c.valueClass, err)
	}
	c.headerClass, props = pick(HeaderConverter)
	if c.headerClass == "" {
		c.headerClass = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
	}
	if c.header, err = reg.NewHeaderConverter(c.headerClass); err != nil {
		return nil, fmt.Errorf("%s: %w", HeaderConverter, err)
	}
	props["converter.type"] = "header"
	if err := c.header.Configure(props); err != nil {
		return nil, fmt.Errorf("configure %s %s: %w", HeaderConverter, c.headerClass, err)
	}
	return c, nil
}

// step is one transform of a chain, with its predicate.
type step struct {
	alias  string
	class  string
	t      connect.Transformation
	pred   connect.Predicate
	negate bool
}

// chain is a connector's transforms, applied in order.
type chain struct {
	steps []step
	preds []connect.Predicate
}

// newChain builds the transforms and predicates a connector config names:
// transforms=a,b with transforms.a.type and transforms.a.*, an optional
// transforms.a.predicate naming one of predicates=p with predicates.p.type
// and predicates.p.*, and transforms.a.negate.
func newChain(reg *connect.Registry, conn map[string]string) (*chain, error) {
	c := &chain{}
	preds := map[string]connect.Predicate{}
	for _, alias := range splitList(conn[Predicates]) {
		props := prefixed(conn, "predicates."+alias+".")
		typ := strings.TrimSpace(props["type"])
		if typ == "" {
			return nil, connect.ConfigErrorf("predicates.%s.type: missing; it names the predicate's class", alias)
		}
		p, err := reg.NewPredicate(typ)
		if err != nil {
			return nil, fmt.Errorf("predicates.%s.type: %w", alias, err)
		}
		delete(props, "type")
		if err := p.Configure(props); err != nil {
			return nil, fmt.Errorf("configure predicate %s (%s): %w", alias, typ, err)
		}
		preds[alias] = p
		c.preds = append(c.preds, p)
	}
	for _, alias := range splitList(conn[Transforms]) {
		props := prefixed(conn, "transforms."+alias+".")
		typ := strings.TrimSpace(props["type"])
		if typ == "" {
			return nil, connect.ConfigErrorf("transforms.%s.type: missing; it names the transformation's class", alias)
		}
		t, err := reg.NewTransformation(typ)
		if err != nil {
			return nil, fmt.Errorf("transforms.%s.type: %w", alias, err)
		}
		s := step{alias: alias, class: typ, t: t}
		if p, ok := props["predicate"]; ok {
			if s.pred = preds[strings.TrimSpace(p)]; s.pred == nil {
				return nil, connect.ConfigErrorf("transforms.%s.predicate: predicate %q is not in predicates=%s", alias, p, conn[Predicates])
			}
		}
		if n, ok := props["negate"]; ok {
			neg, err := strconv.ParseBool(strings.TrimSpace(n))
			if err != nil {
				return nil, connect.ConfigErrorf("transforms.%s.negate=%s: want true or false", alias, n)
			}
			if s.pred == nil && neg {
				return nil, connect.ConfigErrorf("transforms.%s.negate is set without transforms.%s.predicate", alias, alias)
			}
			s.negate = neg
		}
		for _, k := range []string{"type", "predicate", "negate"} {
			delete(props, k)
		}
		if err := t.Configure(props); err != nil {
			return nil, fmt.Errorf("configure transform %s (%s): %w", alias, typ, err)
		}
		if p, err := reg.Lookup(typ, connect.TransformationPlugin); err == nil {
			s.class = p.Class
		}
		c.steps = append(c.steps, s)
	}
	return c, nil
}

// apply runs the chain through the error handler. It returns nil when a
// transform dropped the record or the record failed and is skipped.
func (c *chain) apply(ctx context.Context, h *errorHandler, fr failedRecord, r connect.AnyRecord) (connect.AnyRecord, error) {
	for _, s := range c.steps {
		var out connect.AnyRecord
		ok, err := h.run(ctx, StageTransformation, s.class, fr, func() error {
			if s.pred != nil && s.pred.Test(r) == s.negate {
				out = r
				return nil
			}
			var err error
			out, err = s.t.Apply(r)
			return err
		})
		if err != nil || !ok {
			return nil, err
		}
		if out == nil {
			return nil, nil
		}
		r = out
	}
	return r, nil
}

func (c *chain) close() {
	for _, s := range c.steps {
		s.t.Close()
	}
	for _, p := range c.preds {
		p.Close()
	}
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
