package standalone

import (
	"context"
	"errors"
	"sync"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/logging"
	"github.com/sluicehq/sluice/connect/runtime"
)

// lateHerder lets the REST API listen before the herder exists (the
// listener's address is the worker's id): until then, and after the
// worker stopped, it answers as a worker with no connectors.
type lateHerder struct {
	mu     sync.Mutex
	h      *runtime.Herder
	levels *logging.Levels
}

// LoggerLevels is the worker's level table, there before the herder.
func (l *lateHerder) LoggerLevels() *logging.Levels { return l.levels }

func (l *lateHerder) set(h *runtime.Herder) {
	l.mu.Lock()
	l.h = h
	l.mu.Unlock()
}

func (l *lateHerder) get() *runtime.Herder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h
}

var errStarting = errors.New("the worker is starting or stopping: not found")

func (l *lateHerder) ClusterID() string {
	if h := l.get(); h != nil {
		return h.ClusterID()
	}
	return ""
}

func (l *lateHerder) Connectors() []string {
	if h := l.get(); h != nil {
		return h.Connectors()
	}
	return []string{}
}

func (l *lateHerder) ConnectorInfo(n string) (runtime.ConnectorInfo, error) {
	if h := l.get(); h != nil {
		return h.ConnectorInfo(n)
	}
	return runtime.ConnectorInfo{}, errStarting
}

func (l *lateHerder) ConnectorStatus(n string) (runtime.ConnectorStatus, error) {
	if h := l.get(); h != nil {
		return h.ConnectorStatus(n)
	}
	return runtime.ConnectorStatus{}, errStarting
}

func (l *lateHerder) TaskConfigs(n string) ([]runtime.TaskInfo, error) {
	if h := l.get(); h != nil {
		return h.TaskConfigs(n)
	}
	return nil, errStarting
}

func (l *lateHerder) TaskStatus(n string, t int) (runtime.StateInfo, error) {
	if h := l.get(); h != nil {
		return h.TaskStatus(n, t)
	}
	return runtime.StateInfo{}, errStarting
}

func (l *lateHerder) ActiveTopics(n string) ([]string, error) {
	if h := l.get(); h != nil {
		return h.ActiveTopics(n)
	}
	return nil, errStarting
}

func (l *lateHerder) Offsets(ctx context.Context, n string) ([]runtime.OffsetInfo, error) {
	if h := l.get(); h != nil {
		return h.Offsets(ctx, n)
	}
	return nil, errStarting
}

func (l *lateHerder) Registry() *connect.Registry {
	if h := l.get(); h != nil {
		return h.Registry()
	}
	return connect.NewRegistry()
}
