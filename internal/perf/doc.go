// Package perf is the workload engine behind `sluice perf`: producers and
// consumers built on franz-go's kgo client, driven at a target rate or flat
// out, with latencies counted in log-bucket histograms (hist.go) and a
// progress report every interval. The same engine drives Sluice, the null
// broker (package nullbroker) and franz-go's kfake, so their figures differ
// only in the server, never in the client.
//
// Figures are payload figures: records/s, and MB/s as 10^6 bytes of record
// values per second. Produce latency runs from the Produce call to its
// acknowledgement (monotonic clock); end to end latency from the Produce call
// to the moment a consumer in the same process polls the record (the send
// time, in Unix nanoseconds, rides in the first 8 bytes of the value).
package perf
