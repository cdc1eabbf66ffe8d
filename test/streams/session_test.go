package streams

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

const (
	clicksTopic   = "clicks"
	sessionsStore = "click-sessions"
	sessionUsers  = 10
)

func sessionTopology(t testing.TB) *topology.Topology {
	b := streams.NewBuilder()
	clicks := streams.Stream[string, string](b, []string{clicksTopic})
	w := streams.OfInactivityGapAndGrace(time.Minute, time.Hour)
	streams.WindowedBySession(clicks.GroupByKey(), w).Count(streams.WithStore(sessionsStore)).
		ToStream().To("click-session-counts")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func startSessionApp(t *testing.T, addr, appID, dir string) *app {
	t.Helper()
	a, err := streams.NewApp(sessionTopology(t), appConfig(addr, appID, dir))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &app{App: a, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	t.Cleanup(func() { h.stop(t) })
	return h
}

// produceClicks writes one record per "user@offset-in-seconds" after base.
func produceClicks(t *testing.T, addr string, base time.Time, clicks ...string) {
	t.Helper()
	var recs []*kgo.Record
	for _, c := range clicks {
		user, sec, _ := strings.Cut(c, "@")
		var s int64
		fmt.Sscan(sec, &s)
		recs = append(recs, &kgo.Record{Topic: clicksTopic, Key: []byte(user), Value: []byte("click"),
			Timestamp: base.Add(time.Duration(s) * time.Second)})
	}
	if err := newClient(t, addr).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce clicks: %v", err)
	}
}

// querySessions reads every user's sessions through interactive queries,
// as "[start,end]=count" in seconds after base.
func querySessions(a *app, base time.Time) (map[string]string, error) {
	s, err := streams.QuerySessionStore[string, int64](a.App, sessionsStore)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for i := range sessionUsers {
		user := fmt.Sprintf("u%d", i)
		var parts []string
		err := s.Fetch(user, func(sn state.Session[string, int64]) bool {
			parts = append(parts, fmt.Sprintf("[%d,%d]=%d", (sn.Start-base.UnixMilli())/1000, (sn.End-base.UnixMilli())/1000, sn.Value))
			return true
		})
		if err != nil {
			return nil, err
		}
		if len(parts) > 0 {
			out[user] = strings.Join(parts, " ")
		}
	}
	return out, nil
}

// TestSessionWindowsRestoredFromChangelog: session counts per user, where
// a late click merges two sessions of the even users; the instance stops,
// its state directory is deleted, and a new instance restores the sessions
// from the changelog (merged sessions deleted by tombstones) and goes on
// from them.
func TestSessionWindowsRestoredFromChangelog(t *testing.T) {
	addr := startBroker(t)
	createTopic(t, addr, clicksTopic, 2)
	createTopic(t, addr, "click-session-counts", 2)
	base := time.Now().Truncate(time.Hour)
	var first, bridges []string
	want := make(map[string]string)
	for i := range sessionUsers {
		u := fmt.Sprintf("u%d", i)
		first = append(first, u+"@0", u+"@10", u+"@100", u+"@110")
		if i%2 == 0 {
			// Within a minute of both [0,10] and [100,110]: one session.
			bridges = append(bridges, u+"@55")
			want[u] = "[0,110]=5"
		} else {
			want[u] = "[0,10]=2 [100,110]=2"
		}
	}
	produceClicks(t, addr, base, first...)
	produceClicks(t, addr, base, bridges...)

	dir := t.TempDir()
	a := startSessionApp(t, addr, "sessions-restore", dir)
	waitFor(t, 30*time.Second, "the sessions in the store", func() (bool, string) {
		got, err := querySessions(a, base)
		return err == nil && maps.Equal(got, want), fmt.Sprint(err, got)
	})

	// A key range across the tasks: every user's sessions.
	qs, err := streams.QuerySessionStore[string, int64](a.App, sessionsStore)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	if err := qs.FetchRange("u0", "u9", func(sn state.Session[string, int64]) bool { total += int(sn.Value); return true }); err != nil {
		t.Fatal(err)
	}
	if want := len(first) + len(bridges); total != want {
		t.Fatalf("the sessions of u0..u9 count %d clicks, want %d", total, want)
	}

	// The changelog is compacted and deleted after the retention (gap +
	// grace) plus a day, as Kafka's windowed changelogs are.
	adm := kadm.NewClient(newClient(t, addr))
	changelog := "sessions-restore-" + sessionsStore + "-changelog"
	cfgs, err := adm.DescribeTopicConfigs(context.Background(), changelog)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On(changelog, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			got[c.Key] = *c.Value
		}
	}
	wantRetention := fmt.Sprint((time.Minute + time.Hour + 24*time.Hour).Milliseconds())
	if got["cleanup.policy"] != "compact,delete" || got["retention.ms"] != wantRetention {
		t.Fatalf("changelog %s: cleanup.policy=%q retention.ms=%q, want compact,delete and %s",
			changelog, got["cleanup.policy"], got["retention.ms"], wantRetention)
	}

	a.stop(t)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	b := startSessionApp(t, addr, "sessions-restore", dir)
	waitFor(t, 30*time.Second, "the new instance to run every task", func() (bool, string) {
		return len(b.Tasks()) == 2, fmt.Sprint(b.Tasks())
	})
	// Before any new input, the sessions are back as they were.
	restored, err := querySessions(b, base)
	if err != nil || !maps.Equal(restored, want) {
		t.Fatalf("sessions after restoration: %v %v, want %v", err, restored, want)
	}
	// u1's second session grows; u0 starts a new one.
	produceClicks(t, addr, base, "u1@130", "u0@200")
	want["u1"] = "[0,10]=2 [100,130]=3"
	want["u0"] = "[0,110]=5 [200,200]=1"
	waitFor(t, 30*time.Second, "sessions after new clicks", func() (bool, string) {
		got, err := querySessions(b, base)
		return err == nil && maps.Equal(got, want), fmt.Sprint(err, got)
	})
}
