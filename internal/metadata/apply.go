package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The state machine: applyBatch turns an image and a batch of records into the next image,
// or rejects the whole batch. It is pure (no IO, no clock, no randomness), so every node
// that applies the same log reaches the same image, and the same function serves the
// dry runs behind validate-only requests.
//
// Every record is checked against the image as the batch has changed it so far: a batch
// either applies entirely or not at all, which is what makes CreateTopic all-or-nothing.

// applyBatch applies recs, taken from the log entry at index, to base. It never modifies
// base or anything base shares.
func applyBatch(base *Image, index uint64, recs []Record) (*Image, error) {
	b := newBuilder(base, false)
	for _, r := range recs {
		if err := b.apply(r, index); err != nil {
			return nil, err
		}
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	b.img.Offset = index
	return &b.img, nil
}

// imageFromSnapshot rebuilds an image from a snapshot's records.
func imageFromSnapshot(recs []Record) (*Image, error) {
	if len(recs) == 0 {
		return nil, errorf(kerr.CorruptMessage, "metadata snapshot is empty")
	}
	h, ok := recs[0].(*SnapshotHeaderRecord)
	if !ok {
		return nil, errorf(kerr.CorruptMessage, "metadata snapshot starts with %s, not a snapshot header", recs[0].Type())
	}
	b := newBuilder(emptyImage(), true)
	for _, r := range recs[1:] {
		if err := b.apply(r, h.Offset); err != nil {
			return nil, err
		}
	}
	if err := b.finish(); err != nil {
		return nil, err
	}
	b.img.Offset = h.Offset
	return &b.img, nil
}

// builder is a copy-on-write image under construction. The first change to a map copies
// it; later changes in the same batch reuse the copy. Topics created or copied in this
// batch are owned and changed in place.
type builder struct {
	img       Image
	restoring bool

	ownBrokers, ownTopics, ownTopicsByID, ownBrokerConfigs, ownNodeConfigs, ownCollisions bool
	ownScram, ownACLs                                                                     bool
	owned                                                                                 map[[16]byte]bool // topics copied or created by this batch
	created                                                                               [][16]byte        // topics created by this batch
}

func newBuilder(base *Image, restoring bool) *builder {
	return &builder{img: *base, restoring: restoring, owned: map[[16]byte]bool{}}
}

func (b *builder) apply(r Record, index uint64) error {
	switch r := r.(type) {
	case *ClusterRecord:
		return b.applyCluster(r)
	case *LeaderChangeRecord:
		return b.applyLeaderChange(r)
	case *RegisterBrokerRecord:
		return b.applyRegisterBroker(r, index)
	case *BrokerFenceRecord:
		return b.applyBrokerFence(r)
	case *TopicRecord:
		return b.applyTopic(r)
	case *PartitionRecord:
		return b.applyPartition(r)
	case *RemoveTopicRecord:
		return b.applyRemoveTopic(r)
	case *ConfigRecord:
		return b.applyConfig(r)
	case *ProducerIDsRecord:
		return b.applyProducerIDs(r)
	case *PartitionChangeRecord:
		return b.applyPartitionChange(r)
	case *UnregisterBrokerRecord:
		return b.applyUnregisterBroker(r)
	case *UserScramCredentialRecord:
		return b.applyUserScramCredential(r)
	case *RemoveUserScramCredentialRecord:
		return b.applyRemoveUserScramCredential(r)
	case *AccessControlEntryRecord:
		return b.applyAccessControlEntry(r)
	case *RemoveAccessControlEntryRecord:
		return b.applyRemoveAccessControlEntry(r)
	case *ClientQuotaRecord:
		return b.applyClientQuota(r)
	case nil:
		return errorf(kerr.InvalidRequest, "nil metadata record")
	default:
		return errorf(kerr.InvalidRequest, "%s cannot be applied here", r.Type())
	}
}

// finish checks what must hold at the end of a batch: every topic it created has at least
// one partition.
func (b *builder) finish() error {
	for _, id := range b.created {
		if t := b.img.TopicsByID[id]; t != nil && len(t.Partitions) == 0 {
			return errorf(kerr.InvalidPartitions, "topic %q would have no partitions", t.Name)
		}
	}
	return nil
}

func (b *builder) applyCluster(r *ClusterRecord) error {
	switch {
	case r.ClusterID == "":
		return errorf(kerr.InvalidRequest, "empty cluster id")
	case b.img.ClusterID == "":
		b.img.ClusterID = r.ClusterID
	case b.img.ClusterID != r.ClusterID:
		return errorf(kerr.InconsistentClusterID,
			"the metadata log belongs to cluster %q, not %q", b.img.ClusterID, r.ClusterID)
	}
	return nil
}

func (b *builder) applyLeaderChange(r *LeaderChangeRecord) error {
	if r.LeaderID < 0 {
		return errorf(kerr.InvalidRequest, "leader change to invalid node id %d", r.LeaderID)
	}
	if r.Epoch < b.img.ControllerEpoch {
		return errorf(kerr.StaleControllerEpoch, "leader change to node %d in epoch %d, older than the current epoch %d",
			r.LeaderID, r.Epoch, b.img.ControllerEpoch)
	}
	b.img.ControllerID, b.img.ControllerEpoch = r.LeaderID, r.Epoch
	return nil
}

func (b *builder) applyRegisterBroker(r *RegisterBrokerRecord, index uint64) error {
	if r.NodeID < 0 {
		return errorf(kerr.InvalidRequest, "broker registration with invalid node id %d", r.NodeID)
	}
	seen := map[string]bool{}
	for _, e := range r.Endpoints {
		switch {
		case e.Listener == "":
			return errorf(kerr.InvalidRequest, "broker %d: endpoint without a listener name", r.NodeID)
		case seen[e.Listener]:
			return errorf(kerr.InvalidRequest, "broker %d: listener %s appears twice", r.NodeID, e.Listener)
		case e.Port < 0 || e.Port > 65535:
			return errorf(kerr.InvalidRequest, "broker %d: listener %s has invalid port %d", r.NodeID, e.Listener, e.Port)
		}
		seen[e.Listener] = true
	}
	epoch := int64(index)
	if b.restoring {
		epoch = r.Epoch
	} else if r.Epoch != 0 {
		return errorf(kerr.InvalidRequest, "broker %d: a registration in the log must not carry an epoch", r.NodeID)
	}
	br := &Broker{
		NodeID:        r.NodeID,
		Endpoints:     slices.Clone(r.Endpoints),
		IncarnationID: r.IncarnationID,
		Epoch:         epoch,
		Fenced:        r.Fenced,
	}
	if r.Rack != nil {
		rack := *r.Rack
		br.Rack = &rack
	}
	b.brokers()[r.NodeID] = br
	return nil
}

func (b *builder) applyBrokerFence(r *BrokerFenceRecord) error {
	old := b.img.Brokers[r.NodeID]
	if old == nil {
		return errorf(kerr.BrokerIDNotRegistered, "broker %d is not registered", r.NodeID)
	}
	br := *old
	br.Fenced = r.Fenced
	b.brokers()[r.NodeID] = &br
	return nil
}

// checkNewTopicName applies Kafka's checks on a new topic's name, in Kafka's order:
// TOPIC_ALREADY_EXISTS first, then the name rules, then the '.'/'_' collision.
func checkNewTopicName(img *Image, name string) error {
	if img.Topics[name] != nil {
		return errorf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", name)
	}
	if err := ValidateTopicName(name); err != nil {
		return err
	}
	if key := collisionKey(name); key != "" {
		if other, ok := img.collisions[key]; ok {
			return errorf(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", name, other)
		}
	}
	return nil
}

func (b *builder) applyTopic(r *TopicRecord) error {
	if err := checkNewTopicName(&b.img, r.Name); err != nil {
		return err
	}
	if r.TopicID.IsZero() {
		return errorf(kerr.InvalidRequest, "topic %q: the zero topic id is reserved", r.Name)
	}
	if t := b.img.TopicsByID[r.TopicID]; t != nil {
		return errorf(kerr.TopicAlreadyExists, "topic id %s is already used by topic %q", r.TopicID, t.Name)
	}
	t := &Topic{Name: r.Name, ID: r.TopicID}
	b.putTopic(t)
	if key := collisionKey(r.Name); key != "" {
		b.collisions()[key] = r.Name
	}
	b.created = append(b.created, r.TopicID)
	return nil
}

func (b *builder) applyPartition(r *PartitionRecord) error {
	t := b.img.TopicsByID[r.TopicID]
	if t == nil {
		return errorf(kerr.UnknownTopicID, "partition %d: unknown topic id %s", r.Partition, r.TopicID)
	}
	if int(r.Partition) != len(t.Partitions) {
		return errorf(kerr.InvalidRequest, "topic %q has %d partitions: cannot create partition %d",
			t.Name, len(t.Partitions), r.Partition)
	}
	if err := checkReplicas(&b.img, r.Replicas); err != nil {
		return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: %s", t.Name, r.Partition, err.Error())
	}
	isr := map[int32]bool{}
	for _, id := range r.ISR {
		if !slices.Contains(r.Replicas, id) || isr[id] {
			return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: ISR %v is not a set of replicas %v",
				t.Name, r.Partition, r.ISR, r.Replicas)
		}
		isr[id] = true
	}
	if r.Leader != -1 && !isr[r.Leader] {
		return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: leader %d is not in the ISR %v",
			t.Name, r.Partition, r.Leader, r.ISR)
	}
	if r.LeaderEpoch < 0 || r.PartitionEpoch < 0 {
		return errorf(kerr.InvalidRequest, "topic %q partition %d: negative epoch", t.Name, r.Partition)
	}
	t = b.ownTopic(t)
	if !b.restoring && len(r.AddingReplicas)+len(r.RemovingReplicas) > 0 {
		return errorf(kerr.InvalidRequest, "topic %q partition %d: a new partition cannot be reassigning", t.Name, r.Partition)
	}
	if err := checkReassignment(r.Replicas, r.AddingReplicas, r.RemovingReplicas); err != nil {
		return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: %s", t.Name, r.Partition, err.Error())
	}
	t.Partitions = append(t.Partitions, Partition{
		Index:            r.Partition,
		Leader:           r.Leader,
		LeaderEpoch:      r.LeaderEpoch,
		Replicas:         slices.Clone(r.Replicas),
		ISR:              slices.Clone(r.ISR),
		PartitionEpoch:   r.PartitionEpoch,
		AddingReplicas:   slices.Clone(r.AddingReplicas),
		RemovingReplicas: slices.Clone(r.RemovingReplicas),
	})
	return nil
}

