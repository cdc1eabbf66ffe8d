package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connect/runtime"
)

// Writer is implemented by herders that change connectors through the API
// (a distributed worker). Its methods return *Error for the failures the
// API reports with a status code, and *NotHereError when another worker
// must serve the request: the API forwards it there, once.
type Writer interface {
	// CreateConnector creates a connector; initialState is "", RUNNING,
	// PAUSED or STOPPED.
	CreateConnector(ctx context.Context, name string, config map[string]string, initialState string) (runtime.ConnectorInfo, error)
	// PutConnectorConfig creates or replaces a connector's config; created
	// tells which.
	PutConnectorConfig(ctx context.Context, name string, config map[string]string) (info runtime.ConnectorInfo, created bool, err error)
	// PatchConnectorConfig changes some settings; a nil value removes one.
	PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (runtime.ConnectorInfo, error)
	DeleteConnector(ctx context.Context, name string) error
	// RestartConnector restarts a connector and, with includeTasks, its
	// tasks (onlyFailed: only the failed ones). It returns the status with
	// what restarts shown RESTARTING, or nil for a plain restart of the
	// connector alone.
	RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*runtime.ConnectorStatus, error)
	RestartTask(ctx context.Context, name string, task int) error
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
	StopConnector(ctx context.Context, name string) error
	// PutTaskConfigs stores task configs a connector produced (the
	// workers' internal endpoint).
	PutTaskConfigs(ctx context.Context, name string, configs []map[string]string) error
	// AlterOffsets and ResetOffsets change a stopped connector's offsets
	// (KIP-875); they return the message to show.
	AlterOffsets(ctx context.Context, name string, offsets []runtime.OffsetInfo) (string, error)
	ResetOffsets(ctx context.Context, name string) (string, error)
	// ResetTopics forgets the topics a connector used.
	ResetTopics(ctx context.Context, name string) error
}

// ConfigValidator is implemented by herders that check connector configs
// for PUT /connector-plugins/{plugin}/config/validate.
type ConfigValidator interface {
	ValidateConnector(props map[string]string) (*runtime.Validation, error)
}

// Error is a failure with its HTTP status.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotHereError says another worker serves the request: the leader, for
// changes of the config topic, or the worker running a task.
type NotHereError struct {
	// URL is the other worker's REST URL (http://host:port/).
	URL string
	Why string
}

func (e *NotHereError) Error() string { return e.Why + "; it is served by " + e.URL }

