package metadata

import (
	"maps"
	"slices"
	"sort"
	"strconv"
)

// Image is the cluster metadata at one point of the log: what every node answers from.
//
// An Image is immutable once published: readers share it without locks, and must never
// modify it or anything it points to (maps, slices, topics). Each applied batch builds a
// new image that shares every map it did not change with the previous one.
type Image struct {
	// Offset is the index of the Raft log entry that produced this image (0 for the empty
	// image). Brokers report it in heartbeats to show how far they have caught up.
	Offset uint64

	ClusterID string
	// ControllerID is the node id of the active controller (the Raft leader), -1 if none
	// has been recorded yet. ControllerEpoch is its Raft term.
	ControllerID    int32
	ControllerEpoch uint64

	Brokers    map[int32]*Broker
	Topics     map[string]*Topic
	TopicsByID map[[16]byte]*Topic
	// BrokerConfigs are the cluster-wide dynamic broker configs (Kafka's entity default).
	BrokerConfigs map[string]string
	// NodeConfigs are the per-broker dynamic broker configs, by node id (Kafka's
	// `--entity-name <id>`). They override BrokerConfigs on that node only. Each node's map
	// is as immutable as the image: a change replaces it.
	NodeConfigs map[int32]map[string]string
	// NextProducerID is the first producer id not yet handed out.
	NextProducerID int64
	// ScramCredentials are the users' SCRAM credentials (scram.go), and ACLs the ACL
	// bindings (acl.go). A change replaces the map.
	ScramCredentials map[ScramKey]ScramCredential
	ACLs             map[ACL]struct{}
	// ClientQuotas are the client quotas by entity (quota.go); nil when none was set.
	ClientQuotas map[QuotaEntity]map[string]float64

	// collisions maps the '.'-to-'_' form of each topic name holding '.' or '_' to the
	// name, for Kafka's collision rule.
	collisions map[string]string
}

// Broker is a registered broker.
type Broker struct {
	NodeID        int32
	Endpoints     []Endpoint
	Rack          *string
	IncarnationID [16]byte
	// Epoch is the broker epoch: the log offset of its latest registration.
	Epoch int64
	// Fenced brokers lead and follow nothing and take no new replicas.
	Fenced bool
}

// Endpoint is one listener a broker is reachable on.
type Endpoint struct {
	Listener         string `json:"listener"`
	Host             string `json:"host"`
	Port             int32  `json:"port"`
	SecurityProtocol string `json:"securityProtocol"` // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
}

// Topic is a topic and its partitions, indexed by partition number.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []Partition
	// Configs are the topic's dynamic configs (set at creation or by AlterConfigs); the
	// broker applies its defaults for the rest.
	Configs map[string]string
}

// ReplicationFactor is the replica count of partition 0, which is how Kafka reports it.
func (t *Topic) ReplicationFactor() int16 {
	if t == nil || len(t.Partitions) == 0 {
		return 0
	}
	return int16(len(t.Partitions[0].Replicas))
}

// Partition is one partition's replica set and leadership.
type Partition struct {
	Index       int32
	Leader      int32 // -1: no leader
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	// PartitionEpoch counts every change of the partition's state.
	PartitionEpoch int32
	// AddingReplicas and RemovingReplicas describe a reassignment in progress: Replicas
	// is then the target followed by the replicas being removed. Both are empty
	// otherwise.
	AddingReplicas   []int32
	RemovingReplicas []int32
}

// Reassigning reports whether a reassignment of the partition is in progress.
func (p *Partition) Reassigning() bool { return len(p.AddingReplicas)+len(p.RemovingReplicas) > 0 }

// TargetReplicas is the replica set the partition will have once its reassignment
// completes (Replicas when none is in progress).
func (p *Partition) TargetReplicas() []int32 {
	var out []int32
	for _, id := range p.Replicas {
		if !slices.Contains(p.RemovingReplicas, id) {
			out = append(out, id)
		}
	}
	return out
}

// OriginalReplicas is the replica set the partition had before its reassignment
// started (Replicas when none is in progress).
func (p *Partition) OriginalReplicas() []int32 {
	var out []int32
	for _, id := range p.Replicas {
		if !slices.Contains(p.AddingReplicas, id) {
			out = append(out, id)
		}
	}
	return out
}