func (b *builder) applyPartitionChange(r *PartitionChangeRecord) error {
	t := b.img.TopicsByID[r.TopicID]
	if t == nil {
		return errorf(kerr.UnknownTopicID, "partition %d: unknown topic id %s", r.Partition, r.TopicID)
	}
	if r.Partition < 0 || int(r.Partition) >= len(t.Partitions) {
		return errorf(kerr.UnknownTopicOrPartition, "topic %q has no partition %d", t.Name, r.Partition)
	}
	old := t.Partitions[r.Partition]
	if r.PartitionEpoch != old.PartitionEpoch {
		return errorf(kerr.InvalidUpdateVersion, "topic %q partition %d: the change was planned at partition epoch %d, and the partition is at %d",
			t.Name, r.Partition, r.PartitionEpoch, old.PartitionEpoch)
	}
	if len(r.ISR) == 0 {
		return errorf(kerr.InvalidRequest, "topic %q partition %d: empty ISR", t.Name, r.Partition)
	}
	replicas, adding, removing := old.Replicas, old.AddingReplicas, old.RemovingReplicas
	if r.Replicas != nil {
		replicas, adding, removing = r.Replicas, r.AddingReplicas, r.RemovingReplicas
		if err := checkReplicas(&b.img, replicas); err != nil {
			return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: %s", t.Name, r.Partition, err.Error())
		}
		if err := checkReassignment(replicas, adding, removing); err != nil {
			return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: %s", t.Name, r.Partition, err.Error())
		}
	} else if len(r.AddingReplicas)+len(r.RemovingReplicas) > 0 {
		return errorf(kerr.InvalidRequest, "topic %q partition %d: a reassignment needs its replica set", t.Name, r.Partition)
	}
	for i, id := range r.ISR {
		if !slices.Contains(replicas, id) || slices.Contains(r.ISR[:i], id) {
			return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: ISR %v is not a set of replicas %v",
				t.Name, r.Partition, r.ISR, replicas)
		}
	}
	if r.Leader != -1 && !slices.Contains(r.ISR, r.Leader) {
		return errorf(kerr.InvalidReplicaAssignment, "topic %q partition %d: leader %d is not in the ISR %v",
			t.Name, r.Partition, r.Leader, r.ISR)
	}
	t = b.ownTopic(t)
	p := &t.Partitions[r.Partition]
	if p.Leader != r.Leader {
		p.LeaderEpoch++
	}
	p.Leader = r.Leader
	p.ISR = slices.Clone(r.ISR)
	p.Replicas = slices.Clone(replicas)
	p.AddingReplicas, p.RemovingReplicas = slices.Clone(adding), slices.Clone(removing)
	p.PartitionEpoch++
	return nil
}

