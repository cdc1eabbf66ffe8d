// Package groups848 tests KIP-848 consumer groups (issue 13) as a user sees them: real
// bin/sluice processes, started and killed by the chaos harness's process manager
// (test/chaos), and franz-go consumers that opt into the consumer protocol
// (kgo.ServerSideBalancer with the cooperative-sticky balancer, which asks the broker for
// its "uniform" assignor).
//
//   - TestJoinLeaveNoDoubleOwnership: members join a 12-partition group one by one and
//     then leave one by one while records flow. From every member's partition callbacks
//     and every record it consumed, the test checks that no partition is owned or
//     consumed by two members at once, that every acknowledged record is consumed, that a
//     partition handed over cleanly (revoked with its offsets committed) resumes exactly
//     where its previous owner stopped, that only the partitions a join or leave needs to
//     move move, and how long the partitions that did not move went without being
//     consumed while the group reconciled.
//   - TestJoinLeaveClassicControl: the same on the classic protocol (cooperative-sticky),
//     which promises the same: a control for the checks, and figures to compare.
//   - TestCoordinatorFailoverMidRebalance: on three nodes, the group's coordinator is
//     killed with SIGKILL while members are revoking partitions after a join; the group
//     must recover on another broker with its members and assignments, and no committed
//     offset may go backwards or be lost.
//   - TestRegexBrokerResolves: on three nodes, a member subscribed by regex has it
//     resolved by the coordinator, __consumer_offsets included: franz-go's
//     Test848RegexBrokerResolves, without the race that keeps it to one broker.
//   - BenchmarkGroupConverge: how long a 100-member group takes to converge after 10
//     more members join, the classic protocol (cooperative-sticky) against KIP-848
//     (uniform), with the same heartbeat interval.
//
// Every test fails, rather than skips, when the group it built is not a KIP-848 group:
// franz-go silently falls back to the classic protocol when the broker does not offer
// ConsumerGroupHeartbeat v1.
//
// The tests run the binary in $SLUICE_BIN, or bin/sluice (make build).
package groups848
