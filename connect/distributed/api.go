package distributed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/offsets"
	"github.com/sluicehq/sluice/connect/rest"
	"github.com/sluicehq/sluice/connect/runtime"
)

// The REST API's view of the cluster. Reads are answered by any worker
// from its copy of the config and status topics; writes are the leader's
// (others answer *rest.NotHereError and the API forwards them).

var (
	_ rest.Herder          = (*Herder)(nil)
	_ rest.Writer          = (*Herder)(nil)
	_ rest.ConfigValidator = (*Herder)(nil)
)

func notFound(name string) error {
	return rest.Errorf(http.StatusNotFound, "Connector %s not found", name)
}

// ClusterID is the Kafka cluster's id.
func (h *Herder) ClusterID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.clusterID
}

// Registry returns the plugins.
func (h *Herder) Registry() *connect.Registry { return h.reg }

func (h *Herder) runtime() *runtime.Herder {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.ready {
		return nil
	}
	return h.worker
}

// Connectors returns the connectors' names, sorted.
func (h *Herder) Connectors() []string {
	snap := h.configs.snapshot()
	out := slices.Sorted(maps.Keys(snap.Connectors))
	if out == nil {
		out = []string{}
	}
	return out
}

func (h *Herder) typeOf(props map[string]string) string {
	if p, err := h.reg.Lookup(props[runtime.ConnectorClass], connect.SourcePlugin, connect.SinkPlugin); err == nil {
		return string(p.Type)
	}
	return "unknown"
}

func (h *Herder) info(snap *configSnapshot, name string) runtime.ConnectorInfo {
	props := snap.Connectors[name]
	info := runtime.ConnectorInfo{Name: name, Config: maps.Clone(props), Type: h.typeOf(props), Tasks: []runtime.ConnectorTaskID{}}
	for i := range snap.TaskCounts[name] {
		info.Tasks = append(info.Tasks, runtime.ConnectorTaskID{Connector: name, Task: i})
	}
	return info
}

// ConnectorInfo describes a connector.
func (h *Herder) ConnectorInfo(name string) (runtime.ConnectorInfo, error) {
	snap := h.configs.snapshot()
	if _, ok := snap.Connectors[name]; !ok {
		return runtime.ConnectorInfo{}, notFound(name)
	}
	return h.info(snap, name), nil
}

func stateInfo(st status, ok bool, id *int) runtime.StateInfo {
	if !ok {
		return runtime.StateInfo{ID: id, State: runtime.StateUnassigned}
	}
	si := runtime.StateInfo{ID: id, State: runtime.State(st.State), WorkerID: st.WorkerID}
	if st.Trace != nil {
		si.Trace = *st.Trace
	}
	return si
}

// ConnectorStatus returns a connector's and its tasks' states, as the
// status topic has them (UNASSIGNED before any worker wrote one).
func (h *Herder) ConnectorStatus(name string) (runtime.ConnectorStatus, error) {
	snap := h.configs.snapshot()
	props, ok := snap.Connectors[name]
	if !ok {
		return runtime.ConnectorStatus{}, notFound(name)
	}
	st, found := h.statuses.connector(name)
	out := runtime.ConnectorStatus{Name: name, Type: h.typeOf(props), Connector: stateInfo(st, found, nil), Tasks: []runtime.StateInfo{}}
	for i := range snap.TaskCounts[name] {
		ts, found := h.statuses.task(item{name, int32(i)})
		out.Tasks = append(out.Tasks, stateInfo(ts, found, &i))
	}
	return out, nil
}

// TaskConfigs returns a connector's tasks and their configs.
func (h *Herder) TaskConfigs(name string) ([]runtime.TaskInfo, error) {
	snap := h.configs.snapshot()
	if _, ok := snap.Connectors[name]; !ok {
		return nil, notFound(name)
	}
	out := []runtime.TaskInfo{}
	for i, cfg := range snap.taskConfigs(name) {
		out = append(out, runtime.TaskInfo{ID: runtime.ConnectorTaskID{Connector: name, Task: i}, Config: maps.Clone(cfg)})
	}
	return out, nil
}

