// Package logging gives a Connect worker's slog logger what Kafka
// Connect's log4j loggers give its REST API (KIP-495, /admin/loggers):
// named loggers whose levels change at run time.
//
// A logger's name is dotted, as a Java logger's: "connect.runtime" is a
// child of "connect". The worker's code names its logger with the Key
// attribute (log.With(logging.Key, "connect.runtime")); a connector's
// tasks log with the "connector" attribute, and the connector's name is a
// logger of its own. A record's level is checked against the first logger
// with a level among: its connector's logger, its named logger and that
// logger's ancestors, and the root logger ("root").
//
// As in log4j, a logger exists once code has used it or a level was set
// for it; setting a namespace's level sets it for the namespace and every
// existing logger under it.
package logging

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Key is the attribute that names a logger. The Handler consumes it: it
// is not written.
const Key = "logger"

// ConnectorKey is the attribute a connector's and its tasks' records
// carry (set by the worker): its value is also a logger's name.
const ConnectorKey = "connector"

// Root is the root logger's name, as Kafka names it.
const Root = "root"

// Log4j's levels on slog's scale: TRACE below DEBUG, FATAL above ERROR,
// OFF above everything and ALL below.
const (
	LevelAll   = slog.Level(math.MinInt32)
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
	LevelOff   = slog.Level(math.MaxInt32)
)

var levelNames = []struct {
	name  string
	level slog.Level
}{
	{"OFF", LevelOff}, {"FATAL", LevelFatal}, {"ERROR", slog.LevelError}, {"WARN", slog.LevelWarn},
	{"INFO", slog.LevelInfo}, {"DEBUG", slog.LevelDebug}, {"TRACE", LevelTrace}, {"ALL", LevelAll},
}

// ParseLevel reads a log4j level name (OFF, FATAL, ERROR, WARN, INFO,
// DEBUG, TRACE, ALL), in any case.
func ParseLevel(s string) (slog.Level, bool) {
	for _, l := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), l.name) {
			return l.level, true
		}
	}
	return 0, false
}

// LevelName is a level's log4j name: the name of the highest level at or
// below it.
func LevelName(l slog.Level) string {
	for _, n := range levelNames {
		if l >= n.level {
			return n.name
		}
	}
	return "ALL"
}

// LoggerLevel is a logger's level and when it was last changed (nil if
// never since the worker started), as Kafka's REST API shows it.
type LoggerLevel struct {
	Level        string `json:"level"`
	LastModified *int64 `json:"last_modified"`
}

// Levels is the level table of a worker's loggers. It is safe for
// concurrent use; the handlers read an immutable snapshot.
type Levels struct {
	mu       sync.Mutex
	known    map[string]bool // loggers that exist (root excluded)
	modified map[string]int64
	now      func() time.Time
	table    atomic.Pointer[map[string]slog.Level] // explicit levels, root included
}

// New returns a table whose root logger has the given level.
func New(root slog.Level) *Levels {
	l := &Levels{known: map[string]bool{}, modified: map[string]int64{}, now: time.Now}
	l.table.Store(&map[string]slog.Level{Root: root})
	return l
}

// register makes a logger exist.
func (l *Levels) register(name string) {
	if name == "" || name == Root {
		return
	}
	l.mu.Lock()
	l.known[name] = true
	l.mu.Unlock()
}

// effective is a logger's level: its own, or its nearest ancestor's, or
// the root's.
func effective(table map[string]slog.Level, name string) slog.Level {
	for n := name; n != ""; {
		if lv, ok := table[n]; ok {
			return lv
		}
		i := strings.LastIndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[:i]
	}
	return table[Root]
}

