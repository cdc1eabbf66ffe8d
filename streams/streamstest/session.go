package streamstest

import "github.com/sluicehq/sluice/streams/state"

// SessionStore returns a session store of the topology (a session-windowed
// aggregation's), typed by its record key and aggregate.
func SessionStore[K, V any](d *Driver, name string) (state.SessionStore[K, V], error) {
	s, err := d.Store(name)
	if err != nil {
		return nil, err
	}
	return state.AsSession[K, V](s)
}
