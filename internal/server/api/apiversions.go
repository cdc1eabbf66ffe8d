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
// Features (KIP-584, v3+): SupportedFeatures and FinalizedFeatures list the
// features added with AddFeature (transaction.version: levels 0-2, finalized
// at 2, so that clients use transactions v2) and those ApiVersions.Features
// reports. As Kafka does since KAFKA-17492, a v3 response leaves out the
// supported features whose minimum level is 0 (older clients fail to parse
// them), and a finalized level of 0 is never listed. v5 (ClusterId and NodeId
// in the request) is not served yet.
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

// Feature is one KIP-584 feature flag of this broker: the levels it supports,
// and the level finalized for the cluster (0: the feature is off).
type Feature struct {
	Name                   string
	MinVersion, MaxVersion int16
	Level                  int16
}

// TransactionVersion is transaction.version (KIP-890): levels 0-2 supported as
// in Kafka 4.0, level 2 finalized. Clients that know transactions v2 (franz-go
// 1.19+, the Java client 4.0+) use them when they see level 2; the others keep
// to v1, which the broker serves beside it.
var TransactionVersion = Feature{Name: "transaction.version", MinVersion: 0, MaxVersion: 2, Level: 2}

// ApiVersions answers ApiVersions requests from a Mux's registered ranges.
type ApiVersions struct {
	Mux *server.Mux
	// Features, if set, is called for every v3+ request; what it reports is
	// added to the features of AddFeature.
	Features func() Features

	static []Feature
}

// AddFeature makes every v3+ response report f.
func (a *ApiVersions) AddFeature(f Feature) { a.static = append(a.static, f) }

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
	if req.Version >= 3 {
		a.features(req.Version, resp)
	}
	return &server.Reply{Msg: resp}
}

// features fills a v3+ response's features.
func (a *ApiVersions) features(version int16, resp *kmsg.ApiVersionsResponse) {
	var f Features
	if a.Features != nil {
		f = a.Features()
	} else {
		f.FinalizedEpoch = -1
	}
	for _, s := range a.static {
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = s.Name, s.MinVersion, s.MaxVersion
		f.Supported = append(f.Supported, sf)
		if s.Level > 0 {
			ff := kmsg.NewApiVersionsResponseFinalizedFeature()
			ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = s.Name, s.Level, s.Level
			f.Finalized = append(f.Finalized, ff)
			// The levels are fixed in the binary: any epoch will do, but
			// there must be one for clients to read the finalized levels.
			f.FinalizedEpoch = max(f.FinalizedEpoch, 0)
		}
	}
	for _, sf := range f.Supported {
		if version < 4 && sf.MinVersion == 0 {
			continue // KAFKA-17492
		}
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
	}
	resp.FinalizedFeaturesEpoch = f.FinalizedEpoch
	resp.FinalizedFeatures = f.Finalized
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
