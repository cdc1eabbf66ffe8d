// Command wordcount counts the words of the lines in a topic and
// writes each word's running count to another topic, keeping the counts in
// a pebble store backed by a changelog topic: Kafka Streams' WordCount demo
// on Sluice's streams library.
//
//	sluice topics create lines --partitions 4
//	sluice topics create word-counts --partitions 4
//	go run ./examples/wordcount --brokers 127.0.0.1:9092
//	printf 'the quick fox\nthe lazy dog\n' | sluice produce lines
//
// Run it twice (with different --state-dir) and the two instances share
// the work; stop one and the other takes its tasks over. Ctrl-C stops it
// cleanly. Every minute it prints the top words from its
// local store (an interactive query).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap servers, comma separated")
	appID := flag.String("app-id", "wordcount", "application.id: the consumer group and internal topic prefix")
	stateDir := flag.String("state-dir", "./wordcount-state", "state.dir: where the pebble stores live")
	input := flag.String("input", "lines", "topic of text lines")
	output := flag.String("output", "word-counts", "topic of word counts (string keys, 8-byte big-endian counts)")
	commit := flag.Duration("commit-interval", 30*time.Second, "commit.interval.ms: how often counts are committed and written out")
	flag.Parse()

	b := streams.NewBuilder()
	lines := streams.Stream[string, string](b, []string{*input})
	words := streams.FlatMapValues(lines, func(l string) []string { return strings.Fields(strings.ToLower(l)) })
	counts := streams.GroupBy(words, func(_, w string) string { return w }, streams.Named("words")).
		Count(streams.WithStore("counts"))
	counts.ToStream().To(*output, streams.WithValueSerde(serde.Int64))
	topo, err := b.Build()
	if err != nil {
		fail(err)
	}
	fmt.Print(topo.Describe())

	app, err := streams.NewApp(topo, streams.Config{
		ApplicationID:  *appID,
		Brokers:        strings.Split(*brokers, ","),
		StateDir:       *stateDir,
		CommitInterval: *commit,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				printTop(app)
			}
		}
	}()
	if err := app.Run(ctx); err != nil {
		fail(err)
	}
}

// printTop prints the ten most frequent words this instance holds.
func printTop(app *streams.App) {
	store, err := streams.QueryStore[string, int64](app, "counts")
	if err != nil {
		fmt.Fprintln(os.Stderr, "query:", err)
		return
	}
	type wc struct {
		w string
		n int64
	}
	var all []wc
	if err := store.All(func(w string, n int64) bool { all = append(all, wc{w, n}); return true }); err != nil {
		fmt.Fprintln(os.Stderr, "query:", err)
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	for i := 0; i < len(all) && i < 10; i++ {
		fmt.Printf("%8d %s\n", all[i].n, all[i].w)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wordcount:", err)
	os.Exit(1)
}
