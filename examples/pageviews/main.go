// Command pageviews counts each user's page views in tumbling windows of
// event time and writes one final count per user and window, once the
// window has closed: Kafka Streams' windowed-count demo on Sluice's
// streams library. It also answers interactive queries over HTTP: any
// instance tells where a user's counts live and fetches them from there.
//
//	sluice topics create pageviews --partitions 4
//	sluice topics create pageviews-per-user --partitions 4
//	go run ./examples/pageviews --brokers 127.0.0.1:9092 --http 127.0.0.1:8081
//	printf 'alice\t/home\n' | sluice produce pageviews --property parse.key=true   # key: user, value: page
//	curl 'http://127.0.0.1:8081/views?user=alice'
//
// The output records are keyed by the user and window in Kafka's
// time-windowed key layout (the user's bytes, then the window start as 8
// bytes big-endian) with 8-byte big-endian counts. A window closes when
// the stream time of its task passes its end plus the grace period; the
// store keeps it for queries until stream time passes its start plus the
// retention.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

// store is the name of the window store of the counts.
const store = "views-per-window"

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "bootstrap servers, comma separated")
	appID := flag.String("app-id", "pageviews", "application.id: the consumer group and internal topic prefix")
	stateDir := flag.String("state-dir", "./pageviews-state", "state.dir: where the pebble stores live")
	input := flag.String("input", "pageviews", "topic of page views (key: user, value: page)")
	output := flag.String("output", "pageviews-per-user", "topic of final counts per user and window")
	window := flag.Duration("window", time.Minute, "size of the tumbling windows")
	grace := flag.Duration("grace", 10*time.Second, "how long after a window's end late views still count")
	retention := flag.Duration("retention", time.Hour, "how long windows stay in the store for queries (at least window + grace)")
	commit := flag.Duration("commit-interval", 30*time.Second, "commit.interval.ms")
	httpAddr := flag.String("http", "", "host:port for interactive queries (GET /views?user=U); also this instance's application.server")
	flag.Parse()

	b := streams.NewBuilder()
	views := streams.Stream[string, string](b, []string{*input})
	counts := streams.WindowedBy(views.GroupByKey(), streams.OfSizeAndGrace(*window, *grace)).
		Count(streams.WithStore(store), streams.WithRetention(*retention))
	final := streams.SuppressUntilWindowCloses(counts, streams.UnboundedBuffer(), streams.Named("final-counts"))
	final.ToStream().To(*output,
		streams.WithKeySerde(streams.TimeWindowedSerde(serde.String, window.Milliseconds())),
		streams.WithValueSerde(serde.Int64))
	topo, err := b.Build()
	if err != nil {
		fail(err)
	}
	fmt.Print(topo.Describe())

	app, err := streams.NewApp(topo, streams.Config{
		ApplicationID:     *appID,
		Brokers:           strings.Split(*brokers, ","),
		StateDir:          *stateDir,
		CommitInterval:    *commit,
		ApplicationServer: *httpAddr,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fail(err)
		}
		srv := &http.Server{Handler: &queries{app: app, self: *httpAddr}, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}
	if err := app.Run(ctx); err != nil {
		fail(err)
	}
}

// windowCount is one window's count in a query's answer.
type windowCount struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Count int64 `json:"count"`
}

// queries answers GET /views?user=U with the user's counts per window
// (those still in the store's retention), from this instance if it holds
// the user's task, or else from the instance the group's metadata names.
type queries struct {
	app  *streams.App
	self string
}

func (q *queries) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/views" {
		http.NotFound(w, r)
		return
	}
	user := r.URL.Query().Get("user")
	md, err := streams.QueryMetadataForKey(q.app, store, user, serde.String)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if md.ActiveHost != q.self {
		if r.URL.Query().Get("forwarded") != "" {
			// The other instance thinks we hold it: a rebalance is moving it.
			http.Error(w, "the user's task is moving", http.StatusServiceUnavailable)
			return
		}
		q.forward(w, md.ActiveHost, user)
		return
	}
	ws, err := streams.QueryWindowStore[string, int64](q.app, store)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, streams.ErrStoreUnavailable) {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), code)
		return
	}
	out := []windowCount{}
	err = ws.Fetch(user, 0, math.MaxInt64, func(start int64, n int64) bool {
		out = append(out, windowCount{Start: start, End: start + ws.WindowSize(), Count: n})
		return true
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// forward asks the instance that holds the user.
func (q *queries) forward(w http.ResponseWriter, host, user string) {
	resp, err := http.Get("http://" + host + "/views?forwarded=1&user=" + url.QueryEscape(user))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pageviews:", err)
	os.Exit(1)
}
