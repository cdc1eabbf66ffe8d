package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFsyncDelaySlowsDurableProduce checks the fsync-delay fault end to end: on a
// node started with the hook, a topic with flush.messages=1 acknowledges only after
// fsync, so while the delay is set every acknowledgement takes at least that long,
// and once it is cleared they are quick again.
func TestFsyncDelaySlowsDurableProduce(t *testing.T) {
	t.Parallel()
	c, err := NewCluster(ClusterConfig{Binary: testBinary, Dir: t.TempDir(), Nodes: 1, FsyncDelay: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.DefaultProduceTopic("slow"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, map[string]*string{"flush.messages": kadm.StringPtr("1")}, "slow")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	// The fastest of a few acknowledged produces.
	produce := func() time.Duration {
		fastest := time.Hour
		for range 3 {
			start := time.Now()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			fastest = min(fastest, time.Since(start))
		}
		return fastest
	}
	produce() // warms the connection and the producer id
	const delay = 300 * time.Millisecond
	if err := c.Node(1).SetFsyncDelay(delay); err != nil {
		t.Fatal(err)
	}
	if fastest := produce(); fastest < delay {
		t.Fatalf("a durable produce took %v with a %v fsync delay", fastest, delay)
	}
	if err := c.Node(1).SetFsyncDelay(0); err != nil {
		t.Fatal(err)
	}
	if fastest := produce(); fastest >= delay {
		t.Errorf("durable produces still took at least %v after the delay was cleared", fastest)
	}
}
