package metadata

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestHclogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHclog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Info("chatty info")
	l.Debug("chatty debug")
	l.Warn(electionMsg, "last-leader-addr", "", "last-leader-id", "")
	l.Named("snapshot").With("k", 1).Warn("disk nearly full", "free", 3)
	l.Error(electionMsg, "last-leader-id", "2")
	l.Warn(electionMsg, "last-leader-id", "2")
	l.StandardLogger(nil).Print("[WARN] from the standard logger")
	l.StandardLogger(nil).Print("[INFO] quiet")
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="disk nearly full" component=raft k=1 free=3 raft_module=snapshot`,
		`level=ERROR msg="heartbeat timeout reached, starting election" component=raft last-leader-id=2`,
		`level=WARN msg="heartbeat timeout reached, starting election" component=raft last-leader-id=2`,
		`level=WARN msg="[WARN] from the standard logger"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	for _, quiet := range []string{"chatty", `last-leader-id=""`, "quiet"} {
		if strings.Contains(out, quiet) {
			t.Errorf("%q should have been dropped:\n%s", quiet, out)
		}
	}
	if l.IsInfo() || !l.IsWarn() {
		t.Error("IsInfo/IsWarn disagree with the Warn threshold")
	}
}
