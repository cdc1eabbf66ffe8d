// OffsetFetch (key 9), versions 1-10.
//
// Behaviour: answers a group's committed offsets for the asked partitions
// (offset -1 and empty metadata where nothing is committed, or the group does
// not exist), or from v2, with null topics, every partition with an offset.
// v1 reports group errors on each partition; v2-7 in a top-level code; v8+
// asks for many groups at once, each with its own code. v5 adds the leader
// epoch, v7 require_stable (KIP-447: a partition with offsets of an open
// transaction answers UNSTABLE_OFFSET_COMMIT instead of its committed
// offset, which that transaction may still move), v9 the member id
// and epoch of KIP-848 members (classic groups ignore them), v10 names
// topics by ID (topics that no longer exist are left out of "all topics").
// Errors: INVALID_GROUP_ID, UNKNOWN_TOPIC_ID (v10), NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) offsetFetch(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.OffsetFetchRequest)
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	img := h.Meta.Image()

	if r.Version >= 8 {
		for _, rg := range r.Groups {
			resp.Groups = append(resp.Groups, h.fetchGroupOffsets(img, r, rg))
		}
		return &server.Reply{Msg: resp}
	}

	var asked []group.TopicPartitions
	if r.Topics != nil || r.Version < 2 {
		asked = make([]group.TopicPartitions, 0, len(r.Topics))
		for _, t := range r.Topics {
			asked = append(asked, group.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	var (
		got []group.FetchedTopic
		err error
	)
	if r.Group == "" {
		err = kerr.InvalidGroupID
	} else {
		got, err = h.Groups.FetchOffsets(r.Group, asked, r.RequireStable)
	}
	if err != nil {
		if r.Version >= 2 {
			resp.ErrorCode = errCode(err)
			return &server.Reply{Msg: resp}
		}
		// v1 has no top-level code: every asked partition carries it.
		got = nil
		for _, t := range asked {
			ft := group.FetchedTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				ft.Partitions = append(ft.Partitions, group.FetchedOffset{Partition: p, Offset: -1, LeaderEpoch: -1, Err: err})
			}
			got = append(got, ft)
		}
	}
	for _, t := range got {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = t.Topic
		for _, p := range t.Partitions {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
			md := p.Metadata
			op.Metadata = &md
			op.ErrorCode = groupCode(p.Err)
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

// fetchGroupOffsets answers one group of a v8+ OffsetFetch.
func (h *handlers) fetchGroupOffsets(img *metadata.Image, r *kmsg.OffsetFetchRequest, rg kmsg.OffsetFetchRequestGroup) kmsg.OffsetFetchResponseGroup {
	og := kmsg.NewOffsetFetchResponseGroup()
	og.Group = rg.Group
	if rg.Group == "" {
		og.ErrorCode = kerr.InvalidGroupID.Code
		return og
	}
	byID := r.Version >= 10
	var asked []group.TopicPartitions
	unknownIDs := make(map[int]bool)
	if rg.Topics != nil {
		asked = make([]group.TopicPartitions, 0, len(rg.Topics))
		for i, t := range rg.Topics {
			name := t.Topic
			if byID {
				if tt := img.TopicsByID[t.TopicID]; tt != nil {
					name = tt.Name
				} else {
					unknownIDs[i] = true
				}
			}
			asked = append(asked, group.TopicPartitions{Topic: name, Partitions: t.Partitions})
		}
	}
	if r.Version >= 9 && rg.MemberID != nil {
		// A consumer-protocol member fetches as itself (KIP-848).
		if err := h.Groups.CheckFetchMember(rg.Group, *rg.MemberID, rg.MemberEpoch); err != nil {
			og.ErrorCode = errCode(err)
			return og
		}
	}
	got, err := h.Groups.FetchOffsets(rg.Group, asked, r.RequireStable)
	if err != nil {
		og.ErrorCode = errCode(err)
		return og
	}
	for i, t := range got {
		ot := kmsg.NewOffsetFetchResponseGroupTopic()
		ot.Topic = t.Topic
		if byID {
			if rg.Topics != nil {
				ot.TopicID = rg.Topics[i].TopicID
				ot.Topic = ""
			} else {
				tt := img.Topics[t.Topic]
				if tt == nil {
					continue // deleted: it has no ID to be named by
				}
				ot.TopicID, ot.Topic = tt.ID, ""
			}
		}
		for _, p := range t.Partitions {
			op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch = p.Partition, p.Offset, p.LeaderEpoch
			md := p.Metadata
			op.Metadata = &md
			op.ErrorCode = groupCode(p.Err)
			if unknownIDs[i] && rg.Topics != nil {
				op.Offset, op.LeaderEpoch, op.Metadata = -1, -1, nil
				op.ErrorCode = kerr.UnknownTopicID.Code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		og.Topics = append(og.Topics, ot)
	}
	return og
}
