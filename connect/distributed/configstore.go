package distributed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The config topic (config.storage.topic, one partition, compacted) holds,
// with Kafka Connect's keys and its schemaless JSON values:
//
//	connector-<name>          {"properties":{...}}      a connector's config; null deletes it
//	task-<name>-<n>           {"properties":{...}}      a task config, applied at the next commit
//	commit-<name>             {"tasks":N}               the connector's N task configs are complete
//	target-state-<name>       {"state":"PAUSED","state.v2":"STOPPED"}
//	restart-connector-<name>  {"include-tasks":true,"only-failed":false}
//	tasks-fencing-<name>      {"task-count":N}         exactly-once sources: the tasks that may have transactional producers
//	logger-cluster-<namespace> {"level":"DEBUG"}       a logging level for every worker (KIP-976)
//
// Only the leader writes it, but for logger-cluster- records, which the
// worker that received the request writes. Every worker reads all of it, so all agree on
// the connectors, their task configs and their target states.

// targetState is what a connector should be doing.
type targetState string

const (
	targetStarted targetState = "STARTED"
	targetPaused  targetState = "PAUSED"
	targetStopped targetState = "STOPPED"
)

// restartRequest is one restart-connector-<name> record.
type restartRequest struct {
	Connector    string
	IncludeTasks bool
	OnlyFailed   bool
	Offset       int64
}

// configSnapshot is the config topic as read up to Offset.
type configSnapshot struct {
	// Offset is the offset of the last record applied; -1 when none.
	Offset     int64
	Connectors map[string]map[string]string
	Targets    map[string]targetState
	TaskCounts map[string]int
	Tasks      map[item]map[string]string
	// Inconsistent connectors saw a commit without all its task configs
	// (compaction after a failed write): their tasks wait for new configs.
	Inconsistent map[string]bool
	// FenceCounts are the task counts of the tasks-fencing-<name> records:
	// how many transactional ids the next fencing of a connector covers.
	FenceCounts map[string]int
}

func (s *configSnapshot) target(conn string) targetState {
	if t, ok := s.Targets[conn]; ok {
		return t
	}
	return targetStarted
}

// taskConfigs returns a connector's committed task configs, in order.
func (s *configSnapshot) taskConfigs(conn string) []map[string]string {
	n := s.TaskCounts[conn]
	out := make([]map[string]string, 0, n)
	for i := range n {
		out = append(out, s.Tasks[item{conn, int32(i)}])
	}
	return out
}

// work is what the assignor hands out: every connector, and the tasks of
// every connector that is not inconsistent.
func (s *configSnapshot) work() []item {
	var out []item
	for c := range s.Connectors {
		out = append(out, item{c, connectorTask})
		if s.Inconsistent[c] {
			continue
		}
		for i := range s.TaskCounts[c] {
			out = append(out, item{c, int32(i)})
		}
	}
	sortItems(out)
	return out
}

// configStore reads and writes the config topic.
type configStore struct {
	log *kafkaLog
	l   *slog.Logger
	// changed is called after each record is applied, with the
	// connector it concerns.
	changed func(connector string)

	// loggerLevel sets a logging level of this worker, for the
	// logger-cluster- records after loggersFrom: those written before the
	// worker started are not applied (as in Kafka: levels set at run time
	// do not outlive a worker).
	loggerLevel func(namespace, level string)
	loggersFrom int64

	mu       sync.Mutex
	state    configSnapshot
	deferred map[string]map[int32]map[string]string
	restarts []restartRequest
}

func newConfigStore(l *slog.Logger, changed func(string)) *configStore {
	return &configStore{l: l, changed: changed, loggersFrom: math.MaxInt64, deferred: map[string]map[int32]map[string]string{},
		state: configSnapshot{Offset: -1, Connectors: map[string]map[string]string{}, Targets: map[string]targetState{},
			TaskCounts: map[string]int{}, Tasks: map[item]map[string]string{}, Inconsistent: map[string]bool{}, FenceCounts: map[string]int{}}}
}

// snapshot returns a copy of the state; the config maps in it are shared
// and must not be changed.
func (c *configStore) snapshot() *configSnapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	s.Connectors = maps.Clone(s.Connectors)
	s.Targets = maps.Clone(s.Targets)
	s.TaskCounts = maps.Clone(s.TaskCounts)
	s.Tasks = maps.Clone(s.Tasks)
	s.Inconsistent = maps.Clone(s.Inconsistent)
	s.FenceCounts = maps.Clone(s.FenceCounts)
	return &s
}

// restartsAfter returns the restart requests at offsets after off.
func (c *configStore) restartsAfter(off int64) []restartRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []restartRequest
	for _, r := range c.restarts {
		if r.Offset > off {
			out = append(out, r)
		}
	}
	return out
}

type propsValue struct {
	Properties map[string]*string `json:"properties"`
}

