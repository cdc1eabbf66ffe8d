package distributed

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The status topic (status.storage.topic, compacted) holds, with Kafka
// Connect's keys and values:
//
//	status-connector-<name>             {"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":3}
//	status-task-<name>-<n>              the same for a task
//	status-topic-<topic>:connector-<name>  {"topic":{"name":...,"connector":...,"task":0,"discoverTimestamp":...}}
//
// Each worker writes the states of what it runs, with the group generation
// it runs it in; every worker reads them all to answer the REST API. A
// state written in an older generation than the one shown is ignored: it
// comes from a worker that no longer runs that connector or task.

// status is one connector's or task's state.
type status struct {
	State      string  `json:"state"`
	Trace      *string `json:"trace"`
	WorkerID   string  `json:"worker_id"`
	Generation int32   `json:"generation"`
}

type statusStore struct {
	log *kafkaLog
	l   *slog.Logger

	mu         sync.Mutex
	connectors map[string]status
	tasks      map[item]status
	topics     map[string]map[string]bool // connector → topics
}

func newStatusStore(l *slog.Logger) *statusStore {
	return &statusStore{l: l, connectors: map[string]status{}, tasks: map[item]status{}, topics: map[string]map[string]bool{}}
}

func (s *statusStore) apply(r *kgo.Record) {
	key := string(r.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := func(err error) {
		s.l.Warn("connect: unreadable record in the status topic, ignored", "key", key, "offset", r.Offset, "error", err)
	}
	switch {
	case strings.HasPrefix(key, "status-connector-"):
		name := strings.TrimPrefix(key, "status-connector-")
		if r.Value == nil {
			delete(s.connectors, name)
			return
		}
		var st status
		if err := json.Unmarshal(r.Value, &st); err != nil {
			bad(err)
			return
		}
		if old, ok := s.connectors[name]; !ok || st.Generation >= old.Generation {
			s.connectors[name] = st
		}
	case strings.HasPrefix(key, "status-task-"):
		name, n, ok := splitTaskKey(strings.TrimPrefix(key, "status-task-"))
		if !ok {
			bad(fmt.Errorf("not status-task-<connector>-<n>"))
			return
		}
		it := item{name, n}
		if r.Value == nil {
			delete(s.tasks, it)
			return
		}
		var st status
		if err := json.Unmarshal(r.Value, &st); err != nil {
			bad(err)
			return
		}
		if old, ok := s.tasks[it]; !ok || st.Generation >= old.Generation {
			s.tasks[it] = st
		}
	case strings.HasPrefix(key, "status-topic-"):
		rest := strings.TrimPrefix(key, "status-topic-")
		i := strings.LastIndex(rest, ":connector-")
		if i < 0 {
			bad(fmt.Errorf("not status-topic-<topic>:connector-<name>"))
			return
		}
		topic, conn := rest[:i], rest[i+len(":connector-"):]
		if r.Value == nil {
			delete(s.topics[conn], topic)
			return
		}
		if s.topics[conn] == nil {
			s.topics[conn] = map[string]bool{}
		}
		s.topics[conn][topic] = true
	}
}

func encodeStatus(state, trace, worker string, gen int32) []byte {
	st := status{State: state, WorkerID: worker, Generation: gen}
	if trace != "" {
		st.Trace = &trace
	}
	b, _ := json.Marshal(st)
	return b
}

// putConnector writes a connector's state.
func (s *statusStore) putConnector(name, state, trace, worker string, gen int32) {
	s.log.sendAsync("status-connector-"+name, encodeStatus(state, trace, worker, gen))
}

// putTask writes a task's state.
func (s *statusStore) putTask(it item, state, trace, worker string, gen int32) {
	s.log.sendAsync(fmt.Sprintf("status-task-%s-%d", it.Connector, it.Task), encodeStatus(state, trace, worker, gen))
}

// putTopic records a topic a connector's task used.
func (s *statusStore) putTopic(conn, topic string, task int) {
	s.mu.Lock()
	seen := s.topics[conn][topic]
	s.mu.Unlock()
	if seen {
		return
	}
	b, _ := json.Marshal(map[string]any{"topic": map[string]any{"name": topic, "connector": conn, "task": task,
		"discoverTimestamp": time.Now().UnixMilli()}})
	s.log.sendAsync("status-topic-"+topic+":connector-"+conn, b)
}

// resetTopics forgets the topics a connector used.
func (s *statusStore) resetTopics(conn string) {
	for _, t := range s.connectorTopics(conn) {
		s.log.sendAsync("status-topic-"+t+":connector-"+conn, nil)
	}
}

// remove deletes a deleted connector's states.
func (s *statusStore) remove(conn string) {
	s.mu.Lock()
	var tasks []item
	for it := range s.tasks {
		if it.Connector == conn {
			tasks = append(tasks, it)
		}
	}
	s.mu.Unlock()
	s.log.sendAsync("status-connector-"+conn, nil)
	for _, it := range tasks {
		s.log.sendAsync(fmt.Sprintf("status-task-%s-%d", it.Connector, it.Task), nil)
	}
}

func (s *statusStore) connector(name string) (status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.connectors[name]
	return st, ok
}

func (s *statusStore) task(it item) (status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.tasks[it]
	return st, ok
}

func (s *statusStore) connectorTopics(conn string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.topics[conn]))
	for t := range s.topics[conn] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
