package metadata

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter routes hashicorp/raft's logging (hclog) to slog. Only Warn and above pass:
// raft is chatty at Info about every election and snapshot, which is noise in a broker's
// output; operators care when it warns.
type hclogAdapter struct {
	l       *slog.Logger
	name    string
	implied []any
	min     hclog.Level
}

func newHclog(l *slog.Logger) hclog.Logger {
	return &hclogAdapter{l: l.With("component", "raft"), min: hclog.Warn}
}

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Debug:
		return slog.LevelDebug
	case l == hclog.Info:
		return slog.LevelInfo
	case l == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Warn && msg == electionMsg && !knewLeader(args) {
		// Every start of a node begins with this warning: it has never heard from a
		// leader. Only the loss of a known leader deserves an operator's attention.
		level = hclog.Debug
	}
	if level == hclog.Off || level < a.min {
		return
	}
	if a.name != "" {
		args = append(args, "raft_module", a.name)
	}
	a.l.Log(context.Background(), slogLevel(level), msg, append(a.implied[:len(a.implied):len(a.implied)], args...)...)
}

// electionMsg is what raft warns when a follower's heartbeat timer fires.
const electionMsg = "heartbeat timeout reached, starting election"

// knewLeader reports whether raft's election warning names a previous leader.
func knewLeader(args []any) bool {
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "last-leader-id" {
			return fmt.Sprint(args[i+1]) != ""
		}
	}
	return false
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) IsTrace() bool { return a.min <= hclog.Trace }
func (a *hclogAdapter) IsDebug() bool { return a.min <= hclog.Debug }
func (a *hclogAdapter) IsInfo() bool  { return a.min <= hclog.Info }
func (a *hclogAdapter) IsWarn() bool  { return a.min <= hclog.Warn }
func (a *hclogAdapter) IsError() bool { return a.min <= hclog.Error }

func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(a.implied[:len(a.implied):len(a.implied)], args...)
	return &c
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

// SetLevel changes the threshold of this logger value. Raft never calls it; hclog's
// contract (a shared level across derived loggers) is not worth honouring here.
func (a *hclogAdapter) SetLevel(level hclog.Level) { a.min = level }
func (a *hclogAdapter) GetLevel() hclog.Level      { return a.min }

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer for code that logs through the standard library: each
// line is logged at the level its "[WARN]"/"[ERR]"-style prefix names, Info otherwise.
func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return stdWriter{a}
}

type stdWriter struct{ a *hclogAdapter }

func (w stdWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		level := hclog.Info
		switch {
		case bytes.Contains(line, []byte("[ERR")):
			level = hclog.Error
		case bytes.Contains(line, []byte("[WARN")):
			level = hclog.Warn
		case bytes.Contains(line, []byte("[DEBUG")), bytes.Contains(line, []byte("[TRACE")):
			level = hclog.Debug
		}
		w.a.Log(level, string(line))
	}
	return len(p), nil
}
