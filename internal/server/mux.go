package server

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Mux dispatches requests by API key and records the version range served
// for each key, which is what ApiVersions advertises (see
// api.RegisterApiVersions). The zero value is not usable; call NewMux.
//
// Only what is registered is advertised and accepted: DESIGN §1 forbids
// advertising what is not built.
type Mux struct {
	mu      sync.RWMutex
	entries map[int16]muxEntry
}

type muxEntry struct {
	min, max int16
	h        HandlerFunc
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{entries: make(map[int16]muxEntry)}
}

// Register serves versions min..max of key with h. It panics on a
// programming error (a key kmsg does not know, a range kmsg cannot decode,
// min > max, or a key registered twice), as http.ServeMux does: these are
// caught at start-up, never caused by a client.
func (m *Mux) Register(key, min, max int16, h func(ctx context.Context, req *Request) *Reply) {
	req := kmsg.RequestForKey(key)
	switch {
	case req == nil:
		panic(fmt.Sprintf("server: Register: unknown API key %d", key))
	case min < 0 || min > max:
		panic(fmt.Sprintf("server: Register: bad version range %d-%d for %s", min, max, kmsg.NameForKey(key)))
	case max > req.MaxVersion():
		panic(fmt.Sprintf("server: Register: %s v%d is beyond what kmsg knows (v%d)", kmsg.NameForKey(key), max, req.MaxVersion()))
	case h == nil:
		panic(fmt.Sprintf("server: Register: nil handler for %s", kmsg.NameForKey(key)))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.entries[key]; dup {
		panic(fmt.Sprintf("server: Register: %s registered twice", kmsg.NameForKey(key)))
	}
	m.entries[key] = muxEntry{min: min, max: max, h: h}
}

// VersionRange reports the versions served for key.
func (m *Mux) VersionRange(key int16) (min, max int16, ok bool) {
	m.mu.RLock()
	e, ok := m.entries[key]
	m.mu.RUnlock()
	return e.min, e.max, ok
}

// ApiKeys returns the registered ranges sorted by key, in the shape of the
// ApiVersions response.
func (m *Mux) ApiKeys() []kmsg.ApiVersionsResponseApiKey {
	m.mu.RLock()
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(m.entries))
	for k, e := range m.entries {
		v := kmsg.NewApiVersionsResponseApiKey()
		v.ApiKey, v.MinVersion, v.MaxVersion = k, e.min, e.max
		keys = append(keys, v)
	}
	m.mu.RUnlock()
	sort.Slice(keys, func(i, j int) bool { return keys[i].ApiKey < keys[j].ApiKey })
	return keys
}

// Handle dispatches req to the handler registered for its key. The server
// only calls it for registered keys; a direct call for another key gets a
// reply that closes the connection, which is what Kafka does.
func (m *Mux) Handle(ctx context.Context, req *Request) *Reply {
	m.mu.RLock()
	e, ok := m.entries[req.Key]
	m.mu.RUnlock()
	if !ok {
		return &Reply{NoResponse: true, Close: true}
	}
	return e.h(ctx, req)
}
