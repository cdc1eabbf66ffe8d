package api

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/server"
)

// registerGroups adds FindCoordinator and the consumer-group APIs. Ranges:
// Kafka 4's minimums (KIP-896: OffsetCommit from v2, OffsetFetch from v1),
// except that FindCoordinator v0 and the v0 group APIs stay, because
// librdkafka turns consumer groups off unless they are in range; kmsg's
// maximums, every field served (v10 of OffsetCommit/OffsetFetch names topics
// by ID). Without a coordinator (Deps.Groups nil) nothing is registered.
func registerGroups(mux *server.Mux, h *handlers) {
	if h.Groups == nil {
		return
	}
	mux.Register(8, 2, 10, h.offsetCommit)
	mux.Register(9, 1, 10, h.offsetFetch)
	mux.Register(10, 0, 6, h.findCoordinator)
	mux.Register(11, 0, 9, h.joinGroup)
	mux.Register(12, 0, 4, h.heartbeat)
	mux.Register(13, 0, 5, h.leaveGroup)
	mux.Register(14, 0, 5, h.syncGroup)
	mux.Register(15, 0, 6, h.describeGroups)
	mux.Register(16, 0, 5, h.listGroups)
	mux.Register(28, 0, 5, h.txnOffsetCommit)
	mux.Register(42, 0, 3, h.deleteGroups)
	mux.Register(47, 0, 0, h.offsetDelete)
	if h.Groups.ServesConsumerProtocol() {
		mux.Register(68, 0, 1, h.consumerGroupHeartbeat)
		mux.Register(69, 0, 1, h.consumerGroupDescribe)
	}
}

// awaitReply answers with what ch brings: at once when it is already there
// (most answers), else from Reply.Then, so a JoinGroup waiting for its
// rebalance does not hold up the connection's next request. A closed
// connection or a stopping server ends the wait.
func awaitReply[T any](ch <-chan T, build func(T) *server.Reply) *server.Reply {
	select {
	case v := <-ch:
		return build(v)
	default:
	}
	return &server.Reply{Then: func(ctx context.Context) *server.Reply {
		select {
		case v := <-ch:
			return build(v)
		case <-ctx.Done():
			return &server.Reply{NoResponse: true}
		}
	}}
}

// clientHost is a member's host as Kafka shows it: a slash and the IP.
func clientHost(req *server.Request) string {
	if req.Conn == nil || req.Conn.Remote == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(req.Conn.Remote.String())
	if err != nil {
		host = req.Conn.Remote.String()
	}
	return "/" + host
}

// groupCode is the error code of a coordinator answer.
func groupCode(err error) int16 {
	if err == nil {
		return 0
	}
	return errCode(err)
}

var _ = kerr.NotCoordinator
