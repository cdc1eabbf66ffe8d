// Package api holds one file per Kafka API: each decodes nothing itself (the
// server has done that with kmsg), asks the broker's subsystems, and builds the
// response for the version the client sent. Register wires them into a Mux with
// the version ranges Sluice advertises; docs/compatibility.md mirrors them.
package api

import (
	"errors"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/config"
	"github.com/sluicehq/sluice/internal/group"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/replica"
	"github.com/sluicehq/sluice/internal/server"
	"github.com/sluicehq/sluice/internal/storage"
	"github.com/sluicehq/sluice/internal/txn"
)

// Deps is what the handlers need from the broker.
type Deps struct {
	NodeID   int32
	Config   *config.Broker
	Meta     *metadata.Store
	Replicas *replica.Manager
	PIDs     *txn.ProducerIDs
	Logger   *slog.Logger
	// Security is the connection security and the authorizer (nil: every listener is
	// PLAINTEXT and every request is allowed).
	Security *Security
	// Advertised is the host and port clients are told to reach this node
	// at, per listener name.
	Advertised map[string]HostPort
	// Logs are this node's partition logs, which DescribeLogDirs lists
	// (nil: none).
	Logs *storage.Manager
	// Fetched, when set, is told the bytes of a topic's record batches each
	// Fetch response carries (sluice_topic_bytes_out_total).
	Fetched func(topic string, bytes int)
	// Groups is the group coordinator (nil: the group APIs are not served).
	Groups *group.Coordinator
	// Txns is the transaction coordinator (nil: transactional ids are refused and
	// the transaction APIs are not served).
	Txns *txn.Coordinator
}

// HostPort is an advertised endpoint.
type HostPort struct {
	Host string
	Port int32
}

type handlers struct{ Deps }

// Register adds every API this package serves to mux.
func Register(mux *server.Mux, d Deps) {
	h := &handlers{d}
	av := RegisterApiVersions(mux)
	if d.Txns != nil {
		av.AddFeature(TransactionVersion) // transactions v2 (KIP-890)
	}
	// Produce advertises v0 so that librdkafka keeps compression on
	// (KAFKA-18659), but v0-2 requests are refused as in Kafka 4.
	mux.Register(0, 0, 13, h.produce)
	mux.Register(1, 4, 16, h.fetch)
	mux.Register(2, 1, 9, h.listOffsets)
	mux.Register(3, 0, 12, h.metadata)
	mux.Register(19, 2, 7, h.createTopics)
	mux.Register(20, 1, 6, h.deleteTopics)
	mux.Register(22, 0, 5, h.initProducerID)
	mux.Register(27, 0, 2, h.writeTxnMarkers)
	mux.Register(55, 0, 2, h.describeQuorum)
	registerSecurity(mux, h)
	registerAdmin(mux, h)
	registerGroups(mux, h)
	if d.Txns != nil {
		registerTxn(mux, h)
	}
}

// registerTxn adds the transaction APIs of the coordinator (internal/txn).
func registerTxn(mux *server.Mux, h *handlers) {
	mux.Register(24, 0, 5, h.addPartitionsToTxn)
	mux.Register(25, 0, 3, h.addOffsetsToTxn)
	mux.Register(26, 0, 5, h.endTxn)
	mux.Register(65, 0, 0, h.describeTransactions)
	mux.Register(66, 0, 1, h.listTransactions)
}

// RegisterController adds what a CONTROLLER listener serves in the Kafka protocol:
// ApiVersions and DescribeQuorum (kafka-metadata-quorum's --bootstrap-controller), and
// SaslHandshake and SaslAuthenticate for a listener with SASL (d.Security, whose Gate
// then wraps the mux). Its Raft and controller RPC traffic shares the listener
// (internal/demux).
func RegisterController(mux *server.Mux, d Deps) {
	h := &handlers{d}
	RegisterApiVersions(mux)
	mux.Register(keySaslHandshake, 0, 1, h.saslHandshake)
	mux.Register(keySaslAuthenticate, 0, 2, h.saslAuthenticate)
	mux.Register(55, 0, 2, h.describeQuorum)
}

// errCode maps an error to its Kafka error code: a *kerr.Error anywhere in
// the chain gives its code, anything else is UNKNOWN_SERVER_ERROR.
func errCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	return kerr.UnknownServerError.Code
}

// errMessage is the message to send beside a code, where the version has a
// field for it: the error's own text when it says more than the code.
func errMessage(err error) *string {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && err.Error() == ke.Error() {
		return nil
	}
	s := err.Error()
	return &s
}