func (s *Server) registerWrites(mux *http.ServeMux, w Writer) {
	mux.HandleFunc("POST /connectors", s.forwarding(w, s.createConnector))
	mux.HandleFunc("PUT /connectors/{name}/config", s.forwarding(w, s.putConfig))
	mux.HandleFunc("PATCH /connectors/{name}/config", s.forwarding(w, s.patchConfig))
	mux.HandleFunc("DELETE /connectors/{name}", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, w.DeleteConnector(r.Context(), r.PathValue("name"))
	}))
	mux.HandleFunc("POST /connectors/{name}/restart", s.forwarding(w, s.restart))
	mux.HandleFunc("POST /connectors/{name}/tasks/{task}/restart", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		id, err := strconv.Atoi(r.PathValue("task"))
		if err != nil {
			return 0, nil, Errorf(http.StatusNotFound, "Task %s-%s not found", r.PathValue("name"), r.PathValue("task"))
		}
		return http.StatusNoContent, nil, w.RestartTask(r.Context(), r.PathValue("name"), id)
	}))
	mux.HandleFunc("PUT /connectors/{name}/pause", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		return http.StatusAccepted, nil, w.PauseConnector(r.Context(), r.PathValue("name"))
	}))
	mux.HandleFunc("PUT /connectors/{name}/resume", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		return http.StatusAccepted, nil, w.ResumeConnector(r.Context(), r.PathValue("name"))
	}))
	mux.HandleFunc("PUT /connectors/{name}/stop", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, w.StopConnector(r.Context(), r.PathValue("name"))
	}))
	mux.HandleFunc("POST /connectors/{name}/tasks", s.forwarding(w, func(w Writer, r *http.Request, body []byte) (int, any, error) {
		var cfgs []map[string]string
		if err := json.Unmarshal(body, &cfgs); err != nil {
			return 0, nil, Errorf(http.StatusBadRequest, "task configs must be a JSON array of objects of strings: %v", err)
		}
		return http.StatusNoContent, nil, w.PutTaskConfigs(r.Context(), r.PathValue("name"), cfgs)
	}))
	mux.HandleFunc("PATCH /connectors/{name}/offsets", s.forwarding(w, func(w Writer, r *http.Request, body []byte) (int, any, error) {
		var req struct {
			Offsets []runtime.OffsetInfo `json:"offsets"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // offsets keep their integers
		if err := dec.Decode(&req); err != nil || req.Offsets == nil {
			return 0, nil, Errorf(http.StatusBadRequest, "the body must be {\"offsets\":[{\"partition\":{...},\"offset\":{...}}, ...]}")
		}
		msg, err := w.AlterOffsets(r.Context(), r.PathValue("name"), req.Offsets)
		return http.StatusOK, map[string]string{"message": msg}, err
	}))
	mux.HandleFunc("DELETE /connectors/{name}/offsets", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		msg, err := w.ResetOffsets(r.Context(), r.PathValue("name"))
		return http.StatusOK, map[string]string{"message": msg}, err
	}))
	mux.HandleFunc("PUT /connectors/{name}/topics/reset", s.forwarding(w, func(w Writer, r *http.Request, _ []byte) (int, any, error) {
		return http.StatusAccepted, nil, w.ResetTopics(r.Context(), r.PathValue("name"))
	}))
}

// createRequest is POST /connectors' body.
type createRequest struct {
	Name         string            `json:"name"`
	Config       map[string]string `json:"config"`
	InitialState string            `json:"initial_state"`
}

func (s *Server) createConnector(w Writer, r *http.Request, body []byte) (int, any, error) {
	var req createRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, nil, Errorf(http.StatusBadRequest, "Request body is not a valid connector creation request: %v", err)
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		return 0, nil, Errorf(http.StatusBadRequest, "Connector name must not be empty")
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	if n, ok := req.Config["name"]; ok && n != name {
		return 0, nil, Errorf(http.StatusBadRequest, "Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	req.Config["name"] = name
	switch strings.ToUpper(req.InitialState) {
	case "", "RUNNING", "PAUSED", "STOPPED":
	default:
		return 0, nil, Errorf(http.StatusBadRequest, "initial_state must be RUNNING, PAUSED or STOPPED, not %q", req.InitialState)
	}
	info, err := w.CreateConnector(r.Context(), name, req.Config, strings.ToUpper(req.InitialState))
	return http.StatusCreated, info, err
}

func (s *Server) putConfig(w Writer, r *http.Request, body []byte) (int, any, error) {
	name := r.PathValue("name")
	var cfg map[string]string
	if err := json.Unmarshal(body, &cfg); err != nil || cfg == nil {
		return 0, nil, Errorf(http.StatusBadRequest, "Request body must be a JSON object of strings: the connector's config")
	}
	if n, ok := cfg["name"]; ok && n != name {
		return 0, nil, Errorf(http.StatusBadRequest, "Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	cfg["name"] = name
	info, created, err := w.PutConnectorConfig(r.Context(), name, cfg)
	if created {
		return http.StatusCreated, info, err
	}
	return http.StatusOK, info, err
}

func (s *Server) patchConfig(w Writer, r *http.Request, body []byte) (int, any, error) {
	name := r.PathValue("name")
	var patch map[string]*string
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		return 0, nil, Errorf(http.StatusBadRequest, "Request body must be a JSON object: the settings to change (null removes one)")
	}
	if n, ok := patch["name"]; ok && (n == nil || *n != name) {
		return 0, nil, Errorf(http.StatusBadRequest, "Connector name configuration in the patch doesn't match connector name in the URL (%s)", name)
	}
	info, err := w.PatchConnectorConfig(r.Context(), name, patch)
	return http.StatusOK, info, err
}

func (s *Server) restart(w Writer, r *http.Request, _ []byte) (int, any, error) {
	q := r.URL.Query()
	includeTasks, onlyFailed := q.Get("includeTasks") == "true", q.Get("onlyFailed") == "true"
	st, err := w.RestartConnector(r.Context(), r.PathValue("name"), includeTasks, onlyFailed)
	if st == nil {
		return http.StatusNoContent, nil, err
	}
	return http.StatusAccepted, st, err
}

// forwarding serves a write: the handler runs here, or, when another
// worker serves it (*NotHereError), the request goes there unchanged, as
// Kafka Connect forwards: the first hop adds forward=true, which allows
// one more (a follower forwards a task restart to the leader, which
// forwards it to the task's worker), the second forward=false, which
// allows none (the workers disagree about who leads during a rebalance:
// the client gets 409 and tries again).
func (s *Server) forwarding(wr Writer, handle func(Writer, *http.Request, []byte) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "read the request body: "+err.Error())
			return
		}
		code, out, err := handle(wr, r, body)
		var nh *NotHereError
		if errors.As(err, &nh) {
			next := "true"
			switch r.URL.Query().Get("forward") {
			case "false":
				writeError(w, http.StatusConflict, "Cannot complete request because of a conflicting operation (e.g. worker rebalance): "+nh.Why)
				return
			case "true":
				next = "false"
			}
			s.forward(w, r, nh.URL, next, body)
			return
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		if out == nil {
			w.WriteHeader(code)
			return
		}
		writeJSON(w, code, out)
	}
}

// forwardClient sends forwarded requests.
var forwardClient = &http.Client{Timeout: 90 * time.Second}

func (s *Server) forward(w http.ResponseWriter, r *http.Request, base, fwd string, body []byte) {
	u, err := url.Parse(strings.TrimSuffix(base, "/") + r.URL.Path)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "forward to "+base+": "+err.Error())
		return
	}
	q := r.URL.Query()
	q.Set("forward", fwd)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "forward to "+base+": "+err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := forwardClient.Do(req)
	if err != nil {
		writeError(w, http.StatusConflict, "Cannot complete request momentarily: the worker at "+base+" that serves it did not answer: "+err.Error())
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// ConfigInfos is the answer of PUT /connector-plugins/{plugin}/config/validate.
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

// ConfigInfo is one setting of ConfigInfos.
type ConfigInfo struct {
	Definition ConfigKeyInfo   `json:"definition"`
	Value      ConfigValueInfo `json:"value"`
}

// ConfigValueInfo is a setting's value and errors.
type ConfigValueInfo struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// Infos turns a validation into the API's ConfigInfos for the config
// props.
func Infos(v *runtime.Validation, props map[string]string) ConfigInfos {
	out := ConfigInfos{Name: v.Plugin.Class, ErrorCount: v.ErrorCount(), Groups: []string{}, Configs: []ConfigInfo{}}
	seen := map[string]bool{}
	for _, ki := range KeyInfos(v.Def) {
		if ki.Group != nil && !seen[*ki.Group] {
			seen[*ki.Group] = true
			out.Groups = append(out.Groups, *ki.Group)
		}
		val := ConfigValueInfo{Name: ki.Name, RecommendedValues: []string{}, Errors: v.Errors[ki.Name], Visible: true}
		if raw, ok := props[ki.Name]; ok {
			val.Value = &raw
		} else if ki.DefaultValue != nil {
			val.Value = ki.DefaultValue
		}
		if val.Errors == nil {
			val.Errors = []string{}
		}
		out.Configs = append(out.Configs, ConfigInfo{Definition: ki, Value: val})
	}
	return out
}

func (s *Server) validate(cv ConfigValidator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var props map[string]string
		if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&props); err != nil || props == nil {
			writeError(w, http.StatusBadRequest, "Request body must be a JSON object of strings: the connector's config")
			return
		}
		plugin := r.PathValue("plugin")
		p, err := s.h.Registry().Lookup(plugin)
		if err != nil {
			writeError(w, http.StatusNotFound, err.Error())
			return
		}
		if c, ok := props["connector.class"]; ok {
			q, err := s.h.Registry().Lookup(c)
			if err != nil || q.Class != p.Class {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("Included connector type %s does not match request type %s", c, plugin))
				return
			}
		} else {
			props["connector.class"] = plugin
		}
		v, err := cv.ValidateConnector(props)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, Infos(v, props))
	}
}
