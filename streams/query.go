package streams

import (
	"fmt"

	"github.com/sluicehq/sluice/streams/internal/runtime"
	"github.com/sluicehq/sluice/streams/serde"
)

// Interactive-query metadata: which instance holds what. Each instance
// advertises Config.ApplicationServer (application.server) to the group,
// and every assignment carries the whole group's host -> tasks map, so any
// instance can send a query for a key to the instance that holds it.
// Instances without an ApplicationServer are left out of the answers.

// StreamsMetadata describes one instance: its application.server (Host),
// the stores its tasks hold (and the global stores) and the source topic
// partitions of its tasks.
type StreamsMetadata = runtime.StreamsMetadata

// TopicPartition names one partition of a topic.
type TopicPartition = runtime.TopicPartition

// KeyQueryMetadata names the instance (ActiveHost, host:port) whose task
// holds a key, and the key's partition.
type KeyQueryMetadata = runtime.KeyQueryMetadata

// ErrMetadataUnavailable means the instance does not know where a store or
// key lives now: it has not had an assignment yet, or the key's task runs
// on an instance without an application.server. Retry later.
var ErrMetadataUnavailable = runtime.ErrMetadataUnavailable

// AllMetadata describes every instance of the application that advertises
// an application.server, as of this instance's last assignment.
func (a *App) AllMetadata() ([]StreamsMetadata, error) { return a.rt.AllMetadata() }

// AllMetadataForStore describes the instances that hold a part of a store.
func (a *App) AllMetadataForStore(store string) ([]StreamsMetadata, error) {
	return a.rt.AllMetadataForStore(store)
}

// QueryMetadataForKey says which instance holds key in store: the key,
// serialized with keySerde (the serde the store's input topic is keyed
// with), is placed by Kafka's default partitioner among the partitions of
// the store's source or repartition topic, as the records that fill the
// store were. For a global store it names this instance.
func QueryMetadataForKey[K any](a *App, store string, key K, keySerde serde.Serde[K]) (KeyQueryMetadata, error) {
	return a.rt.KeyMetadata(store, func(topic string, n int32) (int32, error) {
		b, err := keySerde.Serialize(topic, key)
		if err != nil {
			return 0, fmt.Errorf("serialize the key: %w", err)
		}
		return runtime.KeyPartition(b, n), nil
	})
}

// QueryMetadataForKeyWithPartitioner is QueryMetadataForKey for a store
// whose input was placed by a partitioner of the application's own (as
// WithPartitioner sets one for To and Repartition): partition is called as
// that partitioner is, with the key, no value, and the number of
// partitions, and must choose as it did.
func QueryMetadataForKeyWithPartitioner[K any](a *App, store string, key K, partition func(topic string, key K, partitions int) int) (KeyQueryMetadata, error) {
	return a.rt.KeyMetadata(store, func(topic string, n int32) (int32, error) {
		return int32(partition(topic, key, int(n))), nil
	})
}