// TaskStatus returns one task's state.
func (h *Herder) TaskStatus(name string, task int) (runtime.StateInfo, error) {
	snap := h.configs.snapshot()
	if _, ok := snap.Connectors[name]; !ok {
		return runtime.StateInfo{}, notFound(name)
	}
	if task < 0 || task >= snap.TaskCounts[name] {
		return runtime.StateInfo{}, rest.Errorf(http.StatusNotFound, "Task %s-%d not found", name, task)
	}
	st, found := h.statuses.task(item{name, int32(task)})
	return stateInfo(st, found, &task), nil
}

// ActiveTopics returns the topics a connector used.
func (h *Herder) ActiveTopics(name string) ([]string, error) {
	if _, ok := h.configs.snapshot().Connectors[name]; !ok {
		return nil, notFound(name)
	}
	return h.statuses.connectorTopics(name), nil
}

// Offsets returns a source connector's offsets from the offset topic, or
// a sink connector's committed consumer group offsets.
func (h *Herder) Offsets(ctx context.Context, name string) ([]runtime.OffsetInfo, error) {
	props, ok := h.configs.snapshot().Connectors[name]
	if !ok {
		return nil, notFound(name)
	}
	w := h.runtime()
	if w == nil {
		return nil, rebalancing()
	}
	if h.typeOf(props) == string(connect.SourcePlugin) {
		if err := h.offsets.log.readToEnd(ctx); err != nil {
			return nil, err
		}
		out := []runtime.OffsetInfo{}
		for _, e := range h.offsets.Entries(name) {
			out = append(out, runtime.OffsetInfo{Partition: e.Partition, Offset: e.Offset})
		}
		return out, nil
	}
	adm, closeAdm, err := h.sinkAdmin(w, props)
	if err != nil {
		return nil, err
	}
	defer closeAdm()
	resp, err := adm.FetchOffsets(ctx, sinkGroup(name, props))
	if err != nil {
		return nil, fmt.Errorf("fetch the offsets of group %s: %w", sinkGroup(name, props), err)
	}
	out := []runtime.OffsetInfo{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			out = append(out, runtime.OffsetInfo{
				Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": int64(o.Partition)},
				Offset:    map[string]any{"kafka_offset": o.At}})
		}
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

// sinkGroup is a sink connector's consumer group.
func sinkGroup(name string, _ map[string]string) string { return "connect-" + name }

func (h *Herder) sinkAdmin(w *runtime.Herder, props map[string]string) (*kadm.Client, func(), error) {
	opts, err := w.AdminOptions(props)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// ValidateConnector checks a connector config.
func (h *Herder) ValidateConnector(props map[string]string) (*runtime.Validation, error) {
	w := h.runtime()
	if w == nil {
		return nil, rebalancing()
	}
	return w.ValidateConnector(props)
}

func rebalancing() error {
	return rest.Errorf(http.StatusConflict, "Cannot complete request because of a conflicting operation (e.g. worker rebalance)")
}

// leader returns the config snapshot, read to the end of the config
// topic, when this worker leads; otherwise an error that sends the
// request to the leader, or 409 during a rebalance.
func (h *Herder) leader(ctx context.Context) (*configSnapshot, error) {
	h.mu.Lock()
	ready, reb, isLeader, url := h.ready, h.rebalancing, h.isLeader, h.leaderURL
	h.mu.Unlock()
	switch {
	case !ready || reb || url == "":
		return nil, rebalancing()
	case !isLeader:
		return nil, &rest.NotHereError{URL: url, Why: "this worker is not the leader"}
	}
	if err := h.configs.log.readToEnd(ctx); err != nil {
		return nil, err
	}
	return h.configs.snapshot(), nil
}

// validate checks a config for a write: 400 with every problem.
func (h *Herder) validate(props map[string]string) error {
	v, err := h.worker.ValidateConnector(props)
	if err != nil {
		return rest.Errorf(http.StatusBadRequest, "%v", err)
	}
	if n := v.ErrorCount(); n > 0 {
		return rest.Errorf(http.StatusBadRequest, "Connector configuration is invalid and contains the following %d error(s):\n%s\n"+
			"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
			n, strings.Join(v.Messages(), "\n"))
	}
	return nil
}

// CreateConnector creates a connector.
func (h *Herder) CreateConnector(ctx context.Context, name string, config map[string]string, initialState string) (runtime.ConnectorInfo, error) {
	snap, err := h.leader(ctx)
	if err != nil {
		return runtime.ConnectorInfo{}, err
	}
	if _, exists := snap.Connectors[name]; exists {
		return runtime.ConnectorInfo{}, rest.Errorf(http.StatusConflict, "Connector %s already exists", name)
	}
	if err := h.validate(config); err != nil {
		return runtime.ConnectorInfo{}, err
	}
	target := map[string]targetState{"": "", "RUNNING": targetStarted, "PAUSED": targetPaused, "STOPPED": targetStopped}[initialState]
	if err := h.configs.putConnector(ctx, name, config, target); err != nil {
		return runtime.ConnectorInfo{}, err
	}
	h.log.Info("connect: created connector", "connector", name)
	return h.info(h.configs.snapshot(), name), nil
}

// PutConnectorConfig creates or replaces a connector's config.
func (h *Herder) PutConnectorConfig(ctx context.Context, name string, config map[string]string) (runtime.ConnectorInfo, bool, error) {
	snap, err := h.leader(ctx)
	if err != nil {
		return runtime.ConnectorInfo{}, false, err
	}
	_, exists := snap.Connectors[name]
	if err := h.validate(config); err != nil {
		return runtime.ConnectorInfo{}, false, err
	}
	if err := h.configs.putConnector(ctx, name, config, ""); err != nil {
		return runtime.ConnectorInfo{}, false, err
	}
	return h.info(h.configs.snapshot(), name), !exists, nil
}

// PatchConnectorConfig changes some of a connector's settings.
func (h *Herder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (runtime.ConnectorInfo, error) {
	snap, err := h.leader(ctx)
	if err != nil {
		return runtime.ConnectorInfo{}, err
	}
	old, exists := snap.Connectors[name]
	if !exists {
		return runtime.ConnectorInfo{}, notFound(name)
	}
	cfg := maps.Clone(old)
	for k, v := range patch {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = *v
		}
	}
	if err := h.validate(cfg); err != nil {
		return runtime.ConnectorInfo{}, err
	}
	if err := h.configs.putConnector(ctx, name, cfg, ""); err != nil {
		return runtime.ConnectorInfo{}, err
	}
	return h.info(h.configs.snapshot(), name), nil
}

// existing is leader() for a connector that must exist.
func (h *Herder) existing(ctx context.Context, name string) (*configSnapshot, error) {
	snap, err := h.leader(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := snap.Connectors[name]; !ok {
		return nil, notFound(name)
	}
	return snap, nil
}

// DeleteConnector deletes a connector.
func (h *Herder) DeleteConnector(ctx context.Context, name string) error {
	if _, err := h.existing(ctx, name); err != nil {
		return err
	}
	h.log.Info("connect: deleting connector", "connector", name)
	return h.configs.removeConnector(ctx, name)
}

// PauseConnector pauses a connector and its tasks.
func (h *Herder) PauseConnector(ctx context.Context, name string) error {
	if _, err := h.existing(ctx, name); err != nil {
		return err
	}
	return h.configs.putTarget(ctx, name, targetPaused)
}

// ResumeConnector resumes a paused or stopped connector.
func (h *Herder) ResumeConnector(ctx context.Context, name string) error {
	if _, err := h.existing(ctx, name); err != nil {
		return err
	}
	return h.configs.putTarget(ctx, name, targetStarted)
}

// StopConnector stops a connector and removes its tasks (KIP-875): its
// offsets may then be changed.
func (h *Herder) StopConnector(ctx context.Context, name string) error {
	if _, err := h.existing(ctx, name); err != nil {
		return err
	}
	if err := h.configs.putTarget(ctx, name, targetStopped); err != nil {
		return err
	}
	return h.writeTaskConfigs(ctx, name, nil)
}

// RestartConnector asks the workers that run a connector (and its tasks)
// to restart them, through a restart request in the config topic.
func (h *Herder) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*runtime.ConnectorStatus, error) {
	if _, err := h.existing(ctx, name); err != nil {
		return nil, err
	}
	if err := h.configs.putRestart(ctx, name, includeTasks, onlyFailed); err != nil {
		return nil, err
	}
	if !includeTasks && !onlyFailed {
		return nil, nil
	}
	st, err := h.ConnectorStatus(name)
	if err != nil {
		return nil, err
	}
	// What the request restarts shows RESTARTING, as Kafka answers.
	if !onlyFailed || st.Connector.State == runtime.StateFailed {
		st.Connector.State = runtime.StateRestarting
	}
	for i := range st.Tasks {
		if includeTasks && (!onlyFailed || st.Tasks[i].State == runtime.StateFailed) {
			st.Tasks[i].State = runtime.StateRestarting
		}
	}
	return &st, nil
}

// RestartTask restarts one task on the worker that runs it.
func (h *Herder) RestartTask(ctx context.Context, name string, task int) error {
	snap := h.configs.snapshot()
	if _, ok := snap.Connectors[name]; !ok {
		return notFound(name)
	}
	if task < 0 || task >= snap.TaskCounts[name] {
		return rest.Errorf(http.StatusNotFound, "Task %s-%d not found", name, task)
	}
	it := item{name, int32(task)}
	h.workMu.Lock()
	if h.owned[it] && !h.stopping {
		h.restartTaskLocked(ctx, it, h.configs.snapshot())
		h.workMu.Unlock()
		return nil
	}
	h.workMu.Unlock()
	h.mu.Lock()
	isLeader, leaderURL, owner := h.isLeader, h.leaderURL, h.ownerURL[it]
	reb := h.rebalancing
	h.mu.Unlock()
	switch {
	case reb || leaderURL == "":
		return rebalancing()
	case !isLeader:
		return &rest.NotHereError{URL: leaderURL, Why: "this worker does not run the task and is not the leader"}
	case owner == "" || owner == h.url:
		return rest.Errorf(http.StatusConflict, "Task %s-%d is not assigned to any worker yet", name, task)
	}
	return &rest.NotHereError{URL: owner, Why: "another worker runs the task"}
}

// PutTaskConfigs writes the task configs a connector produced.
func (h *Herder) PutTaskConfigs(ctx context.Context, name string, cfgs []map[string]string) error {
	if _, err := h.existing(ctx, name); err != nil {
		return err
	}
	return h.writeTaskConfigs(ctx, name, cfgs)
}

// submitTaskConfigs sends task configs to the leader, or writes them when
// this worker leads.
func (h *Herder) submitTaskConfigs(ctx context.Context, name string, cfgs []map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	h.mu.Lock()
	isLeader, url, reb := h.isLeader, h.leaderURL, h.rebalancing
	h.mu.Unlock()
	if reb || url == "" {
		return errors.New("a rebalance is in progress")
	}
	if isLeader {
		return h.PutTaskConfigs(ctx, name, cfgs)
	}
	body, err := json.Marshal(cfgs)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/connectors/"+name+"/tasks?forward=false", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("send task configs to the leader at %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("the leader at %s refused the task configs: HTTP %d: %s", url, resp.StatusCode, e.Message)
	}
	return nil
}

// stopped checks a connector may have its offsets changed: it is STOPPED
// and its empty task configs are committed.
func stopped(snap *configSnapshot, name string) error {
	if snap.target(name) != targetStopped || snap.TaskCounts[name] != 0 {
		return rest.Errorf(http.StatusBadRequest, "Connectors must be in the STOPPED state before their offsets can be modified. "+
			"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	return nil
}

// jsonNumbers turns the json.Number values of a decoded body into int64
// (or float64), as offsets read from Kafka are.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonNumbers(e)
		}
		return out
	}
	return v
}

