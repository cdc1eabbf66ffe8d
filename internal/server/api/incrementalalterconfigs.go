// IncrementalAlterConfigs (key 44), versions 0-1.
//
// Behaviour: changes named configs of a resource and leaves the others as
// they are. Each change is one of:
//   - SET: set the value;
//   - DELETE: remove the dynamic value, so the default (or the broker
//     setting it inherits) applies again;
//   - APPEND / SUBTRACT: add or remove elements of a LIST config (such as
//     cleanup.policy), starting from the dynamic value or, when none is set,
//     the setting's default; an element already present is not added twice.
//
// Topics, the cluster-wide broker default (an empty broker name) and this
// broker's own configs (its node id as the name) are supported, as in
// AlterConfigs; the resulting set is validated as a whole and written to the
// metadata log in one entry, after which every broker applies it to its
// logs. validate_only changes nothing.
// Errors: INVALID_CONFIG (unknown name, bad value, APPEND or SUBTRACT on a
// config that is not a list, read-only broker setting),
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, INVALID_REQUEST (a
// resource or name given twice, SET without a value, an unknown operation,
// another broker's id or a name that is not one, an unsupported resource
// type).
package api

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) incrementalAlterConfigs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.IncrementalAlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)

	dup := duplicateResources(len(r.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return r.Resources[i].ResourceType, r.Resources[i].ResourceName
	})
	for i := range r.Resources {
		rr := &r.Resources[i]
		or := kmsg.NewIncrementalAlterConfigsResponseResource()
		or.ResourceType, or.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dup[i] {
			err = kafkaErr(kerr.InvalidRequest, "Duplicate resource %s %q in request", rr.ResourceType, rr.ResourceName)
		} else if err = h.configDenied(req, rr.ResourceType, rr.ResourceName, kmsg.ACLOperationAlterConfigs); err == nil {
			err = h.incrementalAlterResource(ctx, rr, r.ValidateOnly)
		}
		if err != nil {
			or.ErrorCode = errCode(err)
			or.ErrorMessage = errMessage(err)
		}
		resp.Resources = append(resp.Resources, or)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) incrementalAlterResource(ctx context.Context, rr *kmsg.IncrementalAlterConfigsRequestResource, validateOnly bool) error {
	img := h.Meta.Image()
	res, err := h.configResource(img, rr.ResourceType, rr.ResourceName)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(rr.Configs))
	for _, c := range rr.Configs {
		if seen[c.Name] {
			return kafkaErr(kerr.InvalidRequest, "Error due to duplicate config keys: %s", c.Name)
		}
		seen[c.Name] = true
	}

	next := maps.Clone(h.currentConfigs(img, res))
	if next == nil {
		next = map[string]string{}
	}
	for _, c := range rr.Configs {
		def, known := configDef(res, c.Name)
		if !known && c.Op != kmsg.IncrementalAlterConfigOpDelete {
			return unknownConfig(res, c.Name)
		}
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if c.Value == nil {
				return kafkaErr(kerr.InvalidRequest, "Null value not supported for : %s", c.Name)
			}
			next[c.Name] = *c.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(next, c.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if def.Type != config.List {
				return &config.Error{Name: c.Name, Unknown: true,
					Reason: fmt.Sprintf("Can't %s to key %s because its type is not LIST.", opName(c.Op), c.Name)}
			}
			if c.Value == nil {
				return kafkaErr(kerr.InvalidRequest, "Null value not supported for : %s", c.Name)
			}
			cur, ok := next[c.Name]
			if !ok {
				cur = def.Default
			}
			next[c.Name] = editList(cur, *c.Value, c.Op == kmsg.IncrementalAlterConfigOpAppend)
		default:
			return kafkaErr(kerr.InvalidRequest, "Unknown alter config operation %d for %s", c.Op, c.Name)
		}
	}
	return h.setResourceConfigs(ctx, img, res, next, validateOnly)
}

// configDef looks a name up in the table of the resource's kind.
func configDef(res configResource, name string) (config.Def, bool) {
	if res.topic != nil {
		return config.TopicDef(name)
	}
	return config.BrokerDef(name)
}

func unknownConfig(res configResource, name string) error {
	kind := "broker"
	if res.topic != nil {
		kind = "topic"
	}
	return &config.Error{Name: name, Unknown: true, Reason: fmt.Sprintf("Unknown %s config name: %s", kind, name)}
}

func opName(op kmsg.IncrementalAlterConfigOp) string {
	if op == kmsg.IncrementalAlterConfigOpAppend {
		return "APPEND"
	}
	return "SUBTRACT"
}

// editList appends the elements of change to the comma-separated list cur
// (skipping those present) or removes them from it.
func editList(cur, change string, add bool) string {
	var list []string
	for _, e := range strings.Split(cur, ",") {
		if e = strings.TrimSpace(e); e != "" {
			list = append(list, e)
		}
	}
	for _, e := range strings.Split(change, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if add {
			if !slices.Contains(list, e) {
				list = append(list, e)
			}
		} else {
			list = slices.DeleteFunc(list, func(x string) bool { return x == e })
		}
	}
	return strings.Join(list, ",")
}
