package groups848

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/test/chaos"
)

// TestRegexBrokerResolves checks, on three nodes, what franz-go's
// Test848RegexBrokerResolves checks on one (test/kgo/skip-cluster.txt says why that test
// races on more): a member that subscribes with a regular expression has it resolved by
// the group coordinator, which matches whole topic names, internal topics included. The
// member consumes every topic its regex matches, never one it does not, and adopts
// __consumer_offsets, which franz-go's own regex matching never selects.
func TestRegexBrokerResolves(t *testing.T) {
	const (
		orders   = "regex-orders"
		ordersV2 = "regex-orders-v2"
		other    = "regex-other"
		internal = "__consumer_offsets"
		group    = "regex-group"
	)
	c := startCluster(t, 3, fastGroups...)
	seeds := c.Bootstrap()
	for _, addr := range seeds {
		requireKIP848(t, addr)
	}
	adm := kadm.NewClient(newClient(t, seeds))
	producer := newClient(t, seeds)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, topic := range []string{orders, ordersV2, other} {
		createTopic(t, adm, topic, 1, 3, nil)
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(topic)}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}

	// franz-go sends SubscribedTopicRegex ".*(?:(?:regex-orders)|(?:__consumer_offsets)).*":
	// both orders topics and __consumer_offsets match it whole, regex-other does not.
	cl := newClient(t, seeds,
		kgo.ServerSideBalancer(),
		kgo.ConsumerGroup(group),
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(orders, regexp.QuoteMeta(internal)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.FetchMaxWait(250*time.Millisecond),
	)
	seen := map[string]bool{}
	for !seen[orders] || !seen[ordersV2] {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed from %v after a minute, want %s and %s", slices.Sorted(maps.Keys(seen)), orders, ordersV2)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Errorf("fetch %s/%d: %v", topic, p, err)
		})
		fs.EachTopic(func(ft kgo.FetchTopic) {
			if len(ft.Records()) > 0 {
				seen[ft.Topic] = true
			}
		})
	}
	if seen[other] {
		t.Errorf("consumed %s, which the regex does not match", other)
	}

	// The coordinator assigned __consumer_offsets too, every partition of it, and the
	// client adopted it; regex-other it never assigned.
	err := chaos.WaitFor(ctx, "the group to assign "+internal, func(ctx context.Context) (bool, error) {
		d, err := describeGroup(ctx, adm, group)
		if err != nil {
			return false, err
		}
		if len(d.Members) != 1 {
			return false, fmt.Errorf("%d members described, want 1", len(d.Members))
		}
		assigned := d.Members[0].Assignment
		if _, ok := assigned[other]; ok {
			return false, fmt.Errorf("%s assigned, though the regex does not match it", other)
		}
		for _, topic := range []string{orders, ordersV2, internal} {
			if len(assigned[topic]) == 0 {
				return false, fmt.Errorf("%s not assigned (assignment %v)", topic, assigned.Topics())
			}
		}
		md, err := adm.Metadata(ctx, internal)
		if err != nil {
			return false, err
		}
		if want := len(md.Topics[internal].Partitions); len(assigned[internal]) != want {
			return false, fmt.Errorf("%d partitions of %s assigned, want all %d", len(assigned[internal]), internal, want)
		}
		if !slices.Contains(cl.GetConsumeTopics(), internal) {
			return false, fmt.Errorf("the client does not consume %s (it consumes %v)", internal, cl.GetConsumeTopics())
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
