// DeleteTopics (key 20), versions 1-6.
//
// Behaviour: deletes topics through the metadata log, by name (v1-5) or, from
// v6, by name or topic ID; every broker then deletes the partitions' logs.
// Errors: UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID, TOPIC_DELETION_DISABLED
// (delete.topic.enable=false), INVALID_REQUEST (v6: both or neither of name
// and ID), TOPIC_AUTHORIZATION_FAILED without DELETE on the topic (with an authorizer).
package api

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func (h *handlers) deleteTopics(ctx context.Context, req *server.Request) *server.Reply {
	r := req.Msg.(*kmsg.DeleteTopicsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)

	topics := r.Topics
	if r.Version < 6 {
		topics = make([]kmsg.DeleteTopicsRequestTopic, len(r.TopicNames))
		for i := range r.TopicNames {
			topics[i] = kmsg.NewDeleteTopicsRequestTopic()
			topics[i].Topic = &r.TopicNames[i]
		}
	}
	for _, rt := range topics {
		ot := kmsg.NewDeleteTopicsResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		if name := topicNameOr(h.Meta.Image().TopicsByID[rt.TopicID], rt.Topic); name != "" &&
			!h.authorized(req, kmsg.ACLOperationDelete, kmsg.ACLResourceTypeTopic, name) {
			ot.ErrorCode = kerr.TopicAuthorizationFailed.Code
		} else if err := h.deleteTopic(ctx, &rt, &ot); err != nil {
			ot.ErrorCode = errCode(err)
			ot.ErrorMessage = errMessage(err)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return &server.Reply{Msg: resp}
}

func (h *handlers) deleteTopic(ctx context.Context, rt *kmsg.DeleteTopicsRequestTopic, ot *kmsg.DeleteTopicsResponseTopic) error {
	if !h.Config.DeleteTopicEnable {
		return fmt.Errorf("%w: topic deletion is disabled (delete.topic.enable=false)", kerr.TopicDeletionDisabled)
	}
	img := h.Meta.Image()
	var zero [16]byte
	switch {
	case rt.Topic != nil && rt.TopicID != zero:
		return fmt.Errorf("%w: give a topic's name or its ID, not both", kerr.InvalidRequest)
	case rt.Topic != nil:
		t, ok := img.Topics[*rt.Topic]
		if !ok {
			return kerr.UnknownTopicOrPartition
		}
		ot.TopicID = t.ID
		return h.Meta.DeleteTopic(ctx, t.ID)
	case rt.TopicID != zero:
		t, ok := img.TopicsByID[rt.TopicID]
		if !ok {
			return kerr.UnknownTopicID
		}
		name := t.Name
		ot.Topic = &name
		return h.Meta.DeleteTopic(ctx, t.ID)
	}
	return fmt.Errorf("%w: a topic needs a name or an ID", kerr.InvalidRequest)
}
