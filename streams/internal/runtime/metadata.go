package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/streams/processor"
)

// Interactive-query metadata: every instance advertises its
// application.server in its subscription, and the group leader tells every
// member which tasks each server runs (Kafka Streams' partitionsByHost in
// its AssignmentInfo), with the partition count of each sub-topology, so
// that any instance can say where a key lives without asking another.

// ErrMetadataUnavailable means the instance does not know (yet) where a
// store or key lives: it has no assignment, or the task that holds the key
// runs on an instance that advertises no application.server.
var ErrMetadataUnavailable = errors.New("streams: metadata not available")

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// StreamsMetadata describes one instance of the application: where it
// answers queries, the stores it holds, and the source partitions of its
// tasks (Kafka Streams' StreamsMetadata, active tasks only).
type StreamsMetadata struct {
	Host            string
	StoreNames      []string
	TopicPartitions []TopicPartition
}

// KeyQueryMetadata says where a key of a store lives: the instance that
// runs its task and the partition the key maps to.
type KeyQueryMetadata struct {
	ActiveHost string
	Partition  int32
}

// assignmentInfo is the leader's word on the whole group, sent to every
// member in its assignment's user data.
type assignmentInfo struct {
	Version int `json:"v"`
	// Hosts maps each advertised application.server to its tasks.
	Hosts map[string][]string `json:"hosts"`
	// Partitions maps each sub-topology to its number of tasks.
	Partitions map[int]int32 `json:"partitions"`
}

const assignmentInfoVersion = 1

// hostMetadata is the latest assignmentInfo a member received.
type hostMetadata struct {
	mu     sync.Mutex
	known  bool
	hosts  map[string][]processor.TaskID
	counts map[int]int32
}

func (m *hostMetadata) set(info assignmentInfo) {
	hosts := make(map[string][]processor.TaskID, len(info.Hosts))
	for h, ids := range info.Hosts {
		hosts[h] = []processor.TaskID{}
		for _, s := range ids {
			if id, ok := parseTaskID(s); ok {
				hosts[h] = append(hosts[h], id)
			}
		}
		slices.SortFunc(hosts[h], compareTaskIDs)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known, m.hosts, m.counts = true, hosts, info.Partitions
}

func (m *hostMetadata) snapshot() (map[string][]processor.TaskID, map[int]int32, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hosts, m.counts, m.known
}

// syncPlan is the leader's plan with the group's metadata added to every
// member's assignment.
type syncPlan struct {
	plan *kgo.BalancePlan
	info []byte
}

func (p *syncPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	byMember := p.plan.AsMemberIDMap()
	members := make([]string, 0, len(byMember))
	for m := range byMember {
		members = append(members, m)
	}
	sort.Strings(members)
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(members))
	for _, member := range members {
		assignment := byMember[member]
		ka := kmsg.NewConsumerMemberAssignment()
		topics := make([]string, 0, len(assignment))
		for t := range assignment {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		for _, t := range topics {
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic = t
			at.Partitions = slices.Sorted(slices.Values(assignment[t]))
			ka.Topics = append(ka.Topics, at)
		}
		ka.UserData = p.info
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = member
		sa.MemberAssignment = ka.AppendTo(nil)
		out = append(out, sa)
	}
	return out
}

// parseAssignment reads a member's assignment and keeps the group metadata
// it carries.
func (b *taskBalancer) parseAssignment(assignment []byte) (map[string][]int32, error) {
	var ka kmsg.ConsumerMemberAssignment
	if err := ka.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("sync assignment parse failed: %v", err)
	}
	out := make(map[string][]int32, len(ka.Topics))
	for _, t := range ka.Topics {
		out[t.Topic] = append(out[t.Topic], t.Partitions...)
	}
	if b.meta != nil && len(ka.UserData) > 0 {
		var info assignmentInfo
		if err := json.Unmarshal(ka.UserData, &info); err != nil {
			return nil, fmt.Errorf("sync assignment: group metadata: %w", err)
		}
		if info.Version != assignmentInfoVersion {
			return nil, fmt.Errorf("sync assignment: group metadata version %d, this instance reads %d", info.Version, assignmentInfoVersion)
		}
		b.meta.set(info)
	}
	return out, nil
}

// encodeAssignmentInfo gives the group metadata for a plan: each member's
// host (from its subscription) and tasks, and the task counts.
func encodeAssignmentInfo(hosts map[string][]processor.TaskID, counts map[int]int32) []byte {
	info := assignmentInfo{Version: assignmentInfoVersion, Hosts: make(map[string][]string, len(hosts)), Partitions: counts}
	for h, ids := range hosts {
		s := make([]string, 0, len(ids))
		for _, id := range ids {
			s = append(s, id.String())
		}
		info.Hosts[h] = s
	}
	b, _ := json.Marshal(info) // maps of strings and ints: cannot fail
	return b
}

