package runtime

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
)

// The shapes below are the JSON of Kafka Connect's REST API.

// ConnectorTaskID names a task.
type ConnectorTaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorInfo is GET /connectors/{name}.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []ConnectorTaskID `json:"tasks"`
	Type   string            `json:"type"`
}

// StateInfo is a connector's or task's state.
type StateInfo struct {
	ID       *int   `json:"id,omitempty"`
	State    State  `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// ConnectorStatus is GET /connectors/{name}/status.
type ConnectorStatus struct {
	Name      string      `json:"name"`
	Connector StateInfo   `json:"connector"`
	Tasks     []StateInfo `json:"tasks"`
	Type      string      `json:"type"`
}

// TaskInfo is one element of GET /connectors/{name}/tasks.
type TaskInfo struct {
	ID     ConnectorTaskID   `json:"id"`
	Config map[string]string `json:"config"`
}

// OffsetInfo is one element of GET /connectors/{name}/offsets.
type OffsetInfo struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// Connectors returns the connectors' names, sorted.
func (h *Herder) Connectors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.connectors))
	for n := range h.connectors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (cr *connectorRun) typeName() string { return string(cr.plugin.Type) }

// ConnectorInfo describes a connector.
func (h *Herder) ConnectorInfo(name string) (ConnectorInfo, error) {
	cr, err := h.get(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	info := ConnectorInfo{Name: name, Config: maps.Clone(cr.props), Type: cr.typeName(), Tasks: []ConnectorTaskID{}}
	cr.mu.Lock()
	for _, t := range cr.tasks {
		info.Tasks = append(info.Tasks, ConnectorTaskID{Connector: name, Task: t.id})
	}
	cr.mu.Unlock()
	return info, nil
}

// ConnectorStatus returns a connector's and its tasks' states.
func (h *Herder) ConnectorStatus(name string) (ConnectorStatus, error) {
	cr, err := h.get(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	st, trace := cr.status.get()
	out := ConnectorStatus{Name: name, Type: cr.typeName(), Tasks: []StateInfo{},
		Connector: StateInfo{State: st, WorkerID: h.workerID, Trace: trace}}
	cr.mu.Lock()
	for _, t := range cr.tasks {
		s, tr := t.status.get()
		id := t.id
		out.Tasks = append(out.Tasks, StateInfo{ID: &id, State: s, WorkerID: h.workerID, Trace: tr})
	}
	cr.mu.Unlock()
	return out, nil
}

// TaskConfigs returns a connector's tasks and their configs.
func (h *Herder) TaskConfigs(name string) ([]TaskInfo, error) {
	cr, err := h.get(name)
	if err != nil {
		return nil, err
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	out := []TaskInfo{}
	for _, t := range cr.tasks {
		out = append(out, TaskInfo{ID: ConnectorTaskID{Connector: name, Task: t.id}, Config: maps.Clone(t.config)})
	}
	return out, nil
}

// TaskStatus returns one task's state.
func (h *Herder) TaskStatus(name string, id int) (StateInfo, error) {
	cr, err := h.get(name)
	if err != nil {
		return StateInfo{}, err
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, t := range cr.tasks {
		if t.id == id {
			s, tr := t.status.get()
			return StateInfo{ID: &id, State: s, WorkerID: h.workerID, Trace: tr}, nil
		}
	}
	return StateInfo{}, fmt.Errorf("Task %s-%d not found: %w", name, id, errNotFound)
}

// ActiveTopics returns the topics a connector has used since it started.
func (h *Herder) ActiveTopics(name string) ([]string, error) {
	cr, err := h.get(name)
	if err != nil {
		return nil, err
	}
	return cr.topics.list(), nil
}

// Offsets returns a connector's offsets: a source's stored offsets, or a
// sink's committed group offsets ({"kafka_topic","kafka_partition"} →
// {"kafka_offset"}), as Kafka's GET /connectors/{name}/offsets.
func (h *Herder) Offsets(ctx context.Context, name string) ([]OffsetInfo, error) {
	cr, err := h.get(name)
	if err != nil {
		return nil, err
	}
	out := []OffsetInfo{}
	if cr.plugin.Type == connect.SourcePlugin {
		for _, e := range h.store.Entries(name) {
			out = append(out, OffsetInfo{Partition: e.Partition, Offset: e.Offset})
		}
		return out, nil
	}
	opts, err := h.clientOpts(adminClient, cr.props)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, "connect-"+name)
	if err != nil {
		return nil, fmt.Errorf("fetch the offsets of group connect-%s: %w", name, err)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		out = append(out, OffsetInfo{
			Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": int64(o.Partition)},
			Offset:    map[string]any{"kafka_offset": o.At},
		})
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Partition, out[j].Partition
		if a["kafka_topic"] != b["kafka_topic"] {
			return a["kafka_topic"].(string) < b["kafka_topic"].(string)
		}
		return a["kafka_partition"].(int64) < b["kafka_partition"].(int64)
	})
	return out, nil
}

// TaskID formats a task's id as Kafka does, connector-n.
func TaskID(connector string, task int) string { return connector + "-" + strconv.Itoa(task) }
