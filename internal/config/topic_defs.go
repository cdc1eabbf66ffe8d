package config

// Keys of the topic settings, for code that names them.
const (
	TopicCleanupPolicy               = "cleanup.policy"
	TopicCompressionType             = "compression.type"
	TopicDeleteRetentionMs           = "delete.retention.ms"
	TopicFileDeleteDelayMs           = "file.delete.delay.ms"
	TopicFlushMessages               = "flush.messages"
	TopicFlushMs                     = "flush.ms"
	TopicIndexIntervalBytes          = "index.interval.bytes"
	TopicMaxCompactionLagMs          = "max.compaction.lag.ms"
	TopicMaxMessageBytes             = "max.message.bytes"
	TopicMessageTimestampType        = "message.timestamp.type"
	TopicMessageTimestampBeforeMaxMs = "message.timestamp.before.max.ms"
	TopicMessageTimestampAfterMaxMs  = "message.timestamp.after.max.ms"
	TopicMinCleanableDirtyRatio      = "min.cleanable.dirty.ratio"
	TopicMinCompactionLagMs          = "min.compaction.lag.ms"
	TopicMinInsyncReplicas           = "min.insync.replicas"
	TopicRetentionBytes              = "retention.bytes"
	TopicRetentionMs                 = "retention.ms"
	TopicSegmentBytes                = "segment.bytes"
	TopicSegmentIndexBytes           = "segment.index.bytes"
	TopicSegmentJitterMs             = "segment.jitter.ms"
	TopicSegmentMs                   = "segment.ms"
	TopicUncleanLeaderElection       = "unclean.leader.election.enable"
)

func same(name string) []Synonym { return []Synonym{{Name: name, Scale: 1}} }