func decodeProps(b []byte) (map[string]string, error) {
	var v propsValue
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	if v.Properties == nil {
		return nil, fmt.Errorf("no properties")
	}
	out := make(map[string]string, len(v.Properties))
	for k, p := range v.Properties {
		if p != nil {
			out[k] = *p
		}
	}
	return out, nil
}

func encodeProps(props map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"properties": props})
	return b
}

// splitTaskKey splits "<name>-<n>" at the last dash.
func splitTaskKey(s string) (string, int32, bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(s[i+1:], 10, 32)
	if err != nil || n < 0 {
		return "", 0, false
	}
	return s[:i], int32(n), true
}

// apply reads one record of the config topic.
func (c *configStore) apply(r *kgo.Record) {
	key := string(r.Key)
	conn := c.applyLocked(key, r.Value, r.Offset)
	if conn != "" && c.changed != nil {
		c.changed(conn)
	}
}

func (c *configStore) applyLocked(key string, value []byte, offset int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.state
	s.Offset = offset
	bad := func(err error) string {
		c.l.Error("connect: unreadable record in the config topic, ignored", "key", key, "offset", offset, "error", err)
		return ""
	}
	switch {
	case strings.HasPrefix(key, "connector-"):
		name := strings.TrimPrefix(key, "connector-")
		if value == nil {
			delete(s.Connectors, name)
			delete(s.Targets, name)
			delete(s.TaskCounts, name)
			delete(s.Inconsistent, name)
			delete(s.FenceCounts, name)
			delete(c.deferred, name)
			for it := range s.Tasks {
				if it.Connector == name {
					delete(s.Tasks, it)
				}
			}
			return name
		}
		props, err := decodeProps(value)
		if err != nil {
			return bad(err)
		}
		s.Connectors[name] = props
		return name
	case strings.HasPrefix(key, "task-"):
		name, n, ok := splitTaskKey(strings.TrimPrefix(key, "task-"))
		if !ok {
			return bad(fmt.Errorf("not task-<connector>-<n>"))
		}
		if value == nil {
			return ""
		}
		props, err := decodeProps(value)
		if err != nil {
			return bad(err)
		}
		if c.deferred[name] == nil {
			c.deferred[name] = map[int32]map[string]string{}
		}
		c.deferred[name][n] = props
		return ""
	case strings.HasPrefix(key, "commit-"):
		name := strings.TrimPrefix(key, "commit-")
		if value == nil {
			return ""
		}
		var v struct {
			Tasks *int `json:"tasks"`
		}
		if err := json.Unmarshal(value, &v); err != nil || v.Tasks == nil || *v.Tasks < 0 {
			return bad(fmt.Errorf("not {\"tasks\":N}: %s", value))
		}
		n := *v.Tasks
		updates := c.deferred[name]
		complete := true
		for i := range n {
			if _, ok := updates[int32(i)]; !ok {
				complete = false
			}
		}
		if !complete {
			// Some of the configs were compacted away or never written:
			// the connector must produce them again.
			c.l.Warn("connect: task configs of a commit are missing; the connector's tasks wait for new ones", "connector", name, "tasks", n)
			s.Inconsistent[name] = true
			return name
		}
		for it := range s.Tasks {
			if it.Connector == name {
				delete(s.Tasks, it)
			}
		}
		for i := range n {
			s.Tasks[item{name, int32(i)}] = updates[int32(i)]
		}
		s.TaskCounts[name] = n
		delete(s.Inconsistent, name)
		delete(c.deferred, name)
		return name
	case strings.HasPrefix(key, "target-state-"):
		name := strings.TrimPrefix(key, "target-state-")
		if value == nil {
			delete(s.Targets, name)
			return name
		}
		var v struct {
			State   string `json:"state"`
			StateV2 string `json:"state.v2"`
		}
		if err := json.Unmarshal(value, &v); err != nil {
			return bad(err)
		}
		st := targetState(v.StateV2)
		if st == "" {
			st = targetState(v.State)
		}
		switch st {
		case targetStarted, targetPaused, targetStopped:
			s.Targets[name] = st
		default:
			return bad(fmt.Errorf("unknown target state %q", st))
		}
		return name
	case strings.HasPrefix(key, "restart-connector-"):
		name := strings.TrimPrefix(key, "restart-connector-")
		if value == nil {
			return ""
		}
		var v struct {
			IncludeTasks bool `json:"include-tasks"`
			OnlyFailed   bool `json:"only-failed"`
		}
		if err := json.Unmarshal(value, &v); err != nil {
			return bad(err)
		}
		c.restarts = append(c.restarts, restartRequest{Connector: name, IncludeTasks: v.IncludeTasks, OnlyFailed: v.OnlyFailed, Offset: offset})
		if len(c.restarts) > 1000 {
			c.restarts = c.restarts[len(c.restarts)-1000:]
		}
		return name
	case strings.HasPrefix(key, "tasks-fencing-"):
		name := strings.TrimPrefix(key, "tasks-fencing-")
		if value == nil {
			delete(s.FenceCounts, name)
			return ""
		}
		var v struct {
			Count *int `json:"task-count"`
		}
		if err := json.Unmarshal(value, &v); err != nil || v.Count == nil || *v.Count < 0 {
			return bad(fmt.Errorf("not {\"task-count\":N}: %s", value))
		}
		s.FenceCounts[name] = *v.Count
		return ""
	case strings.HasPrefix(key, "logger-cluster-"):
		ns := strings.TrimPrefix(key, "logger-cluster-")
		if value == nil || offset <= c.loggersFrom || c.loggerLevel == nil {
			return ""
		}
		var v struct {
			Level string `json:"level"`
		}
		if err := json.Unmarshal(value, &v); err != nil || v.Level == "" {
			return bad(fmt.Errorf("not {\"level\":...}: %s", value))
		}
		c.l.Info("connect: setting a logging level for the cluster", "namespace", ns, "level", v.Level)
		c.loggerLevel(ns, v.Level)
		return ""
	}
	// session-key and others of Kafka's: not used here.
	return ""
}

