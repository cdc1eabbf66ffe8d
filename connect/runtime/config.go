// Package runtime runs connectors: the worker that starts connectors and
// their tasks, moves records between tasks and Kafka (through franz-go,
// the Kafka protocol only), converts and transforms them, handles errors
// (retries, tolerance, logging, the dead-letter queue), stores source
// offsets and commits sink offsets. Herder is the standalone mode's
// manager of connectors and their status.
package runtime

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connect/configdef"
)

// Worker settings, with Kafka Connect's names.
const (
	BootstrapServers           = "bootstrap.servers"
	KeyConverter               = "key.converter"
	ValueConverter             = "value.converter"
	HeaderConverter            = "header.converter"
	OffsetStorageFile          = "offset.storage.file.filename"
	OffsetFlushInterval        = "offset.flush.interval.ms"
	OffsetFlushTimeout         = "offset.flush.timeout.ms"
	Listeners                  = "listeners"
	RestAdvertisedHost         = "rest.advertised.host.name"
	RestAdvertisedPort         = "rest.advertised.port"
	TaskShutdownTimeout        = "task.shutdown.graceful.timeout.ms"
	PluginPath                 = "plugin.path"
	TopicCreationEnable        = "topic.creation.enable"
	ClientConfigOverridePolicy = "connector.client.config.override.policy"
	ClientID                   = "client.id"
)

// Connector settings, with Kafka Connect's names.
const (
	Name                    = "name"
	ConnectorClass          = "connector.class"
	TasksMax                = "tasks.max"
	Transforms              = "transforms"
	Predicates              = "predicates"
	Topics                  = "topics"
	TopicsRegex             = "topics.regex"
	ErrorsRetryTimeout      = "errors.retry.timeout"
	ErrorsRetryMaxDelay     = "errors.retry.delay.max.ms"
	ErrorsTolerance         = "errors.tolerance"
	ErrorsLogEnable         = "errors.log.enable"
	ErrorsLogIncludeMessage = "errors.log.include.messages"
	DLQTopic                = "errors.deadletterqueue.topic.name"
	DLQReplicationFactor    = "errors.deadletterqueue.topic.replication.factor"
	DLQContextHeaders       = "errors.deadletterqueue.context.headers.enable"
	TopicCreationGroups     = "topic.creation.groups"
	TopicCreationDefault    = "topic.creation.default."
)

