// AlterConfigs (key 33), versions 0-2.
//
// Behaviour: the legacy, non-incremental alter: each resource's dynamic
// configs become exactly the ones given (any other dynamic config of the
// resource is removed). Topics, the cluster-wide broker default (an empty
// broker name) and this broker's own configs (its node id as the name) are
// supported; the change goes through the metadata log and every broker
// applies it to its logs at once (retention, segment size,
// max.message.bytes, cleanup policy, ...); a per-broker config wins over the
// cluster-wide one on that broker. Names and values are validated as Kafka
// validates them (per-broker-only settings only with a broker id), and so is
// the resulting combination; validate_only changes nothing.
// Errors: INVALID_CONFIG (unknown name, bad value, read-only broker
// setting), UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION,
// INVALID_REQUEST (a resource or name given twice, a null value, another
// broker's id or a name that is not one, an unsupported resource type).
package api

import (
	"context"
	"maps"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) alterConfigs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.AlterConfigsRequest)
	resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)

	dup := duplicateResources(len(r.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return r.Resources[i].ResourceType, r.Resources[i].ResourceName
	})
	for i := range r.Resources {
		rr := &r.Resources[i]
		or := kmsg.NewAlterConfigsResponseResource()
		or.ResourceType, or.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dup[i] {
			err = kafkaErr(kerr.InvalidRequest, "Duplicate resource %s %q in request", rr.ResourceType, rr.ResourceName)
		} else if err = h.configDenied(req, rr.ResourceType, rr.ResourceName, kmsg.ACLOperationAlterConfigs); err == nil {
			err = h.alterConfigsResource(ctx, rr, r.ValidateOnly)
		}
		if err != nil {
			or.ErrorCode = errCode(err)
			or.ErrorMessage = errMessage(err)
		}
		resp.Resources = append(resp.Resources, or)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) alterConfigsResource(ctx context.Context, rr *kmsg.AlterConfigsRequestResource, validateOnly bool) error {
	img := h.Meta.Image()
	res, err := h.configResource(img, rr.ResourceType, rr.ResourceName)
	if err != nil {
		return err
	}
	next := make(map[string]string, len(rr.Configs))
	for _, c := range rr.Configs {
		if _, dup := next[c.Name]; dup {
			return kafkaErr(kerr.InvalidRequest, "Error due to duplicate config keys: %s", c.Name)
		}
		if c.Value == nil {
			return kafkaErr(kerr.InvalidRequest, "Null value not supported for : %s", c.Name)
		}
		next[c.Name] = *c.Value
	}
	return h.setResourceConfigs(ctx, img, res, next, validateOnly)
}

// duplicateResources marks the resources of a request that are named more
// than once; Kafka refuses all of them.
func duplicateResources(n int, at func(int) (kmsg.ConfigResourceType, string)) []bool {
	type key struct {
		t kmsg.ConfigResourceType
		n string
	}
	count := make(map[key]int, n)
	for i := 0; i < n; i++ {
		t, name := at(i)
		count[key{t, name}]++
	}
	dup := make([]bool, n)
	for i := 0; i < n; i++ {
		t, name := at(i)
		dup[i] = count[key{t, name}] > 1
	}
	return dup
}

// currentConfigs returns a resource's dynamic configs.
func (h *handlers) currentConfigs(img *metadata.Image, res configResource) map[string]string {
	switch {
	case res.topic != nil:
		return res.topic.Configs
	case res.clusterDefault:
		return img.BrokerConfigs
	}
	return img.NodeConfigs[h.NodeID]
}

// setResourceConfigs makes next the resource's whole set of dynamic
// configs: it validates the set and what it resolves to, then (unless
// validateOnly) writes the difference to the metadata log in one entry.
func (h *handlers) setResourceConfigs(ctx context.Context, img *metadata.Image, res configResource, next map[string]string, validateOnly bool) error {
	switch {
	case res.topic != nil:
		if err := config.ValidateTopicConfigs(next); err != nil {
			return err
		}
		bcfg, err := h.effectiveBrokerConfig(img)
		if err != nil {
			return err
		}
		if _, err := config.TopicConfig(bcfg, next); err != nil {
			return err
		}
	default:
		clusterDefault, perBroker := img.BrokerConfigs, next
		if res.clusterDefault {
			clusterDefault, perBroker = next, img.NodeConfigs[h.NodeID]
		}
		if err := config.ValidateBrokerConfigs(next, !res.clusterDefault); err != nil {
			return err
		}
		bcfg, err := h.Config.WithDynamic(clusterDefault, perBroker)
		if err != nil {
			return kafkaErr(kerr.InvalidConfig, "%v", err)
		}
		// Broker settings are the defaults of topic settings: every
		// existing topic must still resolve with the new ones.
		for _, name := range img.TopicNames() {
			if _, err := config.TopicConfig(bcfg, img.Topics[name].Configs); err != nil {
				return kafkaErr(kerr.InvalidConfig, "with these broker configs the configs of topic %s would be invalid: %v", name, err)
			}
		}
	}
	if validateOnly {
		return nil
	}
	cur := h.currentConfigs(img, res)
	changes := make(map[string]*string)
	for k, v := range next {
		if old, ok := cur[k]; !ok || old != v {
			changes[k] = &v
		}
	}
	for k := range maps.Keys(cur) {
		if _, keep := next[k]; !keep {
			changes[k] = nil
		}
	}
	switch {
	case res.topic != nil:
		return h.Meta.SetTopicConfigs(ctx, res.topic.Name, changes)
	case res.clusterDefault:
		return h.Meta.SetBrokerConfigs(ctx, changes)
	}
	return h.Meta.SetNodeConfigs(ctx, h.NodeID, changes)
}
