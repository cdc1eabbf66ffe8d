package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/connect/logging"
)

// LoggerHerder is implemented by herders whose worker logs through a
// level table: the API then serves /admin/loggers (KIP-495).
type LoggerHerder interface {
	LoggerLevels() *logging.Levels
}

// ClusterLoggerHerder is implemented by herders that can set a logging
// level on every worker of their cluster (KIP-976, ?scope=cluster): a
// distributed worker writes it to the config topic, and each worker that
// reads it sets it.
type ClusterLoggerHerder interface {
	SetClusterLoggerLevel(ctx context.Context, namespace, level string) error
}

func (s *Server) registerLoggers(mux *http.ServeMux, levels *logging.Levels) {
	mux.HandleFunc("GET /admin/loggers", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, levels.All())
	})
	mux.HandleFunc("GET /admin/loggers/{logger}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("logger")
		ll, ok := levels.Level(name)
		if !ok {
			writeError(w, http.StatusNotFound, "Logger "+name+" not found.")
			return
		}
		writeJSON(w, http.StatusOK, ll)
	})
	mux.HandleFunc("PUT /admin/loggers/{logger}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("logger")
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, "Request body is not a JSON object: "+err.Error())
			return
		}
		raw, ok := body["level"]
		if !ok || raw == nil {
			writeError(w, http.StatusBadRequest, "Desired 'level' parameter was not specified in request.")
			return
		}
		level, ok := raw.(string)
		if !ok {
			writeError(w, http.StatusBadRequest, "The 'level' parameter must be a string.")
			return
		}
		if _, valid := logging.ParseLevel(level); !valid {
			writeError(w, http.StatusBadRequest, "Invalid log level '"+level+"'.")
			return
		}
		level = strings.ToUpper(strings.TrimSpace(level))
		scope := r.URL.Query().Get("scope")
		switch {
		case strings.EqualFold(scope, "cluster"):
			if ch, ok := s.h.(ClusterLoggerHerder); ok {
				if err := ch.SetClusterLoggerLevel(r.Context(), name, level); err != nil {
					s.fail(w, err)
					return
				}
			} else {
				// As Kafka's standalone worker: the cluster is this worker.
				s.log.Warn("connect: cluster scope for logging levels: this worker is the whole cluster", "logger", name, "level", level)
				if _, err := levels.Set(name, level); err != nil {
					writeError(w, http.StatusBadRequest, err.Error())
					return
				}
			}
			w.WriteHeader(http.StatusNoContent)
			return
		case scope != "" && !strings.EqualFold(scope, "worker"):
			s.log.Warn("connect: invalid scope in a request to set a logging level; using worker", "scope", scope)
		}
		changed, err := levels.Set(name, level)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if changed == nil {
			changed = []string{}
		}
		writeJSON(w, http.StatusOK, changed)
	})
}
