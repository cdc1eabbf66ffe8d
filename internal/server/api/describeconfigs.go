// DescribeConfigs (key 32), versions 1-4.
//
// Behaviour: answers the configs of topics and brokers from the config
// tables (internal/config) and the dynamic configs in the metadata image:
//   - a topic: every topic setting with its effective value and source (the
//     topic's override, a dynamic or static broker setting, or the default);
//   - this broker (its node id as the name): every broker setting, with the
//     cluster-wide dynamic defaults and then this broker's own dynamic
//     configs applied (source DYNAMIC_BROKER_CONFIG, listed before the
//     cluster-wide default among the synonyms), read-only unless it can
//     change at run time;
//   - the cluster-wide default (an empty broker name, Kafka's
//     --entity-default): only the settings set dynamically at that level.
//
// ConfigNames, when not null, narrows the answer to those names (unknown
// names are left out). Synonyms (v1+) list every place a value could come
// from, most preferred first, when IncludeSynonyms is set; the config type
// (v3+) is always given, the documentation (v3+) when asked for. Sensitive
// values are null.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, INVALID_REQUEST
// (another broker's id, a name that is not a broker id, an unsupported
// resource type such as BROKER_LOGGER).
package api

import (
	"context"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) describeConfigs(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DescribeConfigsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeConfigsResponse)
	img := h.Meta.Image()

	// One effective broker configuration serves every resource of the
	// request, so that they agree with each other.
	bcfg, bErr := h.effectiveBrokerConfig(img)
	for _, rr := range r.Resources {
		or := kmsg.NewDescribeConfigsResponseResource()
		or.ResourceType, or.ResourceName = rr.ResourceType, rr.ResourceName
		entries, err := []config.Entry(nil), h.configDenied(req, rr.ResourceType, rr.ResourceName, kmsg.ACLOperationDescribeConfigs)
		if err == nil {
			entries, err = h.describeResource(img, bcfg, bErr, &rr)
		}
		if err != nil {
			or.ErrorCode = errCode(err)
			or.ErrorMessage = errMessage(err)
		} else {
			or.Configs = make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
			for _, e := range entries {
				or.Configs = append(or.Configs, describedConfig(r, e))
			}
		}
		resp.Resources = append(resp.Resources, or)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) describeResource(img *metadata.Image, bcfg *config.Broker, bErr error, rr *kmsg.DescribeConfigsRequestResource) ([]config.Entry, error) {
	res, err := h.configResource(img, rr.ResourceType, rr.ResourceName)
	if err != nil {
		return nil, err
	}
	if bErr != nil {
		return nil, bErr
	}
	switch {
	case res.topic != nil:
		t, err := config.TopicConfig(bcfg, res.topic.Configs)
		if err != nil {
			return nil, kafkaErr(kerr.InvalidConfig, "the stored configs of topic %s do not resolve: %v", res.topic.Name, err)
		}
		if rr.ConfigNames == nil {
			return t.Entries(), nil
		}
		return pickEntries(rr.ConfigNames, t.Entry), nil
	case res.clusterDefault:
		// Only what is set at the cluster-wide level, as Kafka answers for
		// the default broker resource, valued without this broker's own
		// layer.
		bcfg, err := h.clusterDefaultBrokerConfig(img)
		if err != nil {
			return nil, err
		}
		var out []config.Entry
		for _, d := range config.BrokerDefs() {
			if _, set := img.BrokerConfigs[d.Name]; !set {
				continue
			}
			if rr.ConfigNames != nil && !contains(rr.ConfigNames, d.Name) {
				continue
			}
			if e, ok := bcfg.Entry(d.Name); ok {
				out = append(out, clusterDefaultEntry(e))
			}
		}
		return out, nil
	default:
		if rr.ConfigNames == nil {
			return bcfg.Entries(), nil
		}
		return pickEntries(rr.ConfigNames, bcfg.Entry), nil
	}
}

// clusterDefaultEntry is a broker entry as the cluster-wide default
// resource shows it: without per-broker layers.
func clusterDefaultEntry(e config.Entry) config.Entry {
	syns := e.Synonyms[:0:0]
	for _, s := range e.Synonyms {
		if s.Source != config.SourceDynamicBroker {
			syns = append(syns, s)
		}
	}
	e.Synonyms = syns
	return e
}

