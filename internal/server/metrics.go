package server

import "time"

// Metrics receives the server's observations. It is the seam for the
// Prometheus exporter that comes later (sluice_request_duration_seconds,
// sluice_connections, ...). Implementations must be safe for concurrent use
// and cheap: they run on every request.
type Metrics interface {
	// ConnectionOpened and ConnectionClosed bracket every accepted
	// connection of a listener.
	ConnectionOpened(listener string)
	ConnectionClosed(listener string)
	// RequestDone is called once per request that was handled: after its
	// reply has been written, after the handler chose no response, or when
	// the reply was dropped because the connection closed (written false).
	// latency runs from the moment the whole request was read to the last
	// byte of the response being handed to the kernel; responseBytes
	// counts the size prefix and the header too.
	RequestDone(listener string, key, version int16, latency time.Duration, requestBytes, responseBytes int, written bool)
	// RequestRejected is called when a frame closes the connection before
	// reaching a handler (oversized, unknown key, unsupported version,
	// undecodable). key is -1 when the header could not be read.
	RequestRejected(listener string, key int16)
}

// NopMetrics discards every observation.
type NopMetrics struct{}

func (NopMetrics) ConnectionOpened(string)                                         {}
func (NopMetrics) ConnectionClosed(string)                                         {}
func (NopMetrics) RequestDone(string, int16, int16, time.Duration, int, int, bool) {}
func (NopMetrics) RequestRejected(string, int16)                                   {}
