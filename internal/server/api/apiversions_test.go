package api

import (
	"context"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/server"
)

func apiVersionsRequest(v int16, name, version string) *server.Request {
	r := kmsg.NewPtrApiVersionsRequest()
	r.SetVersion(v)
	r.ClientSoftwareName, r.ClientSoftwareVersion = name, version
	return &server.Request{Key: 18, Version: v, Msg: r}
}

func TestApiVersionsAdvertisesTheMux(t *testing.T) {
	m := server.NewMux()
	a := RegisterApiVersions(m)
	noop := func(context.Context, *server.Request) *server.Reply { return nil }
	m.Register(3, 0, 12, noop) // registered after ApiVersions: still advertised
	m.Register(0, 0, 11, noop)
	want := []kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 0, MaxVersion: 11},
		{ApiKey: 3, MinVersion: 0, MaxVersion: 12},
		{ApiKey: 18, MinVersion: 0, MaxVersion: 4},
	}
	a.Features = func() Features {
		return Features{
			Supported:      []kmsg.ApiVersionsResponseSupportedFeature{{Name: "transaction.version", MinVersion: 1, MaxVersion: 2}},
			FinalizedEpoch: 7,
			Finalized:      []kmsg.ApiVersionsResponseFinalizedFeature{{Name: "transaction.version", MinVersionLevel: 2, MaxVersionLevel: 2}},
		}
	}
	for v := int16(0); v <= 4; v++ {
		reply := a.Handle(context.Background(), apiVersionsRequest(v, "franz-go", "1.22.2"))
		resp := reply.Msg.(*kmsg.ApiVersionsResponse)
		if resp.Version != v || resp.ErrorCode != 0 {
			t.Fatalf("v%d: answered v%d with error %d", v, resp.Version, resp.ErrorCode)
		}
		if !reflect.DeepEqual(resp.ApiKeys, want) {
			t.Errorf("v%d: ApiKeys %+v, want %+v", v, resp.ApiKeys, want)
		}
		if hasFeatures := resp.FinalizedFeaturesEpoch == 7 && len(resp.SupportedFeatures) == 1; hasFeatures != (v >= 3) {
			t.Errorf("v%d: features present %v, want %v", v, hasFeatures, v >= 3)
		}
		// The encoding round-trips (the server appends it after a v0 header).
		back := kmsg.NewPtrApiVersionsResponse()
		back.SetVersion(v)
		if err := back.ReadFrom(resp.AppendTo(nil)); err != nil || !reflect.DeepEqual(back.ApiKeys, want) {
			t.Errorf("v%d: round trip: %v", v, err)
		}
	}
}

func TestApiVersionsUnsupportedVersion(t *testing.T) {
	m := server.NewMux()
	a := RegisterApiVersions(m)
	m.Register(3, 0, 12, func(context.Context, *server.Request) *server.Reply { return nil })
	for _, v := range []int16{5, 6, 127, -1} {
		// The server passes an empty v0 body for such a version.
		req := &server.Request{Key: 18, Version: v, Msg: kmsg.NewPtrApiVersionsRequest()}
		resp := a.Handle(context.Background(), req).Msg.(*kmsg.ApiVersionsResponse)
		if resp.Version != 0 || resp.ErrorCode != kerr.UnsupportedVersion.Code {
			t.Errorf("v%d: answered v%d with error %d; want v0 UNSUPPORTED_VERSION", v, resp.Version, resp.ErrorCode)
		}
		want := []kmsg.ApiVersionsResponseApiKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 4}}
		if !reflect.DeepEqual(resp.ApiKeys, want) {
			t.Errorf("v%d: ApiKeys %+v, want only ApiVersions' own range", v, resp.ApiKeys)
		}
	}
}

func TestApiVersionsClientSoftware(t *testing.T) {
	m := server.NewMux()
	a := RegisterApiVersions(m)
	for _, tc := range []struct {
		name, version string
		valid         bool
	}{
		{"librdkafka", "2.0.2", true},
		{"franz-go", "v1.22.2", true},
		{"apache-kafka-java", "3.7.0-SNAPSHOT", true},
		{"a", "1", true},
		{"", "1.0", false},
		{"kafka", "", false},
		{"-kafka", "1", false},
		{"kafka-", "1", false},
		{"kafka", "1.", false},
		{"kaf ka", "1", false},
		{"kafka_python", "2.0.2", false},
		{"kafka", "1+build", false},
	} {
		for v := int16(0); v <= 4; v++ {
			resp := a.Handle(context.Background(), apiVersionsRequest(v, tc.name, tc.version)).Msg.(*kmsg.ApiVersionsResponse)
			wantErr := int16(0)
			if v >= 3 && !tc.valid {
				wantErr = kerr.InvalidRequest.Code
			}
			if resp.ErrorCode != wantErr {
				t.Errorf("v%d %q %q: error %d, want %d", v, tc.name, tc.version, resp.ErrorCode, wantErr)
			}
			if wantErr != 0 && len(resp.ApiKeys) != 0 {
				t.Errorf("v%d %q %q: INVALID_REQUEST carries ApiKeys", v, tc.name, tc.version)
			}
			if resp.Version != v {
				t.Errorf("v%d: answered v%d", v, resp.Version)
			}
		}
	}
}

func TestApiVersionsTransactionVersionFeature(t *testing.T) {
	m := server.NewMux()
	a := RegisterApiVersions(m)
	a.AddFeature(TransactionVersion)
	for v := int16(0); v <= 4; v++ {
		resp := a.Handle(context.Background(), apiVersionsRequest(v, "franz-go", "1.22.2")).Msg.(*kmsg.ApiVersionsResponse)
		if v < 3 {
			if len(resp.SupportedFeatures)+len(resp.FinalizedFeatures) != 0 {
				t.Errorf("v%d: features %+v %+v in a version without them", v, resp.SupportedFeatures, resp.FinalizedFeatures)
			}
			continue
		}
		wantFinal := []kmsg.ApiVersionsResponseFinalizedFeature{{Name: "transaction.version", MinVersionLevel: 2, MaxVersionLevel: 2}}
		if !reflect.DeepEqual(resp.FinalizedFeatures, wantFinal) || resp.FinalizedFeaturesEpoch < 0 {
			t.Errorf("v%d: finalized %+v at epoch %d, want %+v at an epoch >= 0", v, resp.FinalizedFeatures, resp.FinalizedFeaturesEpoch, wantFinal)
		}
		var wantSupported []kmsg.ApiVersionsResponseSupportedFeature
		if v >= 4 { // KAFKA-17492: v3 leaves out minimum level 0
			wantSupported = []kmsg.ApiVersionsResponseSupportedFeature{{Name: "transaction.version", MinVersion: 0, MaxVersion: 2}}
		}
		if !reflect.DeepEqual(resp.SupportedFeatures, wantSupported) {
			t.Errorf("v%d: supported %+v, want %+v", v, resp.SupportedFeatures, wantSupported)
		}
		back := kmsg.NewPtrApiVersionsResponse()
		back.SetVersion(v)
		if err := back.ReadFrom(resp.AppendTo(nil)); err != nil || !reflect.DeepEqual(back.FinalizedFeatures, wantFinal) {
			t.Errorf("v%d: round trip: %v %+v", v, err, back.FinalizedFeatures)
		}
	}
}
