package config

import "sort"

// Large numeric defaults, written once.
const (
	maxInt  = "2147483647"
	maxLong = "9223372036854775807"
	minute  = 60 * 1000
	hour    = 60 * minute
)

// Keys of the settings the broker reads through typed fields. Only the keys
// that Go code names are constants; the table is the authority for the rest.
const (
	KeyNodeID                    = "node.id"
	KeyProcessRoles              = "process.roles"
	KeyListeners                 = "listeners"
	KeyAdvertisedListeners       = "advertised.listeners"
	KeyListenerSecurityProtocol  = "listener.security.protocol.map"
	KeyControllerListenerNames   = "controller.listener.names"
	KeyControllerQuorumVoters    = "controller.quorum.voters"
	KeyControllerQuorumBootstrap = "controller.quorum.bootstrap.servers"
	KeyInterBrokerListenerName   = "inter.broker.listener.name"
	KeySecurityInterBroker       = "security.inter.broker.protocol"
	KeyLogDirs                   = "log.dirs"
	KeyLogDir                    = "log.dir"
	KeyMetadataLogDir            = "metadata.log.dir"
	KeyClusterID                 = "cluster.id"
	KeyHTTPAddr                  = "http.addr"
)

// Topic-default broker keys with several units; their effective value is
// the first one set, in this order, as Kafka's LogConfig resolves them.
var (
	retentionSynonyms = []Synonym{{"log.retention.ms", 1}, {"log.retention.minutes", minute}, {"log.retention.hours", hour}}
	rollSynonyms      = []Synonym{{"log.roll.ms", 1}, {"log.roll.hours", hour}}
	jitterSynonyms    = []Synonym{{"log.roll.jitter.ms", 1}, {"log.roll.jitter.hours", hour}}
	flushMsSynonyms   = []Synonym{{"log.flush.interval.ms", 1}, {"log.flush.scheduler.interval.ms", 1}}
	logDirSynonyms    = []Synonym{{"log.dirs", 1}, {"log.dir", 1}}
)

