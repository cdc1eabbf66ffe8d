package runtime

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/streams/topology"
)

// plan is what the instance works out before joining the group: the
// sub-topologies, their partition counts, and the internal topics.
type plan struct {
	subs      []*topology.Subtopology
	counts    map[int]int32  // sub-topology -> partitions (tasks)
	subOf     map[string]int // full source topic -> sub-topology
	topicsOf  map[int][]string
	internal  map[string]topicSpec // full name -> spec
	changelog map[string]int       // full changelog topic -> sub-topology
}

type topicSpec struct {
	partitions int32
	config     map[string]string
}

// makePlan reads the source topics' partition counts and derives the rest.
func makePlan(ctx context.Context, adm *kadm.Client, topo *topology.Topology, appID string) (*plan, error) {
	subs, err := topo.Subtopologies()
	if err != nil {
		return nil, err
	}
	var external []string
	for _, st := range subs {
		for _, t := range st.Topics {
			if _, ok := topo.InternalTopic(t); !ok {
				external = append(external, t)
			}
		}
	}
	known := make(map[string]int32)
	if len(external) > 0 {
		details, err := adm.ListTopics(ctx, external...)
		if err != nil {
			return nil, fmt.Errorf("describe source topics: %w", err)
		}
		for _, t := range external {
			d, ok := details[t]
			if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				continue
			}
			if d.Err != nil {
				return nil, fmt.Errorf("describe source topic %s: %w", t, d.Err)
			}
			known[t] = int32(len(d.Partitions))
		}
	}
	counts, internalCounts, err := topo.PartitionCounts(subs, known)
	if err != nil {
		return nil, err
	}
	p := &plan{subs: subs, counts: counts, subOf: make(map[string]int), topicsOf: make(map[int][]string),
		internal: make(map[string]topicSpec), changelog: make(map[string]int)}
	for _, st := range subs {
		for _, t := range st.Topics {
			full := topo.TopicName(appID, t)
			p.subOf[full] = st.ID
			p.topicsOf[st.ID] = append(p.topicsOf[st.ID], full)
		}
		for _, s := range st.Stores {
			b, _ := topo.Store(s)
			if !b.Logging() {
				continue
			}
			cfg := map[string]string{"cleanup.policy": "compact"}
			for k, v := range b.LogConfig() {
				cfg[k] = v
			}
			name := topology.ChangelogTopic(appID, s)
			p.internal[name] = topicSpec{partitions: counts[st.ID], config: cfg}
			p.changelog[name] = st.ID
		}
	}
	for short, n := range internalCounts {
		it, _ := topo.InternalTopic(short)
		p.internal[topo.TopicName(appID, short)] = topicSpec{partitions: n, config: it.Config}
	}
	return p, nil
}

// createInternalTopics creates the missing internal topics and checks the
// partition counts of those that exist.
func createInternalTopics(ctx context.Context, adm *kadm.Client, p *plan, rf int16) error {
	names := make([]string, 0, len(p.internal))
	for n := range p.internal {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("describe internal topics: %w", err)
	}
	for _, n := range names {
		spec := p.internal[n]
		if d, ok := details[n]; ok && d.Err == nil {
			if int32(len(d.Partitions)) != spec.partitions {
				return fmt.Errorf("internal topic %s has %d partitions, the topology needs %d", n, len(d.Partitions), spec.partitions)
			}
			continue
		}
		cfg := make(map[string]*string, len(spec.config))
		for k, v := range spec.config {
			cfg[k] = kadm.StringPtr(v)
		}
		resp, err := adm.CreateTopic(ctx, spec.partitions, rf, cfg, n)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create internal topic %s (%d partitions, %s): %w", n, spec.partitions, describeConfig(spec.config), err)
		}
	}
	return waitForTopics(ctx, adm, names)
}

// waitForTopics waits until every topic has a leader for each partition in
// the metadata, since a topic just created may not be served yet.
func waitForTopics(ctx context.Context, adm *kadm.Client, names []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		details, err := adm.ListTopics(ctx, names...)
		missing := ""
		if err != nil {
			missing = err.Error()
		}
		for _, n := range names {
			d, ok := details[n]
			if !ok || d.Err != nil || len(d.Partitions) == 0 {
				missing = n
				break
			}
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					missing = n
				}
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("internal topic %s is not ready after 30s", missing)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func describeConfig(cfg map[string]string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += " "
		}
		s += k + "=" + strconv.Quote(cfg[k])
	}
	return s
}
