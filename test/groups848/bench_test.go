package groups848

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/test/chaos"
)

// Sizes of BenchmarkGroupConverge.
const (
	convergeMembers    = 100
	convergeJoiners    = 10
	convergePartitions = 2 * (convergeMembers + convergeJoiners) // two each once converged
)

// BenchmarkGroupConverge measures how long a group of 100 members takes to converge
// after 10 more join at once, on the classic protocol (franz-go's cooperative-sticky
// balancer, two rebalances) and on KIP-848 (the broker's "uniform" assignor), against
// one broker. Each iteration builds a new group of 100 members on a 220-partition topic
// and waits until it has converged and every member has heartbeated twice more, and
// for a random part of a heartbeat interval (untimed), then starts 10 more members; converged
// means every member owns, by its own callbacks, exactly its final share (two
// partitions), and every partition is owned once. The figure is the time from starting
// the 10 clients to the end of the last partition callback that made it so
// (ms/converge, also ns/op up to the wait's 20 ms polling).
//
// Both protocols heartbeat at the same interval: $SLUICE_BENCH_HEARTBEAT_MS (default
// 1000), given to the classic members as heartbeat.interval.ms and to the broker as
// group.consumer.heartbeat.interval.ms (which it hands the KIP-848 members). Members
// consume nothing (the topic is empty) and commit nothing.
func BenchmarkGroupConverge(b *testing.B) {
	hb := time.Second
	if s := os.Getenv("SLUICE_BENCH_HEARTBEAT_MS"); s != "" {
		ms, err := strconv.Atoi(s)
		if err != nil || ms <= 0 {
			b.Fatalf("SLUICE_BENCH_HEARTBEAT_MS=%q: want a positive number of milliseconds", s)
		}
		hb = time.Duration(ms) * time.Millisecond
	}
	c := startCluster(b, 1,
		fmt.Sprintf("group.consumer.heartbeat.interval.ms=%d", hb.Milliseconds()),
		fmt.Sprintf("group.consumer.min.heartbeat.interval.ms=%d", hb.Milliseconds()),
		"group.initial.rebalance.delay.ms=0",
	)
	seeds := c.Bootstrap()
	requireKIP848(b, seeds[0])
	admCl := newClient(b, seeds)
	adm := kadm.NewClient(admCl)
	const topic = "converge"
	createTopic(b, adm, topic, convergePartitions, 1, nil)
	b.Logf("heartbeat interval %v for both protocols; %d members + %d joining, %d partitions",
		hb, convergeMembers, convergeJoiners, convergePartitions)

	iteration := 0
	for _, protocol := range []string{protoClassic, protoConsumer} {
		b.Run(protocol, func(b *testing.B) {
			var samples []time.Duration
			b.StopTimer()
			for range b.N {
				iteration++
				group := fmt.Sprintf("converge-%s-%d", protocol, iteration)
				samples = append(samples, convergeOnce(b, adm, admCl, seeds, topic, group, protocol, hb))
			}
			slices.Sort(samples)
			var sum time.Duration
			for _, s := range samples {
				sum += s
			}
			b.ReportMetric(float64(sum.Milliseconds())/float64(len(samples)), "ms/converge")
			b.ReportMetric(float64(samples[len(samples)/2].Milliseconds()), "median-ms")
			b.Logf("%s, heartbeat %v: converged after %v (sorted)", protocol, hb, samples)
		})
	}
}

// convergeOnce runs one iteration of BenchmarkGroupConverge and returns the time to
// converge after the joins. Only the wait for that convergence is timed.
func convergeOnce(b *testing.B, adm *kadm.Client, admCl *kgo.Client, seeds []string, topic, group, protocol string, hb time.Duration) time.Duration {
	h := newHistory(topic)
	cfg := memberConfig{seeds: seeds, group: group, protocol: protocol, heartbeat: hb, noConsume: true}
	var members []*member
	defer closeAll(&members)
	for id := 1; id <= convergeMembers; id++ {
		members = append(members, startMember(b, id, h, cfg))
	}
	setup := time.Now()
	waitConverged(b, adm, h, group, convergePartitions, members, 5*time.Minute)
	if protocol == protoConsumer {
		requireConsumerGroup(b, admCl, group, members)
	}
	b.Logf("%s: %d members converged %v after starting", group, convergeMembers, time.Since(setup).Round(time.Millisecond))
	// Let every member heartbeat twice more before the joins, so that the joins land at
	// a random point of each member's heartbeat cycle, as in a group that has been
	// stable for a while. (Right after a rebalance a classic franz-go member heartbeats
	// 500 ms into its new session whatever its interval, which would favour classic.)
	waitHeartbeats(b, members, 2, 4*hb+30*time.Second)
	// Members that converged together heartbeat in step, and the wait above ends just
	// after a heartbeat of theirs: the joins would always land at the start of the
	// cycle. Draw their moment in the cycle at random instead, as for members started
	// whenever an operator starts them. (A scenario's parameter, not a wait for a
	// condition.)
	time.Sleep(rand.N(hb))

	b.StartTimer()
	start := time.Now()
	for id := convergeMembers + 1; id <= convergeMembers+convergeJoiners; id++ {
		members = append(members, startMember(b, id, h, cfg))
	}
	ids := memberIDs(members)
	var converged time.Time
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	err := chaos.WaitFor(ctx, fmt.Sprintf("%s to converge on %d members", group, len(ids)), func(context.Context) (bool, error) {
		owned, last := h.ownershipAndLast()
		if err := balancedError(owned, ids, convergePartitions); err != nil {
			return false, err
		}
		converged = last
		return true, nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	// The broker agrees (untimed).
	waitConverged(b, adm, h, group, convergePartitions, members, time.Minute)
	if protocol == protoConsumer {
		requireConsumerGroup(b, admCl, group, members)
	}
	return converged.Sub(start)
}

// closeAll closes members at once and waits until all have left.
func closeAll(members *[]*member) {
	var wg sync.WaitGroup
	for _, m := range *members {
		wg.Go(m.close)
	}
	wg.Wait()
}

// waitHeartbeats waits until every member has sent n more heartbeats.
func waitHeartbeats(b *testing.B, members []*member, n int64, within time.Duration) {
	b.Helper()
	base := make([]int64, len(members))
	for i, m := range members {
		base[i] = m.reqs.heartbeats()
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	err := chaos.WaitFor(ctx, fmt.Sprintf("every member to heartbeat %d more times", n), func(context.Context) (bool, error) {
		for i, m := range members {
			if got := m.reqs.heartbeats() - base[i]; got < n {
				return false, fmt.Errorf("member %d heartbeated %d more times", m.id, got)
			}
		}
		return true, nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