func emptyImage() *Image {
	return &Image{
		ControllerID:  -1,
		Brokers:       map[int32]*Broker{},
		Topics:        map[string]*Topic{},
		TopicsByID:    map[[16]byte]*Topic{},
		BrokerConfigs: map[string]string{},
		NodeConfigs:   map[int32]map[string]string{},
		collisions:    map[string]string{},

		ScramCredentials: map[ScramKey]ScramCredential{},
		ACLs:             map[ACL]struct{}{},
	}
}

// Topic returns the topic named name, or nil.
func (img *Image) Topic(name string) *Topic { return img.Topics[name] }

// TopicByID returns the topic with id, or nil.
func (img *Image) TopicByID(id [16]byte) *Topic { return img.TopicsByID[id] }

// Partition returns a partition of a topic, or nil when either does not exist.
func (img *Image) Partition(topic string, partition int32) *Partition {
	t := img.Topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return nil
	}
	return &t.Partitions[partition]
}

// TopicNames returns the names of all topics, sorted.
func (img *Image) TopicNames() []string {
	return slices.Sorted(maps.Keys(img.Topics))
}

// UnfencedBrokers returns the brokers that may hold replicas, sorted by node id.
func (img *Image) UnfencedBrokers() []*Broker {
	var bs []*Broker
	for _, b := range img.Brokers {
		if !b.Fenced {
			bs = append(bs, b)
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].NodeID < bs[j].NodeID })
	return bs
}

// records returns the records that rebuild img from the empty image: the body of a
// snapshot. The order matters: brokers before the partitions naming them, topics before
// their partitions and configs.
func (img *Image) records() []Record {
	var recs []Record
	if img.ClusterID != "" {
		recs = append(recs, &ClusterRecord{ClusterID: img.ClusterID})
	}
	if img.ControllerID >= 0 {
		recs = append(recs, &LeaderChangeRecord{LeaderID: img.ControllerID, Epoch: img.ControllerEpoch})
	}
	for _, id := range slices.Sorted(maps.Keys(img.Brokers)) {
		b := img.Brokers[id]
		recs = append(recs, &RegisterBrokerRecord{
			NodeID: b.NodeID, Endpoints: b.Endpoints, Rack: b.Rack,
			IncarnationID: b.IncarnationID, Fenced: b.Fenced, Epoch: b.Epoch,
		})
	}
	for _, name := range img.TopicNames() {
		t := img.Topics[name]
		recs = append(recs, &TopicRecord{Name: t.Name, TopicID: t.ID})
		for _, p := range t.Partitions {
			recs = append(recs, &PartitionRecord{
				TopicID: t.ID, Partition: p.Index, Replicas: p.Replicas, ISR: p.ISR,
				Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				AddingReplicas: p.AddingReplicas, RemovingReplicas: p.RemovingReplicas,
			})
		}
		for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
			v := t.Configs[k]
			recs = append(recs, &ConfigRecord{ResourceType: ConfigResourceTopic, ResourceName: name, Name: k, Value: &v})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(img.BrokerConfigs)) {
		v := img.BrokerConfigs[k]
		recs = append(recs, &ConfigRecord{ResourceType: ConfigResourceBroker, Name: k, Value: &v})
	}
	for _, node := range slices.Sorted(maps.Keys(img.NodeConfigs)) {
		cfgs := img.NodeConfigs[node]
		for _, k := range slices.Sorted(maps.Keys(cfgs)) {
			v := cfgs[k]
			recs = append(recs, &ConfigRecord{
				ResourceType: ConfigResourceBroker, ResourceName: strconv.Itoa(int(node)), Name: k, Value: &v,
			})
		}
	}
	if img.NextProducerID > 0 {
		recs = append(recs, &ProducerIDsRecord{BrokerID: -1, First: 0, Next: img.NextProducerID})
	}
	recs = append(recs, img.scramRecords()...)
	recs = append(recs, img.aclRecords()...)
	recs = append(recs, img.quotaRecords()...)
	return recs
}
