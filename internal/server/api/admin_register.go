package api

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// registerAdmin adds the admin APIs (CreatePartitions, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs, DeleteRecords, OffsetForLeaderEpoch,
// DescribeCluster, DescribeLogDirs, DescribeTopicPartitions, ElectLeaders,
// AlterPartitionReassignments, ListPartitionReassignments, UnregisterBroker). Minimum
// versions are Apache Kafka 4's (KIP-896); maximums are the highest kmsg
// knows, each of whose fields is served (see each file's opening comment).
func registerAdmin(mux *server.Mux, h *handlers) {
	mux.Register(21, 0, 2, h.deleteRecords)
	mux.Register(23, 2, 4, h.offsetForLeaderEpoch)
	mux.Register(32, 1, 4, h.describeConfigs)
	mux.Register(33, 0, 2, h.alterConfigs)
	mux.Register(35, 1, 5, h.describeLogDirs)
	mux.Register(37, 0, 3, h.createPartitions)
	mux.Register(43, 0, 2, h.electLeaders)
	mux.Register(44, 0, 1, h.incrementalAlterConfigs)
	mux.Register(45, 0, 1, h.alterPartitionReassignments)
	mux.Register(46, 0, 0, h.listPartitionReassignments)
	mux.Register(60, 0, 2, h.describeCluster)
	mux.Register(61, 0, 0, h.describeProducers)
	mux.Register(64, 0, 0, h.unregisterBroker)
	mux.Register(75, 0, 0, h.describeTopicPartitions)
}

// kafkaErr is a Kafka error code with the message Kafka would send beside
// it: the response's ErrorMessage carries only the message, the code goes in
// ErrorCode.
func kafkaErr(code *kerr.Error, format string, args ...any) error {
	return &metadata.Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
