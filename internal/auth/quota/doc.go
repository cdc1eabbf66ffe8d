// Package quota is Kafka's client quotas as a library: the quota configuration per entity
// (user, client-id, both, or ip, each named or <default>), Kafka's order of precedence
// between them, the DescribeClientQuotas filter and the AlterClientQuotas checks, and the
// rate trackers that turn recorded usage into the throttle time a response carries.
//
// # Quotas and precedence
//
// The keys are producer_byte_rate and consumer_byte_rate (bytes per second, integral),
// request_percentage (percent of one request-handler thread's time per second) and
// controller_mutation_rate (partition creations and deletions per second) for user and
// client-id entities, and connection_creation_rate for ip entities. For a connection of
// user U with client id C, each key is looked up in Kafka's order, the first entity that
// sets it wins:
//
//	user=U,client-id=C;  user=U,client-id=<default>;  user=U;
//	user=<default>,client-id=C;  user=<default>,client-id=<default>;  user=<default>;
//	client-id=C;  client-id=<default>
//
// The winning entity also decides whose usage is counted together (Kafka's metric tags):
// a quota on a user entity counts all of U's clients together, one on a client-id entity
// all users of C together, one on a (user, client-id) entity each pair apart. So a
// <default> user quota of 1 MB/s gives every user 1 MB/s, not all users 1 MB/s together.
// The user is the principal's name ("alice" for User:alice, "ANONYMOUS" when
// unauthenticated).
//
// # Throttling
//
// Usage is kept per (key, user tag, client tag) in Kafka's sampled windows:
// quota.window.num samples (default 11) of quota.window.size.seconds (default 1). The rate
// is the sum of the samples over the time they span, counted as at least
// (quota.window.num - 1) full windows so that a new client is not judged on its first
// millisecond. When a recording takes the rate above the quota, the throttle time is the
// time for the rate to fall back to the quota with nothing more recorded:
// (rate - quota) / quota * span. The usage is recorded either way. request_percentage
// throttles are capped at one window, as in Kafka; byte-rate throttles are not.
// controller_mutation_rate is a token bucket of quota * quota.window.num *
// quota.window.size.seconds permits.
//
// # Wiring (for internal/server and internal/server/api)
//
// At start (and Update on each metadata image change):
//
//	qm := quota.NewManager(quota.Config{
//		Samples: quotaWindowNum,                                // quota.window.num
//		Window:  time.Duration(quotaWindowSizeSeconds) * time.Second, // quota.window.size.seconds
//	})
//	qm.Update(quota.NewQuotas(image.ClientQuotas()))
//
// Per request:
//
//   - Produce: after handling, t := qm.Record(quota.ProducerByteRate, user, clientID,
//     float64(requestSize)) and t2 := qm.Record(quota.RequestPercentage, user, clientID,
//     quota.RequestTimeUsage(handlerTime)); the response carries the larger, in ms, and the
//     connection reads no further request for that long after sending it (KIP-219:
//     respond, then mute). acks=0 has no response: mute only.
//   - Fetch from a consumer: t := qm.Record(quota.ConsumerByteRate, user, clientID,
//     float64(responseSize)); if t > 0, Kafka takes the bytes back (qm.Unrecord) and
//     answers an empty response with the throttle time. qm.MaxValueInWindow bounds a
//     fetch's size so that a single response cannot always be throttled.
//   - Every other request: request_percentage as above.
//   - CreateTopics v6+, CreatePartitions v3+ and DeleteTopics v5+ (strict), older versions
//     (permissive): mq := qm.ControllerMutation(user, clientID, strict), then
//     mq.Record(partitions) before each topic; an error is THROTTLING_QUOTA_EXCEEDED for that
//     topic, and the response carries mq.ThrottleTime().
//   - DescribeClientQuotas (DESCRIBE_CONFIGS on CLUSTER): Describe(quotas, req).
//   - AlterClientQuotas (ALTER_CONFIGS on CLUSTER): PlanAlter(quotas, req.Entries) gives the
//     per-entry results and the changes to write as quota records; Quotas.With applies them
//     to the image.
//
// Exemptions, as in Kafka: replica fetches never count against consumer_byte_rate, and
// request_percentage counts neither clients whose id starts with "__"
// (InternalClientIDPrefix) nor inter-broker requests (those that need CLUSTER_ACTION).
package quota