// Level returns a logger's level, false if no such logger exists.
func (l *Levels) Level(name string) (LoggerLevel, bool) {
	if strings.EqualFold(name, Root) || name == "" {
		name = Root
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if name != Root && !l.known[name] {
		return LoggerLevel{}, false
	}
	return l.levelLocked(name), true
}

func (l *Levels) levelLocked(name string) LoggerLevel {
	ll := LoggerLevel{Level: LevelName(effective(*l.table.Load(), name))}
	if ms, ok := l.modified[name]; ok {
		ll.LastModified = &ms
	}
	return ll
}

// All returns the level of every logger, root included, except those
// that are OFF (as Kafka lists them).
func (l *Levels) All() map[string]LoggerLevel {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]LoggerLevel{}
	for name := range l.known {
		if ll := l.levelLocked(name); ll.Level != "OFF" {
			out[name] = ll
		}
	}
	if ll := l.levelLocked(Root); ll.Level != "OFF" {
		out[Root] = ll
	}
	return out
}

// Set sets the level of a namespace and of every logger under it (every
// logger for the root), creating the namespace's logger if need be. It
// returns the loggers whose level changed, sorted.
func (l *Levels) Set(namespace, level string) ([]string, error) {
	lv, ok := ParseLevel(level)
	if !ok {
		return nil, fmt.Errorf("invalid log level '%s'", level)
	}
	namespace = strings.TrimSpace(namespace)
	if namespace == "" || strings.EqualFold(namespace, Root) {
		namespace = Root
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.table.Load()
	table := make(map[string]slog.Level, len(old)+1)
	for k, v := range old {
		table[k] = v
	}
	targets := []string{namespace}
	for name := range l.known {
		if name != namespace && (namespace == Root || strings.HasPrefix(name, namespace+".")) {
			targets = append(targets, name)
		}
	}
	if namespace != Root {
		l.known[namespace] = true
	}
	var changed []string
	now := l.now().UnixMilli()
	for _, name := range targets {
		before := effective(old, name)
		table[name] = lv
		if before != lv {
			changed = append(changed, name)
			l.modified[name] = now
		}
	}
	l.table.Store(&table)
	slices.Sort(changed)
	return changed, nil
}

// Handler wraps a handler: records pass when their logger's level allows
// them. The wrapped handler should accept every level (its own level is
// checked after this one).
func (l *Levels) Handler(inner slog.Handler) slog.Handler {
	return &handler{levels: l, inner: inner}
}

// Logger returns a logger over inner, filtered by the table.
func (l *Levels) Logger(inner slog.Handler) *slog.Logger {
	return slog.New(l.Handler(inner))
}

type handler struct {
	levels    *Levels
	inner     slog.Handler
	name      string // the Key attribute's value
	connector string // the connector attribute's value
	grouped   bool   // attributes now go into a group: not ours
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	table := *h.levels.table.Load()
	var lv slog.Level
	switch {
	case h.connector != "" && hasLevel(table, h.connector):
		lv = table[h.connector]
	case h.name != "":
		lv = effective(table, h.name)
	default:
		lv = table[Root]
	}
	return level >= lv && h.inner.Enabled(ctx, level)
}

func hasLevel(table map[string]slog.Level, name string) bool {
	_, ok := table[name]
	return ok
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	pass := attrs
	if !h.grouped {
		pass = make([]slog.Attr, 0, len(attrs))
		for _, a := range attrs {
			switch a.Key {
			case Key:
				c.name = a.Value.String()
				h.levels.register(c.name)
				continue
			case ConnectorKey:
				c.connector = a.Value.String()
				h.levels.register(c.connector)
			}
			pass = append(pass, a)
		}
	}
	if len(pass) > 0 {
		c.inner = h.inner.WithAttrs(pass)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	c.grouped = true
	return &c
}

// Wrap returns a logger over log's handler filtered by a new table whose
// root level is the lowest log4j level log's handler enables. Levels below
// that one stay filtered out by the handler itself: build the handler to
// accept every level (LevelAll) and give New the level wanted to let the
// table decide alone.
func Wrap(log *slog.Logger) (*slog.Logger, *Levels) {
	h := log.Handler()
	root := LevelOff
	for i := len(levelNames) - 2; i >= 1; i-- { // TRACE up to FATAL
		if h.Enabled(context.Background(), levelNames[i].level) {
			root = levelNames[i].level
			break
		}
	}
	l := New(root)
	return l.Logger(h), l
}
