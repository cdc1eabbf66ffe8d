// Package api: ApiVersions (key 18), versions 0-4.
//
// Behaviour: answers the version range of every API registered on the
// server's Mux, so that only what is built is advertised (DESIGN §1). The
// response header is always v0 (no tag section), whatever the version; the
// server frames it so. A request for a version outside 0-4 is not parsed
// and is answered in v0 with UNSUPPORTED_VERSION and, as Kafka does since
// 2.4 (KIP-511), one ApiKeys entry: ApiVersions' own range, from which the
// client picks the version to retry with.
// Errors: UNSUPPORTED_VERSION as above; INVALID_REQUEST (v3+) when
// ClientSoftwareName or ClientSoftwareVersion does not match Kafka's pattern
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? (the reply then has no ApiKeys).
// Features (KIP-584, v3+): SupportedFeatures and FinalizedFeatures come from
// ApiVersions.Features, empty until a feature such as transaction.version is
// built. v5 (ClusterId and NodeId in the request) is not served yet.
package api

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

// The ApiVersions versions served.
const (
	ApiVersionsMinVersion = 0
	ApiVersionsMaxVersion = 4
)

// Features is what ApiVersions v3+ reports of KIP-584 feature flags.
type Features struct {
	Supported []kmsg.ApiVersionsResponseSupportedFeature
	// FinalizedEpoch is -1 when unknown; Finalized is only meaningful when
	// it is >= 0.
	FinalizedEpoch int64
	Finalized      []kmsg.ApiVersionsResponseFinalizedFeature
}

// ApiVersions answers ApiVersions requests from a Mux's registered ranges.
type ApiVersions struct {
	Mux *server.Mux
	// Features, if set, is called for every v3+ request.
	// When it starts reporting features, check KAFKA-17011: v3 clients
	// reject a SupportedFeatures MinVersion of 0.
	Features func() Features
}

// RegisterApiVersions registers ApiVersions on m, answering from m itself
// (ranges registered later are included), and returns the handler so that
// its Features can be set.
func RegisterApiVersions(m *server.Mux) *ApiVersions {
	a := &ApiVersions{Mux: m}
	m.Register(18, ApiVersionsMinVersion, ApiVersionsMaxVersion, a.Handle)
	return a
}

// Handle answers one ApiVersions request.
func (a *ApiVersions) Handle(_ context.Context, req *server.Request) *server.Reply {
	min, max, ok := a.Mux.VersionRange(18)
	if !ok {
		min, max = ApiVersionsMinVersion, ApiVersionsMaxVersion
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	if req.Version < min || req.Version > max {
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		own := kmsg.NewApiVersionsResponseApiKey()
		own.ApiKey, own.MinVersion, own.MaxVersion = 18, min, max
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{own}
		return &server.Reply{Msg: resp}
	}
	resp.SetVersion(req.Version)
	r, ok := req.Msg.(*kmsg.ApiVersionsRequest)
	if !ok {
		// The server only routes ApiVersions requests here.
		return &server.Reply{NoResponse: true, Close: true}
	}
	if req.Version >= 3 && !(validSoftwareName(r.ClientSoftwareName) && validSoftwareName(r.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return &server.Reply{Msg: resp}
	}
	resp.ApiKeys = a.Mux.ApiKeys()
	if req.Version >= 3 && a.Features != nil {
		f := a.Features()
		resp.SupportedFeatures = f.Supported
		resp.FinalizedFeaturesEpoch = f.FinalizedEpoch
		resp.FinalizedFeatures = f.Finalized
	}
	return &server.Reply{Msg: resp}
}

// validSoftwareName reports whether s matches Kafka's KIP-511 pattern
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?: letters and digits at both
// ends, and letters, digits, '-' and '.' between.
func validSoftwareName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if alnum {
			continue
		}
		if (c == '-' || c == '.') && i != 0 && i != len(s)-1 {
			continue
		}
		return false
	}
	return true
}