// AlterOffsets changes a stopped connector's offsets (PATCH
// /connectors/{name}/offsets): a source's in the offset topic, a sink's in
// its consumer group. A null offset removes one.
func (h *Herder) AlterOffsets(ctx context.Context, name string, offs []runtime.OffsetInfo) (string, error) {
	snap, err := h.existing(ctx, name)
	if err != nil {
		return "", err
	}
	if err := stopped(snap, name); err != nil {
		return "", err
	}
	props := snap.Connectors[name]
	if h.typeOf(props) == string(connect.SourcePlugin) {
		var entries []offsets.Entry
		for _, o := range offs {
			if o.Partition == nil {
				return "", rest.Errorf(http.StatusBadRequest, "Source partitions may not be null")
			}
			e := offsets.Entry{Partition: jsonNumbers(o.Partition).(map[string]any)}
			if o.Offset != nil {
				e.Offset = jsonNumbers(o.Offset).(map[string]any)
			}
			entries = append(entries, e)
		}
		if err := h.offsets.write(name, entries); err != nil {
			return "", err
		}
		return "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.", nil
	}
	commit := kadm.Offsets{}
	del := map[string][]int32{}
	for _, o := range offs {
		p := jsonNumbers(o.Partition)
		pm, _ := p.(map[string]any)
		topic, tok := pm["kafka_topic"].(string)
		part, pok := pm["kafka_partition"].(int64)
		if !tok || !pok {
			return "", rest.Errorf(http.StatusBadRequest, "Sink connector partitions must be {\"kafka_topic\": string, \"kafka_partition\": integer}: %v", o.Partition)
		}
		if o.Offset == nil {
			del[topic] = append(del[topic], int32(part))
			continue
		}
		off, ok := jsonNumbers(o.Offset).(map[string]any)["kafka_offset"].(int64)
		if !ok || off < 0 {
			return "", rest.Errorf(http.StatusBadRequest, "Sink connector offsets must be {\"kafka_offset\": non-negative integer}: %v", o.Offset)
		}
		commit.AddOffset(topic, int32(part), off, -1)
	}
	w := h.runtime()
	adm, closeAdm, err := h.sinkAdmin(w, props)
	if err != nil {
		return "", err
	}
	defer closeAdm()
	group := sinkGroup(name, props)
	if len(commit) > 0 {
		resp, err := adm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return "", fmt.Errorf("commit the offsets of group %s: %w", group, err)
		}
	}
	if len(del) > 0 {
		set := kadm.TopicsSet{}
		for t, ps := range del {
			set.Add(t, ps...)
		}
		resp, err := adm.DeleteOffsets(ctx, group, set)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return "", fmt.Errorf("delete offsets of group %s: %w", group, err)
		}
	}
	return "The offsets for this connector have been altered successfully", nil
}