// WorkerConfig describes the standalone worker's settings. Settings with
// the prefixes producer., consumer. and admin. configure the clients
// (see ClientOptions); other unknown settings are ignored with a warning.
func WorkerConfig() *configdef.Def {
	return configdef.New(
		configdef.Key{Name: BootstrapServers, Type: configdef.List, Default: "localhost:9092", Importance: configdef.High,
			Doc: "A list of host/port pairs used to establish the initial connection to the Kafka cluster."},
		configdef.Key{Name: KeyConverter, Type: configdef.Class, Required: true, Importance: configdef.High,
			Doc: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the keys in messages written to or read from Kafka."},
		configdef.Key{Name: ValueConverter, Type: configdef.Class, Required: true, Importance: configdef.High,
			Doc: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. This controls the format of the values in messages written to or read from Kafka."},
		configdef.Key{Name: HeaderConverter, Type: configdef.Class, Default: "org.apache.kafka.connect.storage.SimpleHeaderConverter", Importance: configdef.Low,
			Doc: "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. By default, the SimpleHeaderConverter is used."},
		configdef.Key{Name: OffsetStorageFile, Type: configdef.String, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High,
			Doc: "File to store source connector offsets in."},
		configdef.Key{Name: OffsetFlushInterval, Type: configdef.Long, Default: "60000", Validator: configdef.AtLeast(1), Importance: configdef.Low,
			Doc: "Interval at which to try committing offsets for tasks."},
		configdef.Key{Name: OffsetFlushTimeout, Type: configdef.Long, Default: "5000", Validator: configdef.AtLeast(1), Importance: configdef.Low,
			Doc: "Maximum number of milliseconds to wait for records to flush and partition offset data to be committed to offset storage before cancelling the process and restoring the offset data to be committed in a future attempt."},
		configdef.Key{Name: Listeners, Type: configdef.List, Default: "http://:8083", Importance: configdef.Low,
			Doc: "List of comma-separated URIs the REST API will listen on (http only). Leave hostname empty to bind to all interfaces. Set it to the empty string to run no REST API."},
		configdef.Key{Name: RestAdvertisedHost, Type: configdef.String, Importance: configdef.Low,
			Doc: "The host name given as this worker's id; the listener's host when not set."},
		configdef.Key{Name: RestAdvertisedPort, Type: configdef.Int, Importance: configdef.Low,
			Doc: "The port given as this worker's id; the listener's port when not set."},
		configdef.Key{Name: TaskShutdownTimeout, Type: configdef.Long, Default: "5000", Validator: configdef.AtLeast(0), Importance: configdef.Low,
			Doc: "Amount of time to wait for tasks to shutdown gracefully. This is the total amount of time, not per task. All task have shutdown triggered, then they are waited on sequentially."},
		configdef.Key{Name: PluginPath, Type: configdef.List, Default: "", Importance: configdef.Low,
			Doc: "Accepted for compatibility and ignored: Sluice's plugins are compiled in (see `sluice connect plugins`)."},
		configdef.Key{Name: TopicCreationEnable, Type: configdef.Boolean, Default: "true", Importance: configdef.Low,
			Doc: "Whether to allow automatic creation of topics used by source connectors, when source connectors are configured with `topic.creation.` properties."},
		configdef.Key{Name: ClientConfigOverridePolicy, Type: configdef.String, Default: "All", Importance: configdef.Medium,
			Validator: configdef.OneOf(true, "All", "None", "Principal"),
			Doc:       "Which client settings connectors may override with producer.override.*, consumer.override.* and admin.override.*: All, None, or Principal (only sasl.jaas.config, security.protocol and sasl.mechanism)."},
		configdef.Key{Name: ClientID, Type: configdef.String, Default: "", Importance: configdef.Low,
			Doc: "Prefix of the client ids of the worker's Kafka clients."},
	)
}

// ConnectorConfig describes the settings every connector has; sink adds
// the sink settings, source the source settings.
func ConnectorConfig(sink bool) *configdef.Def {
	d := configdef.New(
		configdef.Key{Name: Name, Type: configdef.String, Required: true, Validator: configdef.NonEmpty(), Importance: configdef.High, Group: "Common",
			Doc: "Globally unique name to use for this connector."},
		configdef.Key{Name: ConnectorClass, Type: configdef.String, Required: true, Importance: configdef.High, Group: "Common",
			Doc: "Name or alias of the class for this connector, e.g. org.apache.kafka.connect.file.FileStreamSinkConnector or FileStreamSink."},
		configdef.Key{Name: TasksMax, Type: configdef.Int, Default: "1", Validator: configdef.AtLeast(1), Importance: configdef.High, Group: "Common",
			Doc: "Maximum number of tasks to use for this connector."},
		configdef.Key{Name: KeyConverter, Type: configdef.Class, Importance: configdef.Low, Group: "Common",
			Doc: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka; the worker's when not set."},
		configdef.Key{Name: ValueConverter, Type: configdef.Class, Importance: configdef.Low, Group: "Common",
			Doc: "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka; the worker's when not set."},
		configdef.Key{Name: HeaderConverter, Type: configdef.Class, Importance: configdef.Low, Group: "Common",
			Doc: "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka; the worker's when not set."},
		configdef.Key{Name: Transforms, Type: configdef.List, Default: "", Importance: configdef.Low, Group: "Transforms",
			Validator: uniqueAliases(), Doc: "Aliases for the transformations to be applied to records."},
		configdef.Key{Name: Predicates, Type: configdef.List, Default: "", Importance: configdef.Low, Group: "Predicates",
			Validator: uniqueAliases(), Doc: "Aliases for the predicates used by transformations."},
		configdef.Key{Name: ErrorsRetryTimeout, Type: configdef.Long, Default: "0", Importance: configdef.Medium, Group: "Error Handling",
			Doc: "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries."},
		configdef.Key{Name: ErrorsRetryMaxDelay, Type: configdef.Long, Default: "60000", Validator: configdef.AtLeast(1), Importance: configdef.Medium, Group: "Error Handling",
			Doc: "The maximum duration in milliseconds between consecutive retry attempts. Jitter will be added to the delay once this limit is reached to prevent thundering herd issues."},
		configdef.Key{Name: ErrorsTolerance, Type: configdef.String, Default: "none", Validator: configdef.OneOf(false, "none", "all"), Importance: configdef.Medium, Group: "Error Handling",
			Doc: "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records."},
		configdef.Key{Name: ErrorsLogEnable, Type: configdef.Boolean, Default: "false", Importance: configdef.Medium, Group: "Error Handling",
			Doc: "If true, write each error and the details of the failed operation and problematic record to the Connect application log. This is 'false' by default, so that only errors that are not tolerated are reported."},
		configdef.Key{Name: ErrorsLogIncludeMessage, Type: configdef.Boolean, Default: "false", Importance: configdef.Medium, Group: "Error Handling",
			Doc: "Whether to include in the log the Connect record that resulted in a failure. For sink records, the topic, partition, offset, and timestamp will be logged. For source records, the key and value (and their schemas), all headers, and the timestamp, Kafka topic, Kafka partition, source partition, and source offset will be logged. This is 'false' by default, which will prevent record keys, values, and headers from being written to log files."},
	)
	if sink {
		d.Define(configdef.Key{Name: Topics, Type: configdef.List, Default: "", Importance: configdef.High, Group: "Common",
			Doc: "List of topics to consume, separated by commas"})
		d.Define(configdef.Key{Name: TopicsRegex, Type: configdef.String, Default: "", Importance: configdef.High, Group: "Common",
			Doc: "Regular expression giving topics to consume. Under the hood, the regex is compiled to a regular expression. Only one of topics or topics.regex should be specified."})
		d.Define(configdef.Key{Name: DLQTopic, Type: configdef.String, Default: "", Importance: configdef.Medium, Group: "Error Handling",
			Doc: "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ."})
		d.Define(configdef.Key{Name: DLQReplicationFactor, Type: configdef.Short, Default: "3", Importance: configdef.Medium, Group: "Error Handling",
			Doc: "Replication factor used to create the dead letter queue topic when it doesn't already exist."})
		d.Define(configdef.Key{Name: DLQContextHeaders, Type: configdef.Boolean, Default: "false", Importance: configdef.Medium, Group: "Error Handling",
			Doc: "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys, all error context header keys will start with __connect.errors."})
	} else {
		d.Define(configdef.Key{Name: TopicCreationGroups, Type: configdef.List, Default: "", Importance: configdef.Low, Group: "Topic Creation",
			Doc: "Groups of configurations for topics created by source connectors. Only the default group is supported: topic.creation.default.replication.factor, topic.creation.default.partitions and other topic.creation.default.* topic settings."})
		for _, k := range exactlyOnceKeys() {
			d.Define(k)
		}
	}
	return d
}

func uniqueAliases() configdef.Validator {
	return configdef.Func("unique aliases", func(_ string, v any) error {
		seen := map[string]bool{}
		for _, a := range v.([]string) {
			if seen[a] {
				return fmt.Errorf("duplicate alias provided: %s", a)
			}
			seen[a] = true
		}
		return nil
	})
}

// prefixed returns props' entries under prefix (prefix removed).
func prefixed(props map[string]string, prefix string) map[string]string {
	return configdef.WithPrefix(props, prefix)
}

// isKnownPrefixed reports whether a worker setting is a client or
// converter setting, which WorkerConfig does not list.
func isKnownPrefixed(key string) bool {
	for _, p := range []string{"producer.", "consumer.", "admin.", "key.converter.", "value.converter.", "header.converter.",
		"rest.", "offset.", "config.providers", "metric", "access.control.", "response.http.", "listeners.", "admin.listeners"} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
