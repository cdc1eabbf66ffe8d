package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/streams/internal/runtime"
	"github.com/sluicehq/sluice/streams/internal/task"
	"github.com/sluicehq/sluice/streams/processor"
	"github.com/sluicehq/sluice/streams/state"
	"github.com/sluicehq/sluice/streams/topology"
)

// Config configures an application instance; see the field comments for
// the Kafka Streams property each stands for.
type Config = runtime.Config

// ConfigFromProperties reads Kafka Streams property names
// (application.id, bootstrap.servers, state.dir, commit.interval.ms,
// statestore.cache.max.bytes, processing.guarantee, replication.factor,
// max.poll.records).
func ConfigFromProperties(props map[string]string) (Config, error) {
	return runtime.ConfigFromProperties(props)
}

// State is an instance's state.
type State = runtime.State

const (
	Created         = runtime.Created
	Rebalancing     = runtime.Rebalancing
	Running         = runtime.Running
	PendingShutdown = runtime.PendingShutdown
	NotRunning      = runtime.NotRunning
	Error           = runtime.Error
)

// Exception handling, as Kafka Streams' deserialization and processing
// exception handlers.
type (
	ErrorContext           = task.ErrorContext
	HandlerResponse        = task.HandlerResponse
	DeserializationHandler = task.DeserializationHandler
	ProcessingHandler      = task.ProcessingHandler
)

const (
	// Fail stops the instance with the error (the default).
	Fail = task.Fail
	// Continue logs the error, skips the record and goes on.
	Continue = task.Continue
)

// LogAndContinue is a handler that skips bad records.
func LogAndContinue(ErrorContext, error) HandlerResponse { return Continue }

// ErrStopped wraps errors that stopped processing.
var ErrStopped = task.ErrStopped

// App is one instance of an application: Kafka Streams' KafkaStreams.
type App struct {
	rt *runtime.App
}

// NewApp checks the configuration and the topology; Run starts the
// instance.
func NewApp(t *topology.Topology, cfg Config) (*App, error) {
	rt, err := runtime.New(t, cfg)
	if err != nil {
		return nil, err
	}
	return &App{rt: rt}, nil
}

// Run processes until ctx ends, then shuts down cleanly: it commits, closes
// the tasks and leaves the group, so that the other instances take the
// tasks over at once. It returns the error that stopped processing, if any.
func (a *App) Run(ctx context.Context) error { return a.rt.Run(ctx) }

// State is the instance's state.
func (a *App) State() State { return a.rt.State() }

// Tasks lists the tasks the instance runs now.
func (a *App) Tasks() []processor.TaskID { return a.rt.Tasks() }

// ErrStoreUnavailable means the store has no instance here now (its
// tasks run elsewhere, or a rebalance is moving them).
var ErrStoreUnavailable = errors.New("store not available on this instance now")

// QueryStore gives read-only access to the local instances of a key-value
// store (all the tasks of this instance that have it, or a global store),
// for interactive queries. Each call looks the tasks up afresh, so the
// view follows rebalances; a key whose task runs on another instance is
// not found here.
func QueryStore[K, V any](a *App, name string) (state.ReadOnlyKeyValueStore[K, V], error) {
	stores, err := a.rt.Store(name)
	if err != nil {
		return nil, err
	}
	if len(stores) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrStoreUnavailable, name)
	}
	for _, s := range stores {
		if _, err := state.AsKeyValue[K, V](s); err != nil {
			return nil, err
		}
	}
	return &localStores[K, V]{a: a, name: name}, nil
}

// localStores reads across the local instances of a store.
type localStores[K, V any] struct {
	a    *App
	name string
}

func (l *localStores[K, V]) stores() ([]state.KeyValueStore[K, V], error) {
	ss, err := l.a.rt.Store(l.name)
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrStoreUnavailable, l.name)
	}
	out := make([]state.KeyValueStore[K, V], 0, len(ss))
	for _, s := range ss {
		kv, err := state.AsKeyValue[K, V](s)
		if err != nil {
			return nil, err
		}
		out = append(out, kv)
	}
	return out, nil
}

func (l *localStores[K, V]) Name() string { return l.name }

func (l *localStores[K, V]) Get(k K) (V, bool, error) {
	var zero V
	ss, err := l.stores()
	if err != nil {
		return zero, false, err
	}
	for _, s := range ss {
		v, ok, err := s.Get(k)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return zero, false, nil
}

func (l *localStores[K, V]) Range(from, to K, fn func(K, V) bool) error {
	ss, err := l.stores()
	if err != nil {
		return err
	}
	stop := false
	for _, s := range ss {
		if err := s.Range(from, to, func(k K, v V) bool { stop = !fn(k, v); return !stop }); err != nil || stop {
			return err
		}
	}
	return nil
}

func (l *localStores[K, V]) All(fn func(K, V) bool) error {
	ss, err := l.stores()
	if err != nil {
		return err
	}
	stop := false
	for _, s := range ss {
		if err := s.All(func(k K, v V) bool { stop = !fn(k, v); return !stop }); err != nil || stop {
			return err
		}
	}
	return nil
}

func (l *localStores[K, V]) ApproximateNumEntries() (int64, error) {
	ss, err := l.stores()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range ss {
		c, err := s.ApproximateNumEntries()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}
