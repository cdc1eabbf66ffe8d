package api

import "github.com/sluicehq/sluice/internal/server"

// registerAdmin adds the admin APIs (CreatePartitions, DescribeConfigs,
// AlterConfigs, IncrementalAlterConfigs, DeleteRecords, OffsetForLeaderEpoch,
// DescribeCluster, DescribeLogDirs, DescribeTopicPartitions).
func registerAdmin(mux *server.Mux, h *handlers) {}