var (
	compressionTypes = oneOf{"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}
	cleanupPolicies  = listOf{values: []string{"compact", "delete"}}
	timestampTypes   = oneOf{"CreateTime", "LogAppendTime"}
)

// brokerDefs is the broker table. Defaults follow Apache Kafka 4.x except
// where the doc says "Sluice" (the no-argument single-node start).
var brokerDefs = []Def{
	// Identity and roles.
	{Name: KeyNodeID, Type: Int, Default: "1", Validator: atLeast(0), Importance: High,
		Doc: "The id of this node, unique in the cluster. Sluice defaults to 1 so that a single node starts without settings; Kafka requires it."},
	{Name: KeyProcessRoles, Type: List, Default: "broker,controller", Validator: listOf{values: []string{"broker", "controller"}}, Importance: High,
		Doc: "The roles this node plays: broker, controller, or both (combined mode). Sluice defaults to both, for a single-node start."},
	{Name: KeyClusterID, Type: String, NoDefault: true, Validator: clusterIDValidator, Importance: Medium,
		Doc: "Sluice: the cluster id written to meta.properties when a log directory is formatted on first start (Kafka's kafka-storage format -t). Empty means a random one. A log directory that already carries another id is refused."},

	// Listeners.
	{Name: KeyListeners, Type: List, Default: "PLAINTEXT://127.0.0.1:9092", Validator: listenerList, Importance: High,
		Doc: "Comma-separated NAME://host:port the node listens on. An empty host binds every interface; port 0 picks a free port. Sluice defaults to PLAINTEXT://127.0.0.1:9092 (Kafka: PLAINTEXT://:9092). Not changeable at run time in Sluice."},
	{Name: KeyAdvertisedListeners, Type: List, NoDefault: true, Validator: listenerList, Importance: High,
		Doc: "The listeners clients are told to use, if different from listeners. Unset means listeners without the controller listeners; an empty host there is replaced by the machine's host name. 0.0.0.0 cannot be advertised."},
	{Name: KeyListenerSecurityProtocol, Type: String, Default: "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL", Validator: protocolMap, Importance: Low,
		Doc: "Maps listener names to security protocols, NAME:PROTOCOL pairs. A listener whose name is itself a protocol name needs no entry."},
	{Name: KeyControllerListenerNames, Type: List, NoDefault: true, Validator: nonEmptyList, Importance: High,
		Doc: "Names of the listeners the controller uses. A single node needs none: Sluice runs its Raft group of one without a network transport."},
	{Name: KeyControllerQuorumVoters, Type: List, Default: "", Validator: voterList, Importance: High,
		Doc: "The controller quorum, as id@host:port entries. Empty on a single node, which bootstraps a Raft group of one."},
	{Name: KeyControllerQuorumBootstrap, Type: List, Default: "", Validator: hostPortList, Importance: High,
		Doc: "host:port of controllers used to discover the quorum, as an alternative to controller.quorum.voters."},
	{Name: KeyInterBrokerListenerName, Type: String, NoDefault: true, Validator: nonEmptyString, Importance: Medium,
		Doc: "The listener brokers use to talk to each other. Unset means the listener named by security.inter.broker.protocol if there is one, else (Sluice) the first advertised listener."},
	{Name: KeySecurityInterBroker, Type: String, Default: "PLAINTEXT", Validator: oneOf(securityProtocols), Importance: Medium,
		Doc: "Security protocol between brokers, when inter.broker.listener.name is unset. Set only one of the two."},
	{Name: "broker.rack", Type: String, NoDefault: true, Importance: Medium,
		Doc: "Rack of this broker, used for rack-aware replica assignment."},
	{Name: KeyHTTPAddr, Type: String, Default: "127.0.0.1:9644", Validator: httpAddrValidator, Importance: Medium,
		Doc: "Sluice: host:port of the HTTP endpoint serving /metrics, /healthz and /readyz. Port 0 picks a free port; empty turns the endpoint off."},
	{Name: "http.pprof.enable", Type: Bool, Default: "false", Importance: Low,
		Doc: "Sluice: also serve Go's pprof profiles under /debug/pprof/ on http.addr."},

	// Storage locations.
	{Name: KeyLogDirs, Type: List, NoDefault: true, Validator: nonEmptyList, Importance: High, Synonyms: logDirSynonyms,
		Doc: "Comma-separated directories that hold the partition logs. Unset means log.dir."},
	{Name: KeyLogDir, Type: String, Default: "./sluice-data", Validator: nonEmptyString, Importance: High, Synonyms: logDirSynonyms,
		Doc: "The log directory when log.dirs is unset. Sluice defaults to ./sluice-data (Kafka: /tmp/kafka-logs)."},
	{Name: KeyMetadataLogDir, Type: String, NoDefault: true, Validator: nonEmptyString, Importance: High,
		Doc: "Directory of the metadata (Raft) log. Unset means the first log directory."},

	// Topic creation.
	{Name: "num.partitions", Type: Int, Default: "1", Validator: atLeast(1), Importance: Medium,
		Doc: "Partitions of a topic created without a partition count, including auto-created topics."},
	{Name: "default.replication.factor", Type: Int, Default: "1", Validator: atLeast(1), Importance: Medium,
		Doc: "Replication factor of a topic created without one, including auto-created topics."},
	{Name: "auto.create.topics.enable", Type: Bool, Default: "true", Importance: High,
		Doc: "Create a topic when a Metadata request that allows it names an unknown topic."},
	{Name: "delete.topic.enable", Type: Bool, Default: "true", Importance: High,
		Doc: "Allow DeleteTopics. When false, deleting a topic fails with TOPIC_DELETION_DISABLED."},

	// Requests.
	{Name: "message.max.bytes", Type: Int, Default: "1048588", Validator: atLeast(0), Importance: High, Mode: ClusterWide,
		Doc: "Largest record batch (after compression) the broker accepts; topics inherit it as max.message.bytes."},
	{Name: "socket.request.max.bytes", Type: Int, Default: "104857600", Validator: atLeast(1), Importance: High,
		Doc: "Largest request frame; a larger size prefix closes the connection."},
	{Name: "socket.send.buffer.bytes", Type: Int, Default: "102400", Importance: High,
		Doc: "SO_SNDBUF of client sockets; -1 keeps the system default."},
	{Name: "socket.receive.buffer.bytes", Type: Int, Default: "102400", Importance: High,
		Doc: "SO_RCVBUF of client sockets; -1 keeps the system default."},
	{Name: "socket.listen.backlog.size", Type: Int, Default: "50", Validator: atLeast(1), Importance: Medium,
		Doc: "Accepted for compatibility; Go's listener uses the system's backlog."},
	{Name: "connections.max.idle.ms", Type: Long, Default: "600000", Importance: Medium,
		Doc: "Close connections idle for longer than this."},
	{Name: "max.connections", Type: Int, Default: maxInt, Validator: atLeast(0), Importance: Medium,
		Doc: "Most connections the broker keeps open."},
	{Name: "max.connections.per.ip", Type: Int, Default: maxInt, Validator: atLeast(0), Importance: Medium,
		Doc: "Most connections from one IP address."},
	{Name: "max.connections.per.ip.overrides", Type: String, Default: "", Validator: connectionOverrides, Importance: Medium,
		Doc: "Per-IP or host name overrides of max.connections.per.ip, as host:count pairs (hostName:100,127.0.0.1:200)."},
	{Name: "fetch.max.bytes", Type: Int, Default: "57671680", Validator: atLeast(1024), Importance: Medium,
		Doc: "Most bytes one Fetch response carries."},
	{Name: "max.incremental.fetch.session.cache.slots", Type: Int, Default: "1000", Validator: atLeast(0), Importance: Medium,
		Doc: "Most incremental fetch sessions (KIP-227) kept."},
	{Name: "queued.max.requests", Type: Int, Default: "500", Validator: atLeast(1), Importance: High,
		Doc: "Accepted for compatibility, unused: Sluice has no shared request queue (each connection pipelines its own)."},
	{Name: "num.io.threads", Type: Int, Default: "8", Validator: atLeast(1), Importance: High,
		Doc: "Accepted for compatibility, unused: Sluice handles requests on goroutines, not a fixed thread pool."},
	{Name: "num.network.threads", Type: Int, Default: "3", Validator: atLeast(1), Importance: High,
		Doc: "Accepted for compatibility, unused: Sluice serves each connection on its own goroutines."},
	{Name: "background.threads", Type: Int, Default: "10", Validator: atLeast(1), Importance: High,
		Doc: "Accepted for compatibility, unused: background work runs on goroutines."},
	{Name: "num.recovery.threads.per.data.dir", Type: Int, Default: "2", Validator: atLeast(1), Importance: High,
		Doc: "Partitions recovered in parallel per log directory at start-up and flushed in parallel at shutdown."},

	// Log segments, retention and flushing: the broker-wide defaults of the
	// topic settings.
	{Name: "log.segment.bytes", Type: Int, Default: "1073741824", Validator: atLeast(1024 * 1024), Importance: High, Mode: ClusterWide,
		Doc: "Size at which a segment is rolled. Default of segment.bytes."},
	{Name: "log.roll.ms", Type: Long, NoDefault: true, Importance: High, Mode: ClusterWide, Synonyms: rollSynonyms,
		Doc: "Age at which a segment is rolled even if not full; overrides log.roll.hours. Default of segment.ms."},
	{Name: "log.roll.hours", Type: Int, Default: "168", Validator: atLeast(1), Importance: High, Synonyms: rollSynonyms,
		Doc: "log.roll.ms in hours."},
	{Name: "log.roll.jitter.ms", Type: Long, NoDefault: true, Importance: High, Mode: ClusterWide, Synonyms: jitterSynonyms,
		Doc: "Largest random amount taken off the roll time so segments of many partitions do not roll at once; overrides log.roll.jitter.hours. Default of segment.jitter.ms."},
	{Name: "log.roll.jitter.hours", Type: Int, Default: "0", Validator: atLeast(0), Importance: High, Synonyms: jitterSynonyms,
		Doc: "log.roll.jitter.ms in hours."},
	{Name: "log.index.size.max.bytes", Type: Int, Default: "10485760", Validator: atLeast(4), Importance: Medium, Mode: ClusterWide,
		Doc: "Size of the offset and time indexes of a segment; a full index rolls the segment. Default of segment.index.bytes."},
	{Name: "log.index.interval.bytes", Type: Int, Default: "4096", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Bytes of log between two offset-index entries. Default of index.interval.bytes."},
	{Name: "log.retention.ms", Type: Long, NoDefault: true, Importance: High, Mode: ClusterWide, Synonyms: retentionSynonyms,
		Doc: "How long to keep a segment before deleting it; -1 keeps it forever. Overrides log.retention.minutes and log.retention.hours. Default of retention.ms."},
	{Name: "log.retention.minutes", Type: Int, NoDefault: true, Importance: High, Synonyms: retentionSynonyms,
		Doc: "log.retention.ms in minutes; overrides log.retention.hours."},
	{Name: "log.retention.hours", Type: Int, Default: "168", Importance: High, Synonyms: retentionSynonyms,
		Doc: "log.retention.ms in hours."},
	{Name: "log.retention.bytes", Type: Long, Default: "-1", Importance: High, Mode: ClusterWide,
		Doc: "Largest size of a partition's log before old segments are deleted; -1 means no limit. Default of retention.bytes."},
	{Name: "log.retention.check.interval.ms", Type: Long, Default: "300000", Validator: atLeast(1), Importance: Medium,
		Doc: "How often the retention of every log is checked."},
	{Name: "log.segment.delete.delay.ms", Type: Long, Default: "60000", Validator: atLeast(0), Importance: High, Mode: ClusterWide,
		Doc: "How long a deleted segment's files linger (renamed .deleted) before removal. Default of file.delete.delay.ms."},
	{Name: "log.flush.interval.messages", Type: Long, Default: maxLong, Validator: atLeast(1), Importance: High, Mode: ClusterWide,
		Doc: "Records appended to a partition before it is fsynced. Default of flush.messages."},
	{Name: "log.flush.interval.ms", Type: Long, NoDefault: true, Importance: High, Mode: ClusterWide, Synonyms: flushMsSynonyms,
		Doc: "Longest time appended records stay unsynced; unset means log.flush.scheduler.interval.ms. Default of flush.ms."},
	{Name: "log.flush.scheduler.interval.ms", Type: Long, Default: maxLong, Importance: High, Synonyms: flushMsSynonyms,
		Doc: "How often logs are checked for a time-based flush."},
	{Name: "log.flush.offset.checkpoint.interval.ms", Type: Int, Default: "60000", Validator: atLeast(0), Importance: High,
		Doc: "How often the recovery-point checkpoint is written."},
	{Name: "log.flush.start.offset.checkpoint.interval.ms", Type: Int, Default: "60000", Validator: atLeast(0), Importance: High,
		Doc: "How often the log-start-offset checkpoint is written."},
	{Name: "log.preallocate", Type: Bool, Default: "false", Importance: Medium, Mode: ClusterWide,
		Doc: "Preallocate segment files. Default of preallocate."},
	{Name: "log.cleanup.policy", Type: List, Default: "delete", Validator: cleanupPolicies, Importance: Medium, Mode: ClusterWide,
		Doc: "delete, compact, or both. Default of cleanup.policy."},
	{Name: "log.message.timestamp.type", Type: String, Default: "CreateTime", Validator: timestampTypes, Importance: Medium, Mode: ClusterWide,
		Doc: "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock. Default of message.timestamp.type."},
	{Name: "log.message.timestamp.before.max.ms", Type: Long, Default: maxLong, Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "How far in the past a CreateTime timestamp may be before the batch is rejected. Default of message.timestamp.before.max.ms."},
	{Name: "log.message.timestamp.after.max.ms", Type: Long, Default: "3600000", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "How far in the future a CreateTime timestamp may be before the batch is rejected. Default of message.timestamp.after.max.ms."},

	// Compaction.
	{Name: "log.cleaner.enable", Type: Bool, Default: "true", Importance: Medium,
		Doc: "Run the log cleaner, which compacts topics with cleanup.policy compact."},
	{Name: "log.cleaner.threads", Type: Int, Default: "1", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Logs cleaned in parallel."},
	{Name: "log.cleaner.min.cleanable.ratio", Type: Double, Default: "0.5", Validator: between(0, 1), Importance: Medium, Mode: ClusterWide,
		Doc: "Dirty fraction of a log above which it is cleaned. Default of min.cleanable.dirty.ratio."},
	{Name: "log.cleaner.delete.retention.ms", Type: Long, Default: "86400000", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "How long tombstones are kept in compacted topics. Default of delete.retention.ms."},
	{Name: "log.cleaner.min.compaction.lag.ms", Type: Long, Default: "0", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Youngest a record may be and still be compacted. Default of min.compaction.lag.ms."},
	{Name: "log.cleaner.max.compaction.lag.ms", Type: Long, Default: maxLong, Validator: atLeast(1), Importance: Medium, Mode: ClusterWide,
		Doc: "Oldest an uncompacted record may become before its log is cleaned regardless of the dirty ratio. Default of max.compaction.lag.ms."},
	{Name: "log.cleaner.backoff.ms", Type: Long, Default: "15000", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Sleep of the cleaner when no log needs cleaning."},
	{Name: "log.cleaner.dedupe.buffer.size", Type: Long, Default: "134217728", Importance: Medium, Mode: ClusterWide,
		Doc: "Memory for the cleaner's key map, across all cleaner threads."},
	{Name: "log.cleaner.io.buffer.size", Type: Int, Default: "524288", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Memory for the cleaner's read and write buffers."},
	{Name: "log.cleaner.io.max.bytes.per.second", Type: Double, Default: "1.7976931348623157E308", Importance: Medium, Mode: ClusterWide,
		Doc: "Throttle on the cleaner's reads plus writes."},

	// Compression and replicas.
	{Name: "compression.type", Type: String, Default: "producer", Validator: compressionTypes, Importance: High, Mode: ClusterWide,
		Doc: "Codec batches are stored with: producer keeps what the producer sent; uncompressed, gzip, snappy, lz4 or zstd recompress. Default of the topic's compression.type."},
	{Name: "compression.gzip.level", Type: Int, Default: "-1", Validator: orMinusOne(1, 9), Importance: Medium, Mode: ClusterWide,
		Doc: "gzip level when the broker recompresses; -1 is the codec's default."},
	{Name: "compression.lz4.level", Type: Int, Default: "9", Validator: between(1, 17), Importance: Medium, Mode: ClusterWide,
		Doc: "lz4 level when the broker recompresses."},
	{Name: "compression.zstd.level", Type: Int, Default: "3", Validator: between(-131072, 22), Importance: Medium, Mode: ClusterWide,
		Doc: "zstd level when the broker recompresses."},
	{Name: "min.insync.replicas", Type: Int, Default: "1", Validator: atLeast(1), Importance: High, Mode: ClusterWide,
		Doc: "Fewest in-sync replicas for an acks=all produce to succeed; fewer gives NOT_ENOUGH_REPLICAS."},
	{Name: "unclean.leader.election.enable", Type: Bool, Default: "false", Importance: High, Mode: ClusterWide,
		Doc: "Allow a replica outside the ISR to become leader, losing data. Sluice never does this (DESIGN §4); the key is accepted and reported."},
	{Name: "leader.replication.throttled.rate", Type: Long, Default: "9223372036854775807", Validator: atLeast(1), Importance: Medium, Mode: ClusterWide,
		Doc: "Bytes per second this broker, as leader, sends to followers of the replicas listed in topics' leader.replication.throttled.replicas that are not in sync (reassignment traffic)."},
	{Name: "follower.replication.throttled.rate", Type: Long, Default: "9223372036854775807", Validator: atLeast(1), Importance: Medium, Mode: ClusterWide,
		Doc: "Bytes per second this broker, as follower, fetches for the replicas listed in topics' follower.replication.throttled.replicas that are not in sync."},
	{Name: "replica.lag.time.max.ms", Type: Long, Default: "30000", Importance: High,
		Doc: "A follower that has not caught up for this long leaves the ISR."},
	{Name: "replica.fetch.max.bytes", Type: Int, Default: "1048576", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Bytes per partition a follower asks for."},
	{Name: "replica.fetch.response.max.bytes", Type: Int, Default: "10485760", Validator: atLeast(0), Importance: Medium, Mode: ClusterWide,
		Doc: "Bytes per fetch response a follower asks for."},
	{Name: "replica.fetch.wait.max.ms", Type: Int, Default: "500", Importance: Medium,
		Doc: "Longest wait of a follower's fetch."},
	{Name: "replica.fetch.min.bytes", Type: Int, Default: "1", Importance: High,
		Doc: "Fewest bytes a follower's fetch waits for."},
	{Name: "replica.fetch.backoff.ms", Type: Int, Default: "1000", Validator: atLeast(0), Importance: Medium,
		Doc: "Sleep of a follower after a fetch error."},
	{Name: "replica.socket.timeout.ms", Type: Int, Default: "30000", Importance: High,
		Doc: "Network timeout of follower fetches."},
	{Name: "replica.high.watermark.checkpoint.interval.ms", Type: Long, Default: "5000", Importance: High,
		Doc: "How often the high watermarks are checkpointed to disk."},
	{Name: "num.replica.fetchers", Type: Int, Default: "1", Importance: High, Mode: ClusterWide,
		Doc: "Fetchers per source broker."},
	{Name: "auto.leader.rebalance.enable", Type: Bool, Default: "true", Importance: High,
		Doc: "Move leadership back to the preferred replica when the imbalance is large."},
	{Name: "leader.imbalance.check.interval.seconds", Type: Long, Default: "300", Validator: atLeast(1), Importance: High,
		Doc: "How often the controller checks leader balance."},
	{Name: "leader.imbalance.per.broker.percentage", Type: Int, Default: "10", Importance: High,
		Doc: "Imbalance per broker that triggers a rebalance."},

	// Controller and broker liveness.
	{Name: "broker.heartbeat.interval.ms", Type: Int, Default: "2000", Importance: Medium,
		Doc: "Interval of broker heartbeats to the controller."},
	{Name: "broker.session.timeout.ms", Type: Int, Default: "9000", Importance: Medium,
		Doc: "A broker that has not heartbeated for this long is fenced."},
	{Name: "initial.broker.registration.timeout.ms", Type: Int, Default: "60000", Importance: Medium,
		Doc: "How long a broker tries to register before giving up."},
	{Name: "controller.quorum.election.timeout.ms", Type: Int, Default: "1000", Importance: High,
		Doc: "Raft election timeout."},
	{Name: "controller.quorum.fetch.timeout.ms", Type: Int, Default: "2000", Importance: High,
		Doc: "Longest silence from the leader before a voter starts an election (Raft heartbeat timeout)."},
	{Name: "controller.quorum.election.backoff.max.ms", Type: Int, Default: "1000", Importance: High,
		Doc: "Longest back-off between elections."},
	{Name: "metadata.snapshot.threshold.entries", Type: Int, Default: "1024", Validator: atLeast(1), Importance: Low,
		Doc: "Sluice: metadata log entries since the last snapshot that make a node snapshot its metadata and trim the log (Kafka counts bytes, metadata.log.max.record.bytes.between.snapshots; hashicorp/raft counts entries)."},
	{Name: "metadata.snapshot.trailing.entries", Type: Int, Default: "1024", Validator: atLeast(1), Importance: Low,
		Doc: "Sluice: metadata log entries a snapshot leaves in the log, so that a node a little behind catches up from the log rather than from a snapshot."},
	{Name: "metadata.snapshot.check.interval.ms", Type: Int, Default: "30000", Validator: atLeast(10), Importance: Low,
		Doc: "Sluice: how often a node checks whether its metadata log has reached metadata.snapshot.threshold.entries."},

	// Internal topics: group offsets.
	{Name: "offsets.topic.num.partitions", Type: Int, Default: "50", Validator: atLeast(1), Importance: High,
		Doc: "Partitions of __consumer_offsets; do not change after it exists."},
	{Name: "offsets.topic.replication.factor", Type: Short, Default: "3", Validator: atLeast(1), Importance: High,
		Doc: "Replication factor of __consumer_offsets, at most the number of registered brokers (Sluice: so that a single node needs no setting). It is not created until that many brokers are alive."},
	{Name: "offsets.topic.segment.bytes", Type: Int, Default: "104857600", Validator: atLeast(1), Importance: High,
		Doc: "Segment size of __consumer_offsets."},
	{Name: "offsets.topic.compression.codec", Type: Int, Default: "0", Importance: High,
		Doc: "Codec of committed offsets (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)."},
	{Name: "offsets.load.buffer.size", Type: Int, Default: "5242880", Validator: atLeast(1), Importance: High,
		Doc: "Read size when loading offsets into the coordinator."},
	{Name: "offsets.retention.minutes", Type: Int, Default: "10080", Validator: atLeast(1), Importance: High,
		Doc: "How long the committed offsets of an empty group are kept."},
	{Name: "offsets.retention.check.interval.ms", Type: Long, Default: "600000", Validator: atLeast(1), Importance: High,
		Doc: "How often stale offsets are looked for."},
	{Name: "offsets.commit.timeout.ms", Type: Int, Default: "5000", Validator: atLeast(1), Importance: High,
		Doc: "Longest wait for an offset commit to be replicated."},

	// Groups.
	{Name: "group.min.session.timeout.ms", Type: Int, Default: "6000", Importance: Medium,
		Doc: "Smallest session timeout a classic-group member may ask for."},
	{Name: "group.max.session.timeout.ms", Type: Int, Default: "1800000", Importance: Medium,
		Doc: "Largest session timeout a classic-group member may ask for."},
	{Name: "group.initial.rebalance.delay.ms", Type: Int, Default: "3000", Importance: Medium,
		Doc: "How long a new classic group waits for more members before its first rebalance."},
	{Name: "group.max.size", Type: Int, Default: maxInt, Validator: atLeast(1), Importance: Medium,
		Doc: "Most members of one classic group."},
	{Name: "group.coordinator.rebalance.protocols", Type: List, Default: "classic,consumer", Validator: listOf{values: []string{"classic", "consumer", "share", "streams"}}, Importance: Medium,
		Doc: "Group protocols the coordinator serves."},
	{Name: "group.consumer.session.timeout.ms", Type: Int, Default: "45000", Validator: atLeast(1), Importance: Medium,
		Doc: "Session timeout of consumer-protocol (KIP-848) members."},
	{Name: "group.consumer.min.session.timeout.ms", Type: Int, Default: "45000", Validator: atLeast(1), Importance: Medium,
		Doc: "Smallest session timeout of consumer-protocol members."},
	{Name: "group.consumer.max.session.timeout.ms", Type: Int, Default: "60000", Validator: atLeast(1), Importance: Medium,
		Doc: "Largest session timeout of consumer-protocol members."},
	{Name: "group.consumer.heartbeat.interval.ms", Type: Int, Default: "5000", Validator: atLeast(1), Importance: Medium,
		Doc: "Heartbeat interval of consumer-protocol members."},
	{Name: "group.consumer.min.heartbeat.interval.ms", Type: Int, Default: "5000", Validator: atLeast(1), Importance: Medium,
		Doc: "Smallest heartbeat interval of consumer-protocol members."},
	{Name: "group.consumer.max.heartbeat.interval.ms", Type: Int, Default: "15000", Validator: atLeast(1), Importance: Medium,
		Doc: "Largest heartbeat interval of consumer-protocol members."},
	{Name: "group.consumer.max.size", Type: Int, Default: maxInt, Validator: atLeast(1), Importance: Medium,
		Doc: "Most members of one consumer-protocol group."},
	{Name: "group.consumer.migration.policy", Type: String, Default: "bidirectional", Validator: oneOf{"disabled", "upgrade", "downgrade", "bidirectional"}, Importance: Medium,
		Doc: "Whether a classic group with members upgrades to the consumer protocol when a consumer-protocol member joins, and a consumer group whose last consumer-protocol member left downgrades to the classic protocol."},
	{Name: "group.consumer.assignors", Type: List, Default: "uniform,range", Validator: listOf{values: []string{"uniform", "range"}}, Importance: Medium,
		Doc: "Server-side assignors of consumer-protocol groups; the first is the default."},

	// Transactions and producer ids.
	{Name: "transaction.state.log.num.partitions", Type: Int, Default: "50", Validator: atLeast(1), Importance: High,
		Doc: "Partitions of __transaction_state; do not change after it exists."},
	{Name: "transaction.state.log.replication.factor", Type: Short, Default: "3", Validator: atLeast(1), Importance: High,
		Doc: "Replication factor of __transaction_state. It is not created until that many brokers are alive."},
	{Name: "transaction.state.log.segment.bytes", Type: Int, Default: "104857600", Validator: atLeast(1), Importance: High,
		Doc: "Segment size of __transaction_state."},
	{Name: "transaction.state.log.min.isr", Type: Int, Default: "2", Validator: atLeast(1), Importance: High,
		Doc: "min.insync.replicas of __transaction_state."},
	{Name: "transaction.state.log.load.buffer.size", Type: Int, Default: "5242880", Validator: atLeast(1), Importance: High,
		Doc: "Read size when loading transaction state."},
	{Name: "transactional.id.expiration.ms", Type: Int, Default: "604800000", Validator: atLeast(1), Importance: High,
		Doc: "A transactional id unused for this long is expired."},
	{Name: "transaction.max.timeout.ms", Type: Int, Default: "900000", Validator: atLeast(1), Importance: High,
		Doc: "Largest transaction timeout a producer may ask for."},
	{Name: "transaction.abort.timed.out.transaction.cleanup.interval.ms", Type: Int, Default: "10000", Validator: atLeast(1), Importance: Low,
		Doc: "How often timed-out transactions are rolled back."},
	{Name: "transaction.remove.expired.transaction.cleanup.interval.ms", Type: Int, Default: "3600000", Validator: atLeast(1), Importance: Low,
		Doc: "How often expired transactional ids are removed."},
	{Name: "transaction.partition.verification.enable", Type: Bool, Default: "true", Importance: Low, Mode: ClusterWide,
		Doc: "Check that a partition was added to the transaction before accepting a transactional write."},
	{Name: "producer.id.expiration.ms", Type: Int, Default: "86400000", Validator: atLeast(1), Importance: Low, Mode: ClusterWide,
		Doc: "A producer id without writes for this long is forgotten, with its sequence state."},
	{Name: "producer.id.expiration.check.interval.ms", Type: Int, Default: "600000", Validator: atLeast(1), Importance: Low,
		Doc: "How often expired producer ids are looked for."},

	// Security (security.go): TLS, SASL, ACLs and quotas. The ssl.* and
	// sasl.enabled.mechanisms settings may also be given per listener, as
	// listener.name.<listener>.<setting>, which wins over the plain one.
	{Name: "ssl.keystore.type", Type: String, NoDefault: true, Importance: Medium,
		Doc: "Format of the keystore: PEM or PKCS12. Unset means PEM in Sluice (Kafka: JKS, which Sluice cannot read; convert it with keytool -importkeystore -deststoretype PKCS12)."},
	{Name: "ssl.keystore.location", Type: String, NoDefault: true, Importance: High,
		Doc: "The node's certificate and key: a PEM file holding the private key and the certificate chain (leaf first), or a PKCS12 file."},
	{Name: "ssl.keystore.password", Type: Password, NoDefault: true, Importance: High,
		Doc: "Password of a PKCS12 keystore."},
	{Name: "ssl.key.password", Type: Password, NoDefault: true, Importance: High,
		Doc: "Password of an encrypted private key. Not supported by Sluice: use an unencrypted PEM key or a PKCS12 store."},
	{Name: "ssl.keystore.certificate.chain", Type: Password, NoDefault: true, Importance: High,
		Doc: "The certificate chain in PEM, inline, with ssl.keystore.key (instead of ssl.keystore.location)."},
	{Name: "ssl.keystore.key", Type: Password, NoDefault: true, Importance: High,
		Doc: "The private key in PEM (PKCS#8 or PKCS#1), inline, with ssl.keystore.certificate.chain."},
	{Name: "ssl.truststore.type", Type: String, NoDefault: true, Importance: Medium,
		Doc: "Format of the truststore: PEM or PKCS12. Unset means PEM in Sluice (Kafka: JKS)."},
	{Name: "ssl.truststore.location", Type: String, NoDefault: true, Importance: High,
		Doc: "The CA certificates that sign client certificates (ssl.client.auth): a PEM file or a PKCS12 store. Unset means the system's roots."},
	{Name: "ssl.truststore.password", Type: Password, NoDefault: true, Importance: High,
		Doc: "Password of a PKCS12 truststore."},
	{Name: "ssl.truststore.certificates", Type: Password, NoDefault: true, Importance: High,
		Doc: "The trusted CA certificates in PEM, inline (instead of ssl.truststore.location)."},
	{Name: "ssl.client.auth", Type: String, Default: "none", Validator: oneOf{"required", "requested", "none"}, Importance: Medium,
		Doc: "Whether TLS clients must (required) or may (requested) present a certificate signed by the truststore. A client's certificate gives its principal."},
	{Name: "ssl.enabled.protocols", Type: List, Default: "TLSv1.2,TLSv1.3", Validator: listOf{values: []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}}, Importance: Medium,
		Doc: "TLS versions accepted; Sluice needs a contiguous range of them."},
	{Name: "ssl.cipher.suites", Type: List, Default: "", Importance: Low,
		Doc: "TLS 1.2 cipher suites by IANA name; empty means Go's defaults. TLS 1.3 suites are always on."},
	{Name: "ssl.endpoint.identification.algorithm", Type: String, Default: "https", Importance: Low,
		Doc: "For Sluice's own TLS clients: https checks the server's host name against its certificate; empty checks only the chain."},
	{Name: "ssl.principal.mapping.rules", Type: String, Default: "DEFAULT", Importance: Low,
		Doc: "Rules mapping a client certificate's distinguished name (RFC 2253) to a principal name: DEFAULT, or RULE:pattern/replacement/[LU] entries separated by commas."},
	{Name: "sasl.enabled.mechanisms", Type: List, Default: "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", Validator: listOf{values: []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, allowEmpty: true}, Importance: Medium,
		Doc: "SASL mechanisms served on SASL_PLAINTEXT and SASL_SSL listeners. Sluice defaults to PLAIN,SCRAM-SHA-256,SCRAM-SHA-512 (Kafka: GSSAPI, which Sluice lacks). PLAIN checks listener.name.<listener>.plain.sasl.jaas.config's user_<name> options, then the SCRAM credentials."},
	{Name: "sasl.mechanism.inter.broker.protocol", Type: String, Default: "PLAIN", Validator: oneOf{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, Importance: Medium,
		Doc: "SASL mechanism a broker authenticates with on a SASL_PLAINTEXT or SASL_SSL inter-broker listener, with the username and password options of that listener's listener.name.<listener>.<mechanism>.sasl.jaas.config. Sluice defaults to PLAIN (Kafka: GSSAPI, which Sluice lacks)."},
	{Name: "sasl.mechanism.controller.protocol", Type: String, Default: "PLAIN", Validator: oneOf{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}, Importance: Medium,
		Doc: "SASL mechanism a node authenticates with on a SASL_PLAINTEXT or SASL_SSL controller listener, with the username and password options of that listener's listener.name.<listener>.<mechanism>.sasl.jaas.config. Sluice defaults to PLAIN (Kafka: GSSAPI, which Sluice lacks). The controllers check it against their own users of that config: SCRAM credentials live in the metadata log, which a controller may not have yet."},
	{Name: "connections.max.reauth.ms", Type: Long, Default: "0", Validator: atLeast(0), Importance: Medium,
		Doc: "Longest SASL session: a client must re-authenticate (KIP-368) within this time, or its connection is closed at its next request. 0 means sessions never expire."},
	{Name: "connection.failed.authentication.delay.ms", Type: Int, Default: "100", Validator: atLeast(0), Importance: Low,
		Doc: "How long a failed authentication's answer and connection close are delayed, to slow password guessing."},
	{Name: "authorizer.class.name", Type: String, Default: "", Importance: Low,
		Doc: "Any non-empty value (org.apache.kafka.metadata.authorizer.StandardAuthorizer) turns on ACL checks with ACLs kept in the metadata log; empty allows every request and answers the ACL APIs with SECURITY_DISABLED."},
	{Name: "super.users", Type: String, Default: "", Importance: Medium,
		Doc: "Principals allowed everything, separated by semicolons: User:admin;User:CN=ops,O=example."},
	{Name: "allow.everyone.if.no.acl.found", Type: Bool, Default: "false", Importance: Medium,
		Doc: "With an authorizer, allow an action on a resource that no ACL applies to."},
	{Name: "quota.window.num", Type: Int, Default: "11", Validator: atLeast(1), Importance: Low,
		Doc: "Number of samples kept for client quota rates."},
	{Name: "quota.window.size.seconds", Type: Int, Default: "1", Validator: atLeast(1), Importance: Low,
		Doc: "Length of one client quota sample."},
}

// BrokerDefs returns the broker table, sorted by name. The slice is a copy.
func BrokerDefs() []Def { return sortedCopy(brokerDefs) }

func sortedCopy(defs []Def) []Def {
	out := append([]Def(nil), defs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// defIndex maps names to definitions.
type defIndex map[string]*Def

func indexDefs(defs []Def) defIndex {
	m := make(defIndex, len(defs))
	for i := range defs {
		m[defs[i].Name] = &defs[i]
	}
	return m
}

var (
	brokerIndex = indexDefs(brokerDefs)
	topicIndex  = indexDefs(topicDefs)
)

// BrokerDef returns the definition of a broker setting.
func BrokerDef(name string) (Def, bool) {
	d, ok := brokerIndex[name]
	if !ok {
		return Def{}, false
	}
	return *d, true
}
