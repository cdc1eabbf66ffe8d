package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

// TestInteractiveQueryMetadata: two instances of one application, each
// advertising its own application.server, count words that go through a
// repartition topic. Either instance names the same host for a word; that
// host's local store has the word's count and the other's has not; the
// partition is the one Kafka's default partitioner gives the word. When
// one instance stops, the survivor's metadata names only itself.
func TestInteractiveQueryMetadata(t *testing.T) {
	const (
		in    = "iq-words"
		store = "iq-counts"
		appID = "iq-app"
		hostA = "a.example:7001"
		hostB = "b.example:7002"
	)
	addr := startBroker(t)
	createTopic(t, addr, in, partitions)
	createTopic(t, addr, "iq-out", partitions)

	// Word i is written i+1 times, keyed by a record number (so the words
	// are spread over the input partitions and must be repartitioned).
	want := make(map[string]int64)
	var recs []*kgo.Record
	for i := range 20 {
		w := fmt.Sprintf("word%02d", i)
		want[w] = int64(i + 1)
		for range i + 1 {
			recs = append(recs, &kgo.Record{Topic: in, Key: []byte(fmt.Sprint(len(recs))), Value: []byte(w)})
		}
	}
	if err := newClient(t, addr).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	start := func(host string) *app {
		b := streams.NewBuilder()
		words := streams.Stream[string, string](b, []string{in})
		streams.GroupBy(words, func(_, w string) string { return w }, streams.Named("by-word")).
			Count(streams.WithStore(store)).ToStream().To("iq-out", streams.WithValueSerde(serde.Int64))
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		cfg := appConfig(addr, appID, t.TempDir())
		cfg.ApplicationServer = host
		a, err := streams.NewApp(topo, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		h := &app{App: a, cancel: cancel, done: make(chan error, 1)}
		go func() { h.done <- a.Run(ctx) }()
		t.Cleanup(func() { h.stop(t) })
		return h
	}
	a, b := start(hostA), start(hostB)
	byHost := map[string]*app{hostA: a, hostB: b}
	kafkaPartition := kgo.StickyKeyPartitioner(nil).ForTopic("")

	// check reports the first way the instances' answers fall short.
	check := func(instances map[string]*app) string {
		for _, h := range instances {
			if h.State() != streams.Running {
				return fmt.Sprintf("an instance is %v", h.State())
			}
		}
		for _, w := range slices.Sorted(func(yield func(string) bool) {
			for w := range want {
				if !yield(w) {
					return
				}
			}
		}) {
			var host string
			for name, h := range instances {
				md, err := streams.QueryMetadataForKey(h.App, store, w, serde.String)
				if err != nil {
					return fmt.Sprintf("%s: metadata for %s: %v", name, w, err)
				}
				if host != "" && md.ActiveHost != host {
					return fmt.Sprintf("%s: %s is on %s, the other instance says %s", name, w, md.ActiveHost, host)
				}
				host = md.ActiveHost
				if p := kafkaPartition.Partition(&kgo.Record{Key: []byte(w)}, partitions); int(md.Partition) != p {
					t.Fatalf("%s: partition %d for %s, Kafka's partitioner says %d", name, md.Partition, w, p)
				}
				// The same placement given as the application's own
				// partitioner finds the same host.
				mine, err := streams.QueryMetadataForKeyWithPartitioner(h.App, store, w, func(_ string, k string, n int) int {
					return kafkaPartition.Partition(&kgo.Record{Key: []byte(k)}, n)
				})
				if err != nil {
					return fmt.Sprintf("%s: metadata for %s with a partitioner: %v", name, w, err)
				}
				if mine != md {
					t.Fatalf("%s: %s with a partitioner: %+v, with the key serde: %+v", name, w, mine, md)
				}
			}
			owner, ok := instances[host]
			if !ok {
				return fmt.Sprintf("%s is on %s, not a running instance", w, host)
			}
			for name, h := range instances {
				s, err := streams.QueryStore[string, int64](h.App, store)
				if err != nil {
					if h == owner || !errors.Is(err, streams.ErrStoreUnavailable) {
						return fmt.Sprintf("%s: store: %v", name, err)
					}
					continue
				}
				n, found, err := s.Get(w)
				if err != nil {
					return fmt.Sprintf("%s: get %s: %v", name, w, err)
				}
				if h == owner && (!found || n != want[w]) {
					return fmt.Sprintf("%s (the owner): %s = %d (found %v), want %d", name, w, n, found, want[w])
				}
				if h != owner && found {
					t.Fatalf("%s: has %s = %d, but the metadata puts it on %s", name, w, n, host)
				}
			}
		}
		return ""
	}

	waitFor(t, 60*time.Second, "both instances answering for every word", func() (bool, string) {
		for _, h := range byHost {
			md, err := h.AllMetadataForStore(store)
			if err != nil {
				return false, err.Error()
			}
			if len(md) != 2 || len(md[0].TopicPartitions) == 0 || len(md[1].TopicPartitions) == 0 {
				return false, fmt.Sprintf("metadata %+v", md)
			}
		}
		s := check(byHost)
		return s == "", s
	})
	all, err := a.AllMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Host != hostA || all[1].Host != hostB {
		t.Fatalf("AllMetadata %+v, want %s and %s", all, hostA, hostB)
	}
	for _, md := range all {
		if !slices.Contains(md.StoreNames, store) {
			t.Fatalf("%s holds stores %v, not %s", md.Host, md.StoreNames, store)
		}
	}

	b.stop(t)
	survivor := map[string]*app{hostA: a}
	waitFor(t, 60*time.Second, "the survivor holding every word", func() (bool, string) {
		md, err := a.AllMetadata()
		if err != nil {
			return false, err.Error()
		}
		if len(md) != 1 || md[0].Host != hostA {
			return false, fmt.Sprintf("metadata %+v", md)
		}
		s := check(survivor)
		return s == "", s
	})
}
