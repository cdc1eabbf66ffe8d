// Package admin holds end-to-end tests of Sluice's admin APIs (CreatePartitions,
// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, DeleteRecords,
// OffsetForLeaderEpoch, DescribeCluster, DescribeLogDirs, DescribeTopicPartitions)
// and of the broker's HTTP endpoints (/metrics, /healthz, /readyz). Each test starts a
// broker in-process and drives it with franz-go's kadm and kgo, or with raw kmsg
// requests at exact versions.
//
// The package has no code of its own; everything is in the _test.go files.
package admin