// The writes below are the leader's.

// putConnector writes a connector's config, and before it, when given,
// its initial target state; it returns once this worker has read it back.
func (c *configStore) putConnector(ctx context.Context, name string, props map[string]string, initial targetState) error {
	var recs []*kgo.Record
	if initial != "" {
		recs = append(recs, &kgo.Record{Key: []byte("target-state-" + name), Value: encodeTarget(initial)})
	}
	recs = append(recs, &kgo.Record{Key: []byte("connector-" + name), Value: encodeProps(props)})
	return c.write(ctx, recs)
}

// removeConnector deletes a connector's config and target state.
func (c *configStore) removeConnector(ctx context.Context, name string) error {
	return c.write(ctx, []*kgo.Record{{Key: []byte("connector-" + name)}, {Key: []byte("target-state-" + name)}})
}

func encodeTarget(t targetState) []byte {
	legacy := t
	if t == targetStopped {
		legacy = targetPaused // what workers older than KIP-875 understand
	}
	b, _ := json.Marshal(map[string]string{"state": string(legacy), "state.v2": string(t)})
	return b
}

// putTarget writes a connector's target state.
func (c *configStore) putTarget(ctx context.Context, name string, t targetState) error {
	return c.write(ctx, []*kgo.Record{{Key: []byte("target-state-" + name), Value: encodeTarget(t)}})
}

// putTaskConfigs writes a connector's task configs and their commit;
// with fenced, after them the tasks-fencing-<name> record of the new
// generation (its earlier generation was fenced).
func (c *configStore) putTaskConfigs(ctx context.Context, name string, cfgs []map[string]string, fenced bool) error {
	var recs []*kgo.Record
	for i, cfg := range cfgs {
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprintf("task-%s-%d", name, i)), Value: encodeProps(cfg)})
	}
	commit, _ := json.Marshal(map[string]int{"tasks": len(cfgs)})
	recs = append(recs, &kgo.Record{Key: []byte("commit-" + name), Value: commit})
	if fenced {
		count, _ := json.Marshal(map[string]int{"task-count": len(cfgs)})
		recs = append(recs, &kgo.Record{Key: []byte("tasks-fencing-" + name), Value: count})
	}
	return c.write(ctx, recs)
}

// startLoggerLevels makes the logger-cluster- records read from now on
// set logging levels here; the ones already read stay ignored.
func (c *configStore) startLoggerLevels() {
	c.mu.Lock()
	c.loggersFrom = c.state.Offset
	c.mu.Unlock()
}

// putLoggerLevel writes a logging level for every worker; it returns once
// this worker has read it back (and set it).
func (c *configStore) putLoggerLevel(ctx context.Context, namespace, level string) error {
	b, _ := json.Marshal(map[string]string{"level": level})
	return c.write(ctx, []*kgo.Record{{Key: []byte("logger-cluster-" + namespace), Value: b}})
}

// putRestart writes a restart request.
func (c *configStore) putRestart(ctx context.Context, name string, includeTasks, onlyFailed bool) error {
	b, _ := json.Marshal(map[string]bool{"include-tasks": includeTasks, "only-failed": onlyFailed})
	return c.write(ctx, []*kgo.Record{{Key: []byte("restart-connector-" + name), Value: b}})
}

// write sends records in order and waits until they are read back.
func (c *configStore) write(ctx context.Context, recs []*kgo.Record) error {
	if err := c.log.sendAll(ctx, recs); err != nil {
		return err
	}
	last := recs[len(recs)-1]
	return c.log.waitApplied(ctx, last.Partition, last.Offset)
}