// topicDefs is the topic table. Each entry's Synonyms are the broker
// settings that supply its default, as Kafka's ServerTopicConfigSynonyms
// lists them; Default is the value when none of them is set either.
var topicDefs = []Def{
	{Name: TopicCleanupPolicy, Type: List, Default: "delete", Validator: cleanupPolicies, Importance: Medium, Synonyms: same("log.cleanup.policy"),
		Doc: "delete discards old segments by retention time or size; compact keeps the latest record of each key; both may be given."},
	{Name: TopicCompressionType, Type: String, Default: "producer", Validator: compressionTypes, Importance: Medium, Synonyms: same("compression.type"),
		Doc: "Codec batches are stored with: producer keeps the producer's codec; uncompressed, gzip, snappy, lz4 or zstd recompress."},
	{Name: "compression.gzip.level", Type: Int, Default: "-1", Validator: orMinusOne(1, 9), Importance: Medium, Synonyms: same("compression.gzip.level"),
		Doc: "gzip level when compression.type is gzip."},
	{Name: "compression.lz4.level", Type: Int, Default: "9", Validator: between(1, 17), Importance: Medium, Synonyms: same("compression.lz4.level"),
		Doc: "lz4 level when compression.type is lz4."},
	{Name: "compression.zstd.level", Type: Int, Default: "3", Validator: between(-131072, 22), Importance: Medium, Synonyms: same("compression.zstd.level"),
		Doc: "zstd level when compression.type is zstd."},
	{Name: TopicDeleteRetentionMs, Type: Long, Default: "86400000", Validator: atLeast(0), Importance: Medium, Synonyms: same("log.cleaner.delete.retention.ms"),
		Doc: "How long tombstones stay in a compacted topic, so that a consumer reading from the start sees them."},
	{Name: TopicFileDeleteDelayMs, Type: Long, Default: "60000", Validator: atLeast(0), Importance: Medium, Synonyms: same("log.segment.delete.delay.ms"),
		Doc: "How long a deleted segment's files linger before removal."},
	{Name: TopicFlushMessages, Type: Long, Default: maxLong, Validator: atLeast(1), Importance: Medium, Synonyms: same("log.flush.interval.messages"),
		Doc: "Records appended before the log is fsynced; 1 syncs every batch before it is acknowledged. By default Sluice, like Kafka, relies on replication and leaves syncing to the OS."},
	{Name: TopicFlushMs, Type: Long, Default: maxLong, Validator: atLeast(0), Importance: Medium, Synonyms: flushMsSynonyms,
		Doc: "Longest time appended records stay unsynced."},
	{Name: TopicIndexIntervalBytes, Type: Int, Default: "4096", Validator: atLeast(0), Importance: Medium, Synonyms: same("log.index.interval.bytes"),
		Doc: "Bytes of log between two offset-index entries."},
	{Name: TopicMaxCompactionLagMs, Type: Long, Default: maxLong, Validator: atLeast(1), Importance: Medium, Synonyms: same("log.cleaner.max.compaction.lag.ms"),
		Doc: "Oldest an uncompacted record may become before the log is compacted regardless of the dirty ratio."},
	{Name: TopicMaxMessageBytes, Type: Int, Default: "1048588", Validator: atLeast(0), Importance: Medium, Synonyms: same("message.max.bytes"),
		Doc: "Largest record batch (after compression) accepted; larger ones get MESSAGE_TOO_LARGE."},
	{Name: TopicMessageTimestampType, Type: String, Default: "CreateTime", Validator: timestampTypes, Importance: Medium, Synonyms: same("log.message.timestamp.type"),
		Doc: "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock."},
	{Name: TopicMessageTimestampBeforeMaxMs, Type: Long, Default: maxLong, Validator: atLeast(0), Importance: Medium, Synonyms: same("log.message.timestamp.before.max.ms"),
		Doc: "How far in the past a CreateTime timestamp may be; older batches get INVALID_TIMESTAMP."},
	{Name: TopicMessageTimestampAfterMaxMs, Type: Long, Default: "3600000", Validator: atLeast(0), Importance: Medium, Synonyms: same("log.message.timestamp.after.max.ms"),
		Doc: "How far in the future a CreateTime timestamp may be; later batches get INVALID_TIMESTAMP."},
	{Name: TopicMinCleanableDirtyRatio, Type: Double, Default: "0.5", Validator: between(0, 1), Importance: Medium, Synonyms: same("log.cleaner.min.cleanable.ratio"),
		Doc: "Dirty fraction of the log above which it is compacted."},
	{Name: TopicMinCompactionLagMs, Type: Long, Default: "0", Validator: atLeast(0), Importance: Medium, Synonyms: same("log.cleaner.min.compaction.lag.ms"),
		Doc: "Youngest a record may be and still be compacted."},
	{Name: TopicMinInsyncReplicas, Type: Int, Default: "1", Validator: atLeast(1), Importance: Medium, Synonyms: same("min.insync.replicas"),
		Doc: "Fewest in-sync replicas for an acks=all produce to succeed; fewer gives NOT_ENOUGH_REPLICAS."},
	{Name: "preallocate", Type: Bool, Default: "false", Importance: Medium, Synonyms: same("log.preallocate"),
		Doc: "Preallocate segment files."},
	{Name: TopicRetentionBytes, Type: Long, Default: "-1", Importance: Medium, Synonyms: same("log.retention.bytes"),
		Doc: "Largest size of a partition's log before old segments are deleted (delete policy); -1 means no limit."},
	{Name: TopicRetentionMs, Type: Long, Default: "604800000", Validator: atLeast(-1), Importance: Medium, Synonyms: retentionSynonyms,
		Doc: "How long a segment is kept before it is deleted (delete policy); -1 keeps it forever."},
	{Name: TopicSegmentBytes, Type: Int, Default: "1073741824", Validator: atLeast(1024 * 1024), Importance: Medium, Synonyms: same("log.segment.bytes"),
		Doc: "Size at which a segment is rolled."},
	{Name: TopicSegmentIndexBytes, Type: Int, Default: "10485760", Validator: atLeast(4), Importance: Medium, Synonyms: same("log.index.size.max.bytes"),
		Doc: "Size of a segment's offset and time indexes; a full index rolls the segment."},
	{Name: TopicSegmentJitterMs, Type: Long, Default: "0", Validator: atLeast(0), Importance: Medium, Synonyms: jitterSynonyms,
		Doc: "Largest random amount taken off segment.ms, so that many partitions do not roll at once."},
	{Name: TopicSegmentMs, Type: Long, Default: "604800000", Validator: atLeast(1), Importance: Medium, Synonyms: rollSynonyms,
		Doc: "Age at which a segment is rolled even if not full, so that retention can delete or compact it."},
	{Name: TopicUncleanLeaderElection, Type: Bool, Default: "false", Importance: Medium, Synonyms: same("unclean.leader.election.enable"),
		Doc: "Allow a replica outside the ISR to become leader, losing data. Accepted and reported; Sluice never elects uncleanly."},
	{Name: "leader.replication.throttled.replicas", Type: List, Default: "", Validator: throttledReplicas, Importance: Medium,
		Doc: "Replicas whose leader-side replication is throttled to leader.replication.throttled.rate while out of sync, as partition:broker pairs or *."},
	{Name: "follower.replication.throttled.replicas", Type: List, Default: "", Validator: throttledReplicas, Importance: Medium,
		Doc: "Replicas whose follower-side replication is throttled to follower.replication.throttled.rate while out of sync, as partition:broker pairs or *."},
}

// TopicDefs returns the topic table, sorted by name. The slice is a copy.
func TopicDefs() []Def { return sortedCopy(topicDefs) }

// TopicDef returns the definition of a topic setting.
func TopicDef(name string) (Def, bool) {
	d, ok := topicIndex[name]
	if !ok {
		return Def{}, false
	}
	return *d, true
}
