// Package rest serves Kafka Connect's REST API for a worker. The read
// endpoints (the worker's version and cluster, the connectors, their
// configs, statuses, tasks, topics and offsets, and the plugins with their
// settings) are served for every herder. The endpoints that change
// connectors are served for a herder that implements Writer (a distributed
// worker, which forwards them to the worker that serves them); a
// standalone worker takes its connectors from the command line.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/configdef"
	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/runtime"
)

// Herder is what the API reads.
type Herder interface {
	ClusterID() string
	Connectors() []string
	ConnectorInfo(name string) (runtime.ConnectorInfo, error)
	ConnectorStatus(name string) (runtime.ConnectorStatus, error)
	TaskConfigs(name string) ([]runtime.TaskInfo, error)
	TaskStatus(name string, task int) (runtime.StateInfo, error)
	ActiveTopics(name string) ([]string, error)
	Offsets(ctx context.Context, name string) ([]runtime.OffsetInfo, error)
	Registry() *connect.Registry
}

// Server serves the API.
type Server struct {
	h       Herder
	version string
	commit  string
	log     *slog.Logger
	srv     *http.Server
}

// Handler returns the API's handler.
func Handler(h Herder, version, commit string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{h: h, version: version, commit: commit, log: log.With(logging.Key, "connect.rest")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /connectors", s.connectors)
	mux.HandleFunc("GET /connectors/{name}", s.connector)
	mux.HandleFunc("GET /connectors/{name}/config", s.config)
	mux.HandleFunc("GET /connectors/{name}/status", s.status)
	mux.HandleFunc("GET /connectors/{name}/tasks", s.tasks)
	mux.HandleFunc("GET /connectors/{name}/tasks/{task}/status", s.taskStatus)
	mux.HandleFunc("GET /connectors/{name}/topics", s.topics)
	mux.HandleFunc("GET /connectors/{name}/offsets", s.offsets)
	mux.HandleFunc("GET /connector-plugins", s.plugins)
	mux.HandleFunc("GET /connector-plugins/{plugin}/config", s.pluginConfig)
	if wr, ok := h.(Writer); ok {
		s.registerWrites(mux, wr)
	}
	if cv, ok := h.(ConfigValidator); ok {
		mux.HandleFunc("PUT /connector-plugins/{plugin}/config/validate", s.validate(cv))
	}
	if lh, ok := h.(LoggerHerder); ok && lh.LoggerLevels() != nil {
		s.registerLoggers(mux, lh.LoggerLevels())
	}
	_, writable := h.(Writer)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && writable {
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("HTTP method %s is not supported at %s", r.Method, r.URL.Path))
			return
		}
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("HTTP %s is not supported: this standalone worker serves the read endpoints only; connectors come from the command line", r.Method))
			return
		}
		writeError(w, http.StatusNotFound, "HTTP 404 Not Found")
	})
	return mux
}

// Listen starts the API on a listener address such as http://:8083 and
// returns the address it listens on.
func Listen(listener string, handler http.Handler, log *slog.Logger) (*http.Server, net.Addr, error) {
	addr, ok := strings.CutPrefix(listener, "http://")
	if !ok {
		return nil, nil, fmt.Errorf("listener %q: only http:// listeners are supported", listener)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("REST listener %s: %w", listener, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("connect: REST server stopped", "error", err)
		}
	}()
	return srv, ln.Addr(), nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error_code": code, "message": msg})
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	var e *Error
	if errors.As(err, &e) {
		writeError(w, e.Code, e.Message)
		return
	}
	if runtime.IsNotFound(err) {
		writeError(w, http.StatusNotFound, strings.TrimSuffix(err.Error(), ": not found"))
		return
	}
	writeError(w, http.StatusInternalServerError, err.Error())
}

func (s *Server) root(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"version": s.version, "commit": s.commit, "kafka_cluster_id": s.h.ClusterID()})
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
}

func (s *Server) connectors(w http.ResponseWriter, r *http.Request) {
	names := s.h.Connectors()
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		writeJSON(w, http.StatusOK, names)
		return
	}
	out := map[string]map[string]any{}
	for _, n := range names {
		e := map[string]any{}
		for _, x := range expand {
			switch x {
			case "status":
				if st, err := s.h.ConnectorStatus(n); err == nil {
					e["status"] = st
				}
			case "info":
				if info, err := s.h.ConnectorInfo(n); err == nil {
					e["info"] = info
				}
			}
		}
		out[n] = e
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) connector(w http.ResponseWriter, r *http.Request) {
	info, err := s.h.ConnectorInfo(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) config(w http.ResponseWriter, r *http.Request) {
	info, err := s.h.ConnectorInfo(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, info.Config)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st, err := s.h.ConnectorStatus(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) tasks(w http.ResponseWriter, r *http.Request) {
	tasks, err := s.h.TaskConfigs(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, tasks)
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("task"))
	if err != nil {
		writeError(w, http.StatusNotFound, "task id must be a number")
		return
	}
	st, err := s.h.TaskStatus(r.PathValue("name"), id)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	topics, err := s.h.ActiveTopics(name)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{name: map[string]any{"topics": topics}})
}

func (s *Server) offsets(w http.ResponseWriter, r *http.Request) {
	offs, err := s.h.Offsets(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"offsets": offs})
}

// PluginInfo is one element of GET /connector-plugins.
type PluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

func (s *Server) plugins(w http.ResponseWriter, r *http.Request) {
	onlyConnectors := r.URL.Query().Get("connectorsOnly") != "false"
	var types []connect.PluginType
	if onlyConnectors {
		types = []connect.PluginType{connect.SourcePlugin, connect.SinkPlugin}
	}
	out := []PluginInfo{}
	for _, p := range s.h.Registry().Plugins(types...) {
		out = append(out, PluginInfo{Class: p.Class, Type: string(p.Type), Version: p.Version})
	}
	writeJSON(w, http.StatusOK, out)
}

// ConfigKeyInfo is one setting of GET /connector-plugins/{plugin}/config.
type ConfigKeyInfo struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	OrderInGroup  int      `json:"order_in_group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
}

// KeyInfos describes settings as the REST API does.
func KeyInfos(d *configdef.Def) []ConfigKeyInfo {
	out := []ConfigKeyInfo{}
	order := map[string]int{}
	for _, k := range d.Keys() {
		ki := ConfigKeyInfo{Name: k.Name, Type: k.Type.String(), Required: k.Required, Importance: k.Importance.String(),
			Documentation: k.Doc, OrderInGroup: -1, Width: "NONE", DisplayName: k.Name, Dependents: []string{}}
		if k.DisplayName != "" {
			ki.DisplayName = k.DisplayName
		}
		if !k.Required {
			def := k.Default
			ki.DefaultValue = &def
		}
		if k.Group != "" {
			g := k.Group
			ki.Group = &g
			order[g]++
			ki.OrderInGroup = order[g]
		}
		out = append(out, ki)
	}
	return out
}

func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) {
	p, err := s.h.Registry().Lookup(r.PathValue("plugin"))
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, KeyInfos(p.Config()))
}
