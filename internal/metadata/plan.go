package metadata

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Planning turns a request (create a topic, add partitions, ...) into the records that
// carry it out, against the current image: it chooses topic ids and replica placement,
// which the pure state machine cannot (they need randomness), and checks what only the
// request knows (the requested counts). The state machine then checks the records again
// against the image they are applied to, which catches races between two requests.

// MaxPartitionsPerRequest bounds the partitions one request may create, so that a bad
// request cannot make the controller build an enormous log entry.
const MaxPartitionsPerRequest = 10000

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name string
	// ID is the topic id; zero means generate a random one.
	ID [16]byte
	// Partitions and ReplicationFactor must be >= 1 unless Assignments is given, in which
	// case they may be 0 or -1 (Kafka's "use the assignment") or match it.
	Partitions        int32
	ReplicationFactor int16
	// Assignments optionally gives each partition's replicas, partition i at index i.
	Assignments [][]int32
	// Configs are the topic's dynamic configs. Their names and values are not checked
	// here: the caller validates them against the known topic configs.
	Configs map[string]string
	// ValidateOnly runs every check and returns the topic that would be created, without
	// creating it (CreateTopics' validate_only).
	ValidateOnly bool
}

// placer chooses the replicas of count new partitions numbered from first, rf replicas
// each, among brokers (unfenced, sorted by node id, at least rf of them): roundRobin when
// no broker has a rack, rackAware when some do.
type placer func(brokers []*Broker, first, count int32, rf int) [][]int32

// roundRobin returns Kafka's rack-unaware placement: partition p's first replica (its
// preferred leader) is broker (start+p) mod n, so leaders spread evenly; the other
// replicas follow it at a distance that grows by one after each full round of n
// partitions, so that followers spread as well. start and shift are chosen at random per
// topic so that many small topics do not all lead on the first broker.
func roundRobin(start, shift int) placer {
	return func(brokers []*Broker, first, count int32, rf int) [][]int32 {
		n := len(brokers)
		out := make([][]int32, count)
		for i := range out {
			p := int(first) + i
			lead := (start + p) % n
			replicas := make([]int32, rf)
			replicas[0] = brokers[lead].NodeID
			s := shift + p/n
			for j := 1; j < rf; j++ {
				// (s+j-1) mod (n-1) takes rf-1 distinct values in [0, n-2], so the
				// followers are distinct and never the leader.
				replicas[j] = brokers[(lead+1+(s+j-1)%(n-1))%n].NodeID
			}
			out[i] = replicas
		}
		return out
	}
}

// rackAware returns Kafka's rack-aware placement. The brokers are first arranged so that
// racks alternate (the first broker of each rack, in rack order, then the second of
// each, ...), and leaders go round that list as in roundRobin, so they spread over racks
// as well as brokers. Each follower is the next broker along a shifted walk of the list
// whose rack holds no replica of the partition yet, until every rack holds one, and
// which holds none itself, until every broker does. A broker without a rack counts as a
// rack of its own ("").
func rackAware(start, shift int) placer {
	return func(brokers []*Broker, first, count int32, rf int) [][]int32 {
		byRack := map[string][]*Broker{}
		for _, b := range brokers {
			rack := ""
			if b.Rack != nil {
				rack = *b.Rack
			}
			byRack[rack] = append(byRack[rack], b)
		}
		racks := slices.Sorted(maps.Keys(byRack))
		var arranged []*Broker
		for i := 0; len(arranged) < len(brokers); i++ {
			for _, r := range racks {
				if i < len(byRack[r]) {
					arranged = append(arranged, byRack[r][i])
				}
			}
		}
		rackOf := func(b *Broker) string {
			if b.Rack == nil {
				return ""
			}
			return *b.Rack
		}
		n := len(arranged)
		out := make([][]int32, count)
		for i := range out {
			p := int(first) + i
			lead := (start + p) % n
			s := (shift + p/n) * len(racks)
			replicas := []int32{arranged[lead].NodeID}
			usedRacks := map[string]bool{rackOf(arranged[lead]): true}
			used := map[int32]bool{arranged[lead].NodeID: true}
			for k := 0; len(replicas) < rf; k++ {
				b := arranged[(lead+1+(s+k)%(n-1))%n]
				rackFree := !usedRacks[rackOf(b)] || len(usedRacks) == len(racks)
				brokerFree := !used[b.NodeID] || len(used) == n
				if rackFree && brokerFree {
					replicas = append(replicas, b.NodeID)
					usedRacks[rackOf(b)] = true
					used[b.NodeID] = true
				}
			}
			out[i] = replicas
		}
		return out
	}
}

