// Package distributed runs Kafka Connect workers in distributed mode, as
// Kafka's connect-distributed: workers with the same group.id form a group
// through the Kafka group protocol (protocol type "connect"), the leader
// spreads connectors and tasks over them with incremental cooperative
// assignment, and connector configs, source offsets and statuses live in
// three compacted topics, named and keyed as Kafka Connect names and keys
// them. Connectors are managed through the REST API; writes sent to any
// worker are forwarded to the leader, which alone writes the config topic.
//
// The worker is a Kafka client only: it talks to the brokers through
// franz-go, so it works against any Kafka cluster.
package distributed

import (
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/runtime"
)

// Distributed worker settings, with Kafka Connect's names.
const (
	GroupID                     = "group.id"
	ConfigTopic                 = "config.storage.topic"
	ConfigReplicationFactor     = "config.storage.replication.factor"
	OffsetTopic                 = "offset.storage.topic"
	OffsetReplicationFactor     = "offset.storage.replication.factor"
	OffsetPartitions            = "offset.storage.partitions"
	StatusTopic                 = "status.storage.topic"
	StatusReplicationFactor     = "status.storage.replication.factor"
	StatusPartitions            = "status.storage.partitions"
	SessionTimeout              = "session.timeout.ms"
	HeartbeatInterval           = "heartbeat.interval.ms"
	RebalanceTimeout            = "rebalance.timeout.ms"
	ScheduledRebalanceMaxDelay  = "scheduled.rebalance.max.delay.ms"
	WorkerSyncTimeout           = "worker.sync.timeout.ms"
	ConnectProtocol             = "connect.protocol"
	ExactlyOnceSourceSupport    = "exactly.once.source.support"
	InterWorkerKeyGenerationAlg = "inter.worker.key.generation.algorithm"
)

// Values of exactly.once.source.support.
const (
	eosDisabled  = "disabled"
	eosPreparing = "preparing"
	eosEnabled   = "enabled"
)

// WorkerConfig describes a distributed worker's settings: the standalone
// worker's, without the offsets file, and the group's.
func WorkerConfig() *configdef.Def {
	d := runtime.WorkerConfig()
	d.Define(configdef.Key{Name: runtime.OffsetStorageFile, Type: configdef.String, Default: "", Importance: configdef.Low,
		Doc: "Not used by a distributed worker: source offsets live in offset.storage.topic."})
	for _, k := range []configdef.Key{
		{Name: GroupID, Type: configdef.String, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "A unique string that identifies the Connect cluster group this worker belongs to."},
		{Name: ConfigTopic, Type: configdef.String, Default: "connect-configs", Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "The name of the Kafka topic where connector configurations are stored (one partition, compacted; created when missing)."},
		{Name: ConfigReplicationFactor, Type: configdef.Short, Default: "3", Importance: configdef.Low,
			Doc: "Replication factor used when creating the configuration storage topic; -1 for the broker's default."},
		{Name: OffsetTopic, Type: configdef.String, Default: "connect-offsets", Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "The name of the Kafka topic where source connector offsets are stored (compacted; created when missing)."},
		{Name: OffsetReplicationFactor, Type: configdef.Short, Default: "3", Importance: configdef.Low,
			Doc: "Replication factor used when creating the offset storage topic; -1 for the broker's default."},
		{Name: OffsetPartitions, Type: configdef.Int, Default: "25", Validator: configdef.AtLeast(1), Importance: configdef.Low,
			Doc: "The number of partitions used when creating the offset storage topic."},
		{Name: StatusTopic, Type: configdef.String, Default: "connect-status", Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "The name of the Kafka topic where connector and task status are stored (compacted; created when missing)."},
		{Name: StatusReplicationFactor, Type: configdef.Short, Default: "3", Importance: configdef.Low,
			Doc: "Replication factor used when creating the status storage topic; -1 for the broker's default."},
		{Name: StatusPartitions, Type: configdef.Int, Default: "5", Validator: configdef.AtLeast(1), Importance: configdef.Low,
			Doc: "The number of partitions used when creating the status storage topic."},
		{Name: SessionTimeout, Type: configdef.Int, Default: "10000", Validator: configdef.AtLeast(1), Importance: configdef.High,
			Doc: "The timeout used to detect worker failures: a worker that sends no heartbeat for this long is removed from the group."},
		{Name: HeartbeatInterval, Type: configdef.Int, Default: "3000", Validator: configdef.AtLeast(1), Importance: configdef.High,
			Doc: "The expected time between heartbeats to the group coordinator."},
		{Name: RebalanceTimeout, Type: configdef.Int, Default: "60000", Validator: configdef.AtLeast(1), Importance: configdef.High,
			Doc: "The maximum allowed time for each worker to join the group once a rebalance has begun."},
		{Name: ScheduledRebalanceMaxDelay, Type: configdef.Int, Default: "300000", Validator: configdef.AtLeast(0), Importance: configdef.Medium,
			Doc: "The maximum delay that is scheduled in order to wait for the return of one or more departed workers before rebalancing and reassigning their connectors and tasks to the group."},
		{Name: WorkerSyncTimeout, Type: configdef.Int, Default: "3000", Validator: configdef.AtLeast(1), Importance: configdef.Medium,
			Doc: "When the worker is out of sync with other workers and needs to resynchronize configurations, wait up to this amount of time before giving up and rejoining the group."},
		{Name: ConnectProtocol, Type: configdef.String, Default: "sessioned", Validator: configdef.OneOf(true, "eager", "compatible", "sessioned"), Importance: configdef.Low,
			Doc: "Accepted for compatibility: Sluice's workers always speak the incremental cooperative protocol \"compatible\"."},
		{Name: ExactlyOnceSourceSupport, Type: configdef.String, Default: "disabled", Validator: configdef.OneOf(true, eosDisabled, eosPreparing, eosEnabled), Importance: configdef.High,
			Doc: "Whether to enable exactly-once support for source connectors in the cluster by using transactions to write source records and their source offsets, and by proactively fencing out old task generations before bringing up new ones. To enable exactly-once source support on a new cluster, set this property to 'enabled'. To enable support on an existing cluster, first set to 'preparing' on every worker in the cluster, then set to 'enabled'."},
		{Name: InterWorkerKeyGenerationAlg, Type: configdef.String, Default: "HmacSHA256", Importance: configdef.Low,
			Doc: "Accepted for compatibility: internal requests between workers are not signed."},
	} {
		d.Define(k)
	}
	return d
}