// storeSubtopologies maps each (non-global) store to its sub-topology and
// each sub-topology to its full source topic names.
func (a *App) storeSubtopologies() (map[string]int, map[int][]string, error) {
	subs, err := a.topo.Subtopologies()
	if err != nil {
		return nil, nil, err
	}
	storeSub := make(map[string]int)
	topics := make(map[int][]string)
	for _, st := range subs {
		for _, s := range st.Stores {
			storeSub[s] = st.ID
		}
		for _, t := range st.Topics {
			topics[st.ID] = append(topics[st.ID], a.topo.TopicName(a.cfg.ApplicationID, t))
		}
	}
	return storeSub, topics, nil
}

// AllMetadata describes every instance that advertises an
// application.server, as of the last assignment this instance received.
func (a *App) AllMetadata() ([]StreamsMetadata, error) {
	hosts, _, known := a.meta.snapshot()
	if !known {
		return nil, ErrMetadataUnavailable
	}
	storeSub, topics, err := a.storeSubtopologies()
	if err != nil {
		return nil, err
	}
	storesOf := make(map[int][]string)
	for s, sub := range storeSub {
		storesOf[sub] = append(storesOf[sub], s)
	}
	var globals []string
	for _, g := range a.topo.GlobalStores() {
		globals = append(globals, g.Builder.Name())
	}
	out := make([]StreamsMetadata, 0, len(hosts))
	for h, ids := range hosts {
		md := StreamsMetadata{Host: h}
		stores := make(map[string]bool)
		for _, s := range globals {
			stores[s] = true // every instance holds the global stores
		}
		for _, id := range ids {
			for _, s := range storesOf[id.Subtopology] {
				stores[s] = true
			}
			for _, t := range topics[id.Subtopology] {
				md.TopicPartitions = append(md.TopicPartitions, TopicPartition{Topic: t, Partition: id.Partition})
			}
		}
		for s := range stores {
			md.StoreNames = append(md.StoreNames, s)
		}
		sort.Strings(md.StoreNames)
		slices.SortFunc(md.TopicPartitions, func(x, y TopicPartition) int {
			if x.Topic != y.Topic {
				if x.Topic < y.Topic {
					return -1
				}
				return 1
			}
			return int(x.Partition - y.Partition)
		})
		out = append(out, md)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}

// AllMetadataForStore describes the instances that hold a store.
func (a *App) AllMetadataForStore(store string) ([]StreamsMetadata, error) {
	if _, ok := a.topo.Store(store); !ok && !a.topo.IsGlobal(store) {
		return nil, fmt.Errorf("streams: no store %s in the topology", store)
	}
	all, err := a.AllMetadata()
	if err != nil {
		return nil, err
	}
	var out []StreamsMetadata
	for _, md := range all {
		if slices.Contains(md.StoreNames, store) {
			out = append(out, md)
		}
	}
	return out, nil
}

// KeyMetadata finds the instance whose task holds a key of a store. place
// gives the key's partition among the n partitions of the store's
// sub-topology, for its first source topic (see KeyPartition for Kafka's
// default). A global store is held by every instance, so the answer for
// it is this one, with partition -1.
func (a *App) KeyMetadata(store string, place func(topic string, n int32) (int32, error)) (KeyQueryMetadata, error) {
	if a.topo.IsGlobal(store) {
		return KeyQueryMetadata{ActiveHost: a.cfg.ApplicationServer, Partition: -1}, nil
	}
	storeSub, topics, err := a.storeSubtopologies()
	if err != nil {
		return KeyQueryMetadata{}, err
	}
	sub, ok := storeSub[store]
	if !ok {
		return KeyQueryMetadata{}, fmt.Errorf("streams: no store %s in the topology", store)
	}
	hosts, counts, known := a.meta.snapshot()
	n := counts[sub]
	if !known || n <= 0 {
		return KeyQueryMetadata{}, ErrMetadataUnavailable
	}
	topic := ""
	if len(topics[sub]) > 0 {
		topic = topics[sub][0]
	}
	p, err := place(topic, n)
	if err != nil {
		return KeyQueryMetadata{}, fmt.Errorf("streams: the partition of a key of store %s: %w", store, err)
	}
	if p < 0 || p >= n {
		return KeyQueryMetadata{}, fmt.Errorf("streams: the partition of a key of store %s: %d, not in [0, %d)", store, p, n)
	}
	want := processor.TaskID{Subtopology: sub, Partition: p}
	for h, ids := range hosts {
		if slices.Contains(ids, want) {
			return KeyQueryMetadata{ActiveHost: h, Partition: p}, nil
		}
	}
	return KeyQueryMetadata{}, fmt.Errorf("%w: task %s of store %s runs on no advertised instance", ErrMetadataUnavailable, want, store)
}

// KeyPartition is where Kafka's default partitioner puts a serialized key
// among n partitions (murmur2), as the runtime's producer does.
func KeyPartition(key []byte, n int32) int32 { return int32(murmur2(key)&0x7fffffff) % n }