// pickEntries returns the entries of the names asked for that exist, in
// the order asked, each once.
func pickEntries(names []string, get func(string) (config.Entry, bool)) []config.Entry {
	out := make([]config.Entry, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if e, ok := get(n); ok {
			out = append(out, e)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describedConfig renders one entry for the request's version and flags.
func describedConfig(r *kmsg.DescribeConfigsRequest, e config.Entry) kmsg.DescribeConfigsResponseResourceConfig {
	c := kmsg.NewDescribeConfigsResponseResourceConfig()
	c.Name = e.Name
	c.Value = e.Value
	c.ReadOnly = e.ReadOnly
	c.IsSensitive = e.Sensitive
	c.Source = e.Source
	c.IsDefault = e.Source == config.SourceDefault
	c.ConfigType = e.Type
	if r.IncludeSynonyms {
		c.ConfigSynonyms = make([]kmsg.DescribeConfigsResponseResourceConfigConfigSynonym, 0, len(e.Synonyms))
		for _, s := range e.Synonyms {
			cs := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			cs.Name, cs.Value, cs.Source = s.Name, s.Value, s.Source
			c.ConfigSynonyms = append(c.ConfigSynonyms, cs)
		}
	}
	if r.IncludeDocumentation && e.Doc != "" {
		doc := e.Doc
		c.Documentation = &doc
	}
	return c
}

// configResource is a resource named in a config request, checked against
// the image.
type configResource struct {
	// topic is set for a topic resource.
	topic *metadata.Topic
	// clusterDefault is set for the broker resource with an empty name,
	// the cluster-wide dynamic defaults.
	clusterDefault bool
	// otherwise: this broker (its per-broker dynamic configs).
}

// configResource resolves a (type, name) pair as Kafka's config APIs do.
func (h *handlers) configResource(img *metadata.Image, typ kmsg.ConfigResourceType, name string) (configResource, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		if name == "" {
			return configResource{}, kafkaErr(kerr.InvalidRequest, "Default topic resources are not allowed.")
		}
		if err := metadata.ValidateTopicName(name); err != nil {
			return configResource{}, err
		}
		t := img.Topics[name]
		if t == nil {
			return configResource{}, kafkaErr(kerr.UnknownTopicOrPartition, "Topic %s does not exist.", name)
		}
		return configResource{topic: t}, nil
	case kmsg.ConfigResourceTypeBroker:
		if name == "" {
			return configResource{clusterDefault: true}, nil
		}
		id, err := strconv.ParseInt(name, 10, 32)
		if err != nil {
			return configResource{}, kafkaErr(kerr.InvalidRequest, "Broker id must be an integer, but it is: %s", name)
		}
		if int32(id) != h.NodeID {
			return configResource{}, kafkaErr(kerr.InvalidRequest, "Unexpected broker id, expected %d or empty string, but received %s", h.NodeID, name)
		}
		return configResource{}, nil
	case kmsg.ConfigResourceTypeBrokerLogger:
		return configResource{}, kafkaErr(kerr.InvalidRequest, "BROKER_LOGGER resources are not supported: Sluice's log level is set at start (--log-level)")
	}
	return configResource{}, kafkaErr(kerr.InvalidRequest, "Unsupported resource type: %s", typ)
}

// effectiveBrokerConfig is the static broker configuration with the image's
// cluster-wide dynamic configs and then this broker's own applied: what the
// broker runs with.
func (h *handlers) effectiveBrokerConfig(img *metadata.Image) (*config.Broker, error) {
	node := img.NodeConfigs[h.NodeID]
	if len(img.BrokerConfigs) == 0 && len(node) == 0 {
		return h.Config, nil
	}
	b, err := h.Config.WithDynamic(img.BrokerConfigs, node)
	if err != nil {
		return nil, kafkaErr(kerr.InvalidConfig, "the stored dynamic broker configs do not resolve: %v", err)
	}
	return b, nil
}

// clusterDefaultBrokerConfig is the static broker configuration with only
// the image's cluster-wide dynamic configs applied: the values the default
// broker resource shows.
func (h *handlers) clusterDefaultBrokerConfig(img *metadata.Image) (*config.Broker, error) {
	if len(img.BrokerConfigs) == 0 {
		return h.Config, nil
	}
	b, err := h.Config.WithDynamic(img.BrokerConfigs, nil)
	if err != nil {
		return nil, kafkaErr(kerr.InvalidConfig, "the stored dynamic broker configs do not resolve: %v", err)
	}
	return b, nil
}
