package group

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// A consumer-protocol group is stored as one record of __consumer_offsets:
// its whole state, rewritten on each change, under a key only Sluice
// writes. Kafka's own KIP-848 records (key versions 3-13) are spread over
// many keys and kmsg has no types for them; one snapshot per group is
// simpler to keep consistent, and compaction keeps only the last.
//
//	key:   int16 consumerKeyVersion, then the group name as int16 length + bytes
//	value: int16 consumerValueVersion, then the snapshot as JSON
//
// A null value is a tombstone: the group is deleted or became classic. The
// key version is far above Kafka's, so Kafka's tools skip these records
// as a kind they do not know, and this coordinator skips Kafka's.
const (
	consumerKeyVersion   int16 = 0x5300 // 'S' << 8
	consumerValueVersion int16 = 0
)

func consumerKey(group string) []byte {
	b := make([]byte, 0, 4+len(group))
	b = binary.BigEndian.AppendUint16(b, uint16(consumerKeyVersion))
	b = binary.BigEndian.AppendUint16(b, uint16(len(group)))
	return append(b, group...)
}

func decodeConsumerKey(key []byte) (string, error) {
	if len(key) < 4 {
		return "", fmt.Errorf("%w: consumer group key of %d bytes", errBadRecord, len(key))
	}
	n := int(binary.BigEndian.Uint16(key[2:]))
	if len(key) != 4+n {
		return "", fmt.Errorf("%w: consumer group key says %d name bytes, has %d", errBadRecord, n, len(key)-4)
	}
	return string(key[4:]), nil
}

// consumerSnapshot is the stored form of a consumerGroup. Fields are only
// ever added (with their zero value meaning what they meant before).
type consumerSnapshot struct {
	Epoch           int32                `json:"epoch"`
	AssignmentEpoch int32                `json:"assignment_epoch"`
	Assignor        string               `json:"assignor,omitempty"`
	SubsSig         string               `json:"subscription,omitempty"`
	Members         []consumerMemberSnap `json:"members"`
}

type consumerMemberSnap struct {
	ID               string         `json:"id"`
	InstanceID       *string        `json:"instance_id,omitempty"`
	RackID           *string        `json:"rack_id,omitempty"`
	ClientID         string         `json:"client_id,omitempty"`
	ClientHost       string         `json:"client_host,omitempty"`
	Epoch            int32          `json:"epoch"`
	PrevEpoch        int32          `json:"prev_epoch"`
	State            memberState    `json:"state"`
	RebalanceTimeout int64          `json:"rebalance_timeout_ms"`
	Topics           []string       `json:"topics,omitempty"`
	Regex            *string        `json:"regex,omitempty"`
	Assignor         string         `json:"assignor,omitempty"`
	Assigned         []topicIDParts `json:"assigned,omitempty"`
	Revoking         []topicIDParts `json:"revoking,omitempty"`
	Target           []topicIDParts `json:"target,omitempty"`
	Classic          bool           `json:"classic,omitempty"`
	SessionTimeout   int64          `json:"session_timeout_ms,omitempty"`
	Protocols        []Protocol     `json:"protocols,omitempty"`
}

type topicIDParts struct {
	Topic      [16]byte `json:"t"`
	Partitions []int32  `json:"p"`
}

func snapAssignment(a assignment) []topicIDParts {
	var out []topicIDParts
	for _, t := range sortedTopics(a) {
		if len(a[t]) > 0 {
			out = append(out, topicIDParts{Topic: t, Partitions: a[t]})
		}
	}
	return out
}

func fromSnap(ps []topicIDParts) assignment {
	a := make(assignment, len(ps))
	for _, tp := range ps {
		for _, p := range tp.Partitions {
			a.add(tp.Topic, p)
		}
	}
	return a
}

// consumerRecord is the group's current state as a record.
func (g *Group) consumerRecord() Record {
	cg := g.cg
	s := consumerSnapshot{Epoch: cg.epoch, AssignmentEpoch: cg.assignmentEpoch, Assignor: cg.assignor, SubsSig: cg.subsSig}
	for _, id := range sortedKeys(cg.members) {
		m := cg.members[id]
		s.Members = append(s.Members, consumerMemberSnap{
			ID: m.id, InstanceID: m.instanceID, RackID: m.rackID,
			ClientID: m.clientID, ClientHost: m.clientHost,
			Epoch: m.epoch, PrevEpoch: m.prevEpoch, State: m.state,
			RebalanceTimeout: m.rebalanceTimeout.Milliseconds(),
			Topics:           m.topicNames, Regex: m.regex, Assignor: m.assignor,
			Assigned: snapAssignment(m.assigned), Revoking: snapAssignment(m.revoking),
			Target:  snapAssignment(cg.target[m.id]),
			Classic: m.classic, SessionTimeout: m.sessionTimeout.Milliseconds(), Protocols: m.protocols,
		})
	}
	body, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("group: encoding a consumer group snapshot: %v", err)) // plain data: cannot fail
	}
	v := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(body)), uint16(consumerValueVersion))
	return Record{Key: consumerKey(g.name), Value: append(v, body...)}
}

func decodeConsumerValue(value []byte) (*consumerSnapshot, error) {
	if len(value) < 2 {
		return nil, fmt.Errorf("%w: consumer group value of %d bytes", errBadRecord, len(value))
	}
	if v := int16(binary.BigEndian.Uint16(value)); v != consumerValueVersion {
		return nil, fmt.Errorf("%w: consumer group value version %d", errBadRecord, v)
	}
	var s consumerSnapshot
	if err := json.Unmarshal(value[2:], &s); err != nil {
		return nil, fmt.Errorf("%w: consumer group value: %v", errBadRecord, err)
	}
	return &s, nil
}

// restoreConsumer rebuilds the consumer group from its snapshot.
func (g *Group) restoreConsumer(s *consumerSnapshot) {
	cg := newConsumerGroup()
	cg.epoch, cg.assignmentEpoch, cg.assignor, cg.subsSig = s.Epoch, s.AssignmentEpoch, s.Assignor, s.SubsSig
	for _, ms := range s.Members {
		m := &cmember{
			id: ms.ID, instanceID: ms.InstanceID, rackID: ms.RackID,
			clientID: ms.ClientID, clientHost: ms.ClientHost,
			epoch: ms.Epoch, prevEpoch: ms.PrevEpoch, state: ms.State,
			rebalanceTimeout: time.Duration(ms.RebalanceTimeout) * time.Millisecond,
			topicNames:       ms.Topics, regex: ms.Regex, assignor: ms.Assignor,
			assigned: fromSnap(ms.Assigned), revoking: fromSnap(ms.Revoking),
			classic: ms.Classic, sessionTimeout: time.Duration(ms.SessionTimeout) * time.Millisecond,
			protocols: ms.Protocols,
		}
		cg.members[m.id] = m
		if m.instanceID != nil {
			cg.static[*m.instanceID] = m.id
		}
		cg.target[m.id] = fromSnap(ms.Target)
		for _, a := range []assignment{m.assigned, m.revoking} {
			for t, ps := range a {
				for _, p := range ps {
					cg.owners[topicPart{t, p}] = m.id
				}
			}
		}
	}
	g.cg = cg
	g.protocolType = "consumer"
	g.state = Empty
	if len(cg.members) > 0 {
		g.state = Stable
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// metadataTombstones are the records that delete the group's metadata:
// the classic group's, and the consumer group's when it is one.
func (g *Group) metadataTombstones() []Record {
	recs := []Record{{Key: groupKey(g.name)}}
	if g.cg != nil {
		recs = append(recs, Record{Key: consumerKey(g.name)})
	}
	return recs
}