// checkReassignment checks a reassignment's lists against the replica set: both
// subsets of it, disjoint, and leaving a non-empty target.
func checkReassignment(replicas, adding, removing []int32) error {
	for _, id := range adding {
		if !slices.Contains(replicas, id) || slices.Contains(removing, id) {
			return fmt.Errorf("adding replica %d must be a replica and not being removed", id)
		}
	}
	left := 0
	for _, id := range replicas {
		if !slices.Contains(removing, id) {
			left++
		}
	}
	for _, id := range removing {
		if !slices.Contains(replicas, id) {
			return fmt.Errorf("removing replica %d is not a replica", id)
		}
	}
	if left == 0 {
		return errors.New("a reassignment must leave a replica")
	}
	return nil
}

func (b *builder) applyUnregisterBroker(r *UnregisterBrokerRecord) error {
	if b.img.Brokers[r.NodeID] == nil {
		return errorf(kerr.BrokerIDNotRegistered, "broker %d is not registered", r.NodeID)
	}
	for _, t := range b.img.Topics {
		for _, p := range t.Partitions {
			if slices.Contains(p.Replicas, r.NodeID) {
				return errorf(kerr.InvalidRequest, "broker %d still hosts %s-%d: move its replicas first", r.NodeID, t.Name, p.Index)
			}
		}
	}
	delete(b.brokers(), r.NodeID)
	return nil
}

