package groups848

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluicehq/sluice/test/chaos"
)

// TestOnlineMigration runs a classic group of cooperative-sticky consumers while records
// flow, has consumer-protocol members join it (the group is upgraded, the classic members
// stay in it and are assigned by the coordinator), has them leave (the group is
// downgraded and rebalances as a classic group), and checks throughout that no partition
// is owned or consumed by two members at once and that nothing acknowledged is missed
// (group.consumer.migration.policy=bidirectional, Kafka's default).
func TestOnlineMigration(t *testing.T) {
	const (
		partitions = 12
		topic      = "migrate"
		group      = "migrate"
	)
	c := startCluster(t, 1, fastGroups...)
	requireKIP848(t, c.Bootstrap()[0])
	seeds := c.Bootstrap()
	admCl := newClient(t, seeds)
	adm := kadm.NewClient(admCl)
	createTopic(t, adm, topic, partitions, 1, nil)
	prod := startProducer(t, seeds, topic, partitions, produceInterval)
	h := newHistory(topic)
	classic := memberConfig{seeds: seeds, group: group, protocol: protoClassic, heartbeat: 200 * time.Millisecond, commitEvery: 250 * time.Millisecond}
	consumer := classic
	consumer.protocol = protoConsumer

	// wait waits until every partition is owned once, evenly, by the members' own
	// callbacks, and the group is of the type it should be, stable with exactly them.
	wait := func(what string, members []*member, consumerGroup bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := chaos.WaitFor(ctx, what, func(ctx context.Context) (bool, error) {
			owned := h.ownership()
			if err := balancedError(owned, memberIDs(members), partitions); err != nil {
				return false, fmt.Errorf("by the members' callbacks: %w", err)
			}
			if !consumerGroup {
				if err := classicStableError(ctx, adm, group, members); err != nil {
					return false, fmt.Errorf("by DescribeGroups: %w", err)
				}
				return true, nil
			}
			d, err := describeGroup(ctx, adm, group)
			if err != nil {
				return false, err
			}
			if err := stableError(d, topic, partitions, members, owned); err != nil {
				return false, fmt.Errorf("by ConsumerGroupDescribe: %w", err)
			}
			return true, nil
		})
		if err != nil {
			t.Logf("owned by the members' callbacks: %v", h.ownership())
			if d, derr := describeGroup(context.Background(), adm, group); derr == nil {
				t.Logf("group %s epoch %d assignment epoch %d", d.State, d.Epoch, d.AssignmentEpoch)
				for _, dm := range d.Members {
					t.Logf("  member %s epoch %d assigned %v target %v", dm.MemberID, dm.MemberEpoch, dm.Assignment[topic], dm.TargetAssignment[topic])
				}
			}
			t.Fatalf("%s: %v", what, err)
		}
		waitFlow(t, prod, h, 20*time.Second)
	}

	c1 := startMember(t, 1, h, classic)
	c2 := startMember(t, 2, h, classic)
	wait("the classic group forms", []*member{c1, c2}, false)

	n3 := startMember(t, 3, h, consumer)
	wait("a consumer-protocol member joins: the group is upgraded", []*member{c1, c2, n3}, true)
	n4 := startMember(t, 4, h, consumer)
	wait("a second consumer-protocol member joins", []*member{c1, c2, n3, n4}, true)
	c5 := startMember(t, 5, h, classic)
	wait("a classic member joins the consumer group", []*member{c1, c2, n3, n4, c5}, true)

	n3.close()
	wait("a consumer-protocol member leaves", []*member{c1, c2, n4, c5}, true)
	n4.close()
	wait("the last consumer-protocol member leaves: the group is downgraded", []*member{c1, c2, c5}, false)

	prod.stop()
	waitFlow(t, prod, h, 20*time.Second)
	for _, m := range []*member{c1, c2, c5} {
		m.close()
	}
	end := time.Now()

	problems := verifyRun(t, prod, h, end).problems
	if len(problems) > 0 {
		t.Errorf("%d problems:\n%s", len(problems), joinLines(problems))
	}
}