// ResetOffsets removes a stopped connector's offsets (DELETE
// /connectors/{name}/offsets).
func (h *Herder) ResetOffsets(ctx context.Context, name string) (string, error) {
	snap, err := h.existing(ctx, name)
	if err != nil {
		return "", err
	}
	if err := stopped(snap, name); err != nil {
		return "", err
	}
	props := snap.Connectors[name]
	if h.typeOf(props) == string(connect.SourcePlugin) {
		if err := h.offsets.log.readToEnd(ctx); err != nil {
			return "", err
		}
		var entries []offsets.Entry
		for _, e := range h.offsets.Entries(name) {
			entries = append(entries, offsets.Entry{Partition: e.Partition})
		}
		if err := h.offsets.write(name, entries); err != nil {
			return "", err
		}
		return "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.", nil
	}
	adm, closeAdm, err := h.sinkAdmin(h.runtime(), props)
	if err != nil {
		return "", err
	}
	defer closeAdm()
	group := sinkGroup(name, props)
	resp, err := adm.DeleteGroup(ctx, group)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return "", fmt.Errorf("delete group %s: %w", group, err)
	}
	return "The offsets for this connector have been reset successfully", nil
}

// ResetTopics forgets the topics a connector used.
func (h *Herder) ResetTopics(ctx context.Context, name string) error {
	if _, ok := h.configs.snapshot().Connectors[name]; !ok {
		return notFound(name)
	}
	h.statuses.resetTopics(name)
	return nil
}