// checkReplicas checks one partition's replica list: not empty, no broker twice, every
// broker registered. Its errors are INVALID_REPLICA_ASSIGNMENT.
func checkReplicas(img *Image, replicas []int32) error {
	if len(replicas) == 0 {
		return errorf(kerr.InvalidReplicaAssignment, "the replica list is empty")
	}
	for i, id := range replicas {
		if img.Brokers[id] == nil {
			return errorf(kerr.InvalidReplicaAssignment, "broker %d is not registered", id)
		}
		if slices.Contains(replicas[:i], id) {
			return errorf(kerr.InvalidReplicaAssignment, "broker %d appears more than once", id)
		}
	}
	return nil
}

func (b *builder) applyRemoveTopic(r *RemoveTopicRecord) error {
	t := b.img.TopicsByID[r.TopicID]
	if t == nil {
		return errorf(kerr.UnknownTopicID, "unknown topic id %s", r.TopicID)
	}
	delete(b.topics(), t.Name)
	delete(b.topicsByID(), t.ID)
	if key := collisionKey(t.Name); key != "" && b.img.collisions[key] == t.Name {
		delete(b.collisions(), key)
	}
	delete(b.owned, t.ID)
	return nil
}

func (b *builder) applyConfig(r *ConfigRecord) error {
	if r.Name == "" {
		return errorf(kerr.InvalidConfig, "empty config name")
	}
	switch r.ResourceType {
	case ConfigResourceTopic:
		t := b.img.Topics[r.ResourceName]
		if t == nil {
			return errorf(kerr.UnknownTopicOrPartition, "unknown topic %q", r.ResourceName)
		}
		t = b.ownTopic(t)
		t.Configs = setConfig(t.Configs, r.Name, r.Value)
	case ConfigResourceBroker:
		if r.ResourceName != "" {
			return b.applyNodeConfig(r)
		}
		if !b.ownBrokerConfigs {
			b.img.BrokerConfigs = maps.Clone(b.img.BrokerConfigs)
			if b.img.BrokerConfigs == nil {
				b.img.BrokerConfigs = map[string]string{}
			}
			b.ownBrokerConfigs = true
		}
		if r.Value == nil {
			delete(b.img.BrokerConfigs, r.Name)
		} else {
			b.img.BrokerConfigs[r.Name] = *r.Value
		}
	default:
		return errorf(kerr.InvalidRequest, "unsupported config resource type %d", r.ResourceType)
	}
	return nil
}