// planCreateTopic returns the records that create spec's topic in img: the topic, its
// partitions and its configs. Errors follow Kafka's CreateTopics, in Kafka's order.
func planCreateTopic(img *Image, spec TopicSpec, place placer) ([]Record, UUID, error) {
	if err := checkNewTopicName(img, spec.Name); err != nil {
		return nil, UUID{}, err
	}
	var assignments [][]int32
	if len(spec.Assignments) > 0 {
		n := len(spec.Assignments)
		if n > MaxPartitionsPerRequest {
			return nil, UUID{}, errorf(kerr.InvalidPartitions, "cannot create %d partitions in one request; the limit is %d", n, MaxPartitionsPerRequest)
		}
		if spec.Partitions > 0 && int(spec.Partitions) != n {
			return nil, UUID{}, errorf(kerr.InvalidRequest,
				"A manual partition assignment was specified for %d partitions, but the number of partitions was set to %d.", n, spec.Partitions)
		}
		rf := len(spec.Assignments[0])
		if spec.ReplicationFactor > 0 && int(spec.ReplicationFactor) != rf {
			return nil, UUID{}, errorf(kerr.InvalidRequest,
				"A manual partition assignment with %d replicas was specified, but the replication factor was set to %d.", rf, spec.ReplicationFactor)
		}
		for i, replicas := range spec.Assignments {
			if err := checkReplicas(img, replicas); err != nil {
				return nil, UUID{}, errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment for partition %d is invalid: %s", i, err.Error())
			}
			if len(replicas) != rf {
				return nil, UUID{}, errorf(kerr.InvalidReplicaAssignment,
					"The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).",
					len(replicas), rf)
			}
		}
		assignments = spec.Assignments
	} else {
		switch {
		case spec.ReplicationFactor < 1:
			return nil, UUID{}, errorf(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0.")
		case spec.Partitions < 1:
			return nil, UUID{}, errorf(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
		case spec.Partitions > MaxPartitionsPerRequest:
			return nil, UUID{}, errorf(kerr.InvalidPartitions, "cannot create %d partitions in one request; the limit is %d", spec.Partitions, MaxPartitionsPerRequest)
		}
		brokers := img.UnfencedBrokers()
		if int(spec.ReplicationFactor) > len(brokers) {
			return nil, UUID{}, errorf(kerr.InvalidReplicationFactor,
				"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
				spec.ReplicationFactor, spec.ReplicationFactor, len(brokers))
		}
		assignments = place(brokers, 0, spec.Partitions, int(spec.ReplicationFactor))
	}
	for name := range spec.Configs {
		if name == "" {
			return nil, UUID{}, errorf(kerr.InvalidConfig, "empty config name")
		}
	}

	id := UUID(spec.ID)
	if id.IsZero() {
		for id = NewUUID(); img.TopicsByID[id] != nil; id = NewUUID() {
		}
	} else if t := img.TopicsByID[id]; t != nil {
		return nil, UUID{}, errorf(kerr.TopicAlreadyExists, "topic id %s is already used by topic %q", id, t.Name)
	}

	recs := make([]Record, 0, 1+len(assignments)+len(spec.Configs))
	recs = append(recs, &TopicRecord{Name: spec.Name, TopicID: id})
	for i, replicas := range assignments {
		recs = append(recs, newPartitionRecord(id, int32(i), replicas))
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Configs)) {
		v := spec.Configs[name]
		recs = append(recs, &ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: spec.Name, Name: name, Value: &v})
	}
	return recs, id, nil
}

// newPartitionRecord describes a new partition: its leader is the first replica, and its
// ISR that leader alone. Until followers replicate (the replication issue), only the
// leader holds the records, so only it may ever be elected; followers join the ISR once
// they have caught up, as Kafka's AlterPartition adds them.
func newPartitionRecord(id UUID, index int32, replicas []int32) *PartitionRecord {
	return &PartitionRecord{
		TopicID:   id,
		Partition: index,
		Replicas:  slices.Clone(replicas),
		ISR:       []int32{replicas[0]},
		Leader:    replicas[0],
	}
}

// planLeaderChanges returns the partition changes that follow from which brokers can
// serve (live): a broker that cannot leaves the ISR of every partition, unless it is the
// last member (Kafka keeps the last one so that it can lead again when it returns, with
// unclean election off); a partition whose leader cannot serve gets the first live
// replica of its ISR, in replica order, or no leader (-1); and a partition without a
// leader gets one as soon as an ISR member is live again.
func planLeaderChanges(img *Image, live func(int32) bool) []Record {
	var recs []Record
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		for _, p := range t.Partitions {
			isr := slices.DeleteFunc(slices.Clone(p.ISR), func(id int32) bool { return !live(id) })
			if len(isr) == 0 {
				isr = slices.Clone(p.ISR)
			}
			leader := p.Leader
			if leader == -1 || !live(leader) || !slices.Contains(isr, leader) {
				leader = -1
				for _, id := range p.Replicas {
					if slices.Contains(isr, id) && live(id) {
						leader = id
						break
					}
				}
			}
			if leader == p.Leader && slices.Equal(isr, p.ISR) {
				continue
			}
			recs = append(recs, &PartitionChangeRecord{TopicID: t.ID, Partition: p.Index, PartitionEpoch: p.PartitionEpoch, Leader: leader, ISR: isr})
		}
	}
	return recs
}

// planCreatePartitions returns the records that grow topic to total partitions, with the
// replication factor of its partition 0. Errors follow Kafka's CreatePartitions.
func planCreatePartitions(img *Image, topic string, total int32, place placer) ([]Record, error) {
	t := img.Topics[topic]
	if t == nil {
		return nil, errorf(kerr.UnknownTopicOrPartition, "Topic %q does not exist.", topic)
	}
	have := int32(len(t.Partitions))
	switch {
	case total < have:
		return nil, errorf(kerr.InvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.", have, total)
	case total == have:
		return nil, errorf(kerr.InvalidPartitions, "Topic already has %d partitions.", have)
	case total-have > MaxPartitionsPerRequest:
		return nil, errorf(kerr.InvalidPartitions, "cannot create %d partitions in one request; the limit is %d", total-have, MaxPartitionsPerRequest)
	}
	rf := int(t.ReplicationFactor())
	brokers := img.UnfencedBrokers()
	if rf > len(brokers) {
		return nil, errorf(kerr.InvalidReplicationFactor,
			"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
			rf, rf, len(brokers))
	}
	assignments := place(brokers, have, total-have, rf)
	recs := make([]Record, 0, len(assignments))
	for i, replicas := range assignments {
		recs = append(recs, newPartitionRecord(t.ID, have+int32(i), replicas))
	}
	return recs, nil
}
