// Command fraud flags users who do too much in one session: events are
// grouped per user into session windows (a session ends after a gap of
// inactivity), counted, and every session with more than --max-events
// events is written to an alerts topic, keyed by user and session.
//
//	sluice topics create card-events --partitions 4
//	sluice topics create fraud-alerts --partitions 4
//	go run ./examples/fraud --brokers 127.0.0.1:9092 --gap 5m --max-events 10
//	printf 'alice\tpayment\n' | sluice produce card-events --property parse.key=true   # key: user
//
// The alerts are a changelog of the flagged sessions: keys in Kafka's
// session-windowed layout (the user's bytes, then the session's end and
// start, 8 bytes big-endian each), values 8-byte big-endian counts. When
// a later event merges a flagged session into a longer one, the old
// session's alert is withdrawn with a tombstone (a null value) and the
// merged session is flagged instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap servers, comma separated")
	appID := flag.String("app-id", "fraud", "application.id: the consumer group and internal topic prefix")
	stateDir := flag.String("state-dir", "./fraud-state", "state.dir: where the pebble stores live")
	input := flag.String("input", "card-events", "topic of events (key: user)")
	output := flag.String("output", "fraud-alerts", "topic of flagged sessions")
	gap := flag.Duration("gap", 5*time.Minute, "inactivity gap that ends a session")
	grace := flag.Duration("grace", 0, "how long after a session's end late events still join it")
	maxEvents := flag.Int64("max-events", 10, "a session with more events than this is flagged")
	commit := flag.Duration("commit-interval", 30*time.Second, "commit.interval.ms")
	flag.Parse()

	b := streams.NewBuilder()
	events := streams.Stream[string, []byte](b, []string{*input})
	sessions := streams.WindowedBySession(events.GroupByKey(), streams.OfInactivityGapAndGrace(*gap, *grace))
	counts := sessions.Count(streams.WithStore("events-per-session"))
	flagged := counts.Filter(func(_ streams.Windowed[string], n int64) bool { return n > *maxEvents },
		streams.Named("too-many-events"))
	flagged.ToStream().To(*output,
		streams.WithKeySerde(streams.SessionWindowedSerde(serde.String)),
		streams.WithValueSerde(serde.Int64))
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
	if err := app.Run(ctx); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fraud:", err)
	os.Exit(1)
}