// applyNodeConfig sets or deletes one per-broker dynamic config. The resource name is the
// node id in decimal, as Kafka's BROKER resources name it; the node need not be registered
// yet (Kafka accepts configs for a broker before it joins). A node whose last config is
// deleted leaves the map, so snapshots and fresh replays agree.
func (b *builder) applyNodeConfig(r *ConfigRecord) error {
	node, err := ParseNodeID(r.ResourceName)
	if err != nil {
		return err
	}
	if !b.ownNodeConfigs {
		b.img.NodeConfigs = maps.Clone(b.img.NodeConfigs)
		if b.img.NodeConfigs == nil {
			b.img.NodeConfigs = map[int32]map[string]string{}
		}
		b.ownNodeConfigs = true
	}
	next := setConfig(b.img.NodeConfigs[node], r.Name, r.Value)
	if len(next) == 0 {
		delete(b.img.NodeConfigs, node)
	} else {
		b.img.NodeConfigs[node] = next
	}
	return nil
}

// ParseNodeID parses a BROKER config resource name as a node id: a decimal int32 of at
// least 0. Anything else is INVALID_REQUEST, as Kafka answers an unparsable broker id.
func ParseNodeID(name string) (int32, error) {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil || id < 0 {
		return 0, errorf(kerr.InvalidRequest, "broker id %q is not a valid node id", name)
	}
	return int32(id), nil
}

// setConfig returns a copy of m with name set to *value, or removed when value is nil. The
// copy is what keeps older images' config maps unchanged.
func setConfig(m map[string]string, name string, value *string) map[string]string {
	next := make(map[string]string, len(m)+1)
	maps.Copy(next, m)
	if value == nil {
		delete(next, name)
	} else {
		next[name] = *value
	}
	return next
}

func (b *builder) applyProducerIDs(r *ProducerIDsRecord) error {
	if r.First != b.img.NextProducerID || r.Next <= r.First {
		return errorf(kerr.UnknownServerError, "producer id block [%d, %d) does not start at the next free id %d",
			r.First, r.Next, b.img.NextProducerID)
	}
	b.img.NextProducerID = r.Next
	return nil
}

// The accessors below copy a map on the batch's first change to it.

func (b *builder) brokers() map[int32]*Broker {
	if !b.ownBrokers {
		b.img.Brokers = cloneMap(b.img.Brokers)
		b.ownBrokers = true
	}
	return b.img.Brokers
}

func (b *builder) topics() map[string]*Topic {
	if !b.ownTopics {
		b.img.Topics = cloneMap(b.img.Topics)
		b.ownTopics = true
	}
	return b.img.Topics
}

func (b *builder) topicsByID() map[[16]byte]*Topic {
	if !b.ownTopicsByID {
		b.img.TopicsByID = cloneMap(b.img.TopicsByID)
		b.ownTopicsByID = true
	}
	return b.img.TopicsByID
}

func (b *builder) collisions() map[string]string {
	if !b.ownCollisions {
		b.img.collisions = cloneMap(b.img.collisions)
		b.ownCollisions = true
	}
	return b.img.collisions
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m)+1)
	maps.Copy(c, m)
	return c
}

func (b *builder) putTopic(t *Topic) {
	b.topics()[t.Name] = t
	b.topicsByID()[t.ID] = t
	b.owned[t.ID] = true
}

// ownTopic returns a topic this batch may change in place: t itself if the batch created
// or already copied it, else a copy (with its own partition slice) put in its place.
func (b *builder) ownTopic(t *Topic) *Topic {
	if b.owned[t.ID] {
		return t
	}
	c := *t
	c.Partitions = slices.Clone(t.Partitions)
	b.putTopic(&c)
	return &c
}
