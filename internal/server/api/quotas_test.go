package api

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/quota"
	"github.com/sluicehq/sluice/internal/server"
)

// quotaFixture is a gate with client quotas in front of handlers that answer at once.
type quotaFixture struct {
	sec       *Security
	gate      server.Handler
	throttled map[string]int
}

func newQuotaFixture(t *testing.T, quotas map[quota.Entity]map[string]float64) *quotaFixture {
	t.Helper()
	qm := QuotaManager(2, time.Second)
	qm.Update(quota.NewQuotas(quotas))
	f := &quotaFixture{throttled: map[string]int{}}
	f.sec = &Security{Quotas: qm, Throttled: func(key string, _ time.Duration) { f.throttled[key]++ }}
	mux := server.NewMux()
	mux.Register(0, 0, 13, func(_ context.Context, req *server.Request) *server.Reply {
		if req.Msg.(*kmsg.ProduceRequest).Acks == 0 {
			return &server.Reply{NoResponse: true}
		}
		return &server.Reply{Msg: req.Msg.ResponseKind()}
	})
	answer := func(_ context.Context, req *server.Request) *server.Reply {
		return &server.Reply{Msg: req.Msg.ResponseKind()}
	}
	mux.Register(3, 0, 12, answer)
	mux.Register(keyWriteTxnMarkers, 0, 1, answer)
	f.gate = f.sec.Gate(mux)
	return f
}

func (f *quotaFixture) send(ci *server.ConnInfo, clientID string, msg kmsg.Request, size int) *server.Reply {
	req := &server.Request{Key: msg.Key(), Version: msg.GetVersion(), Msg: msg, Conn: ci, ClientID: &clientID, Size: size}
	return f.gate.Handle(context.Background(), req)
}

func produceRequest(acks int16) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.SetVersion(9)
	r.Acks = acks
	return r
}

func clientEntity(id string) quota.Entity { return quota.Entity{ClientID: quota.Named(id)} }

// TestProduceQuotaMutes: a Produce request over producer_byte_rate gets the throttle time
// in its response and mutes its connection for that long; an acks=0 one is only muted;
// another client id is left alone.
func TestProduceQuotaMutes(t *testing.T) {
	f := newQuotaFixture(t, map[quota.Entity]map[string]float64{
		clientEntity("slow"): {quota.ProducerByteRate: 1000},
	})
	ci := newConnInfo()
	// 1000 B/s over a window of at least one second: 5000 bytes is 4 s over.
	r := f.send(ci, "slow", produceRequest(1), 5000)
	ms := r.Msg.(*kmsg.ProduceResponse).ThrottleMillis
	if ms < 3500 || ms > 4500 {
		t.Errorf("throttle %d ms, want about 4000", ms)
	}
	if d := ci.MutedFor(); d < 3*time.Second || d > time.Duration(ms)*time.Millisecond {
		t.Errorf("connection muted for %v, want the throttle time (%d ms)", d, ms)
	}
	if f.throttled[quota.ProducerByteRate] != 1 {
		t.Errorf("throttles told: %v", f.throttled)
	}

	ci0 := newConnInfo()
	if r := f.send(ci0, "slow", produceRequest(0), 1000); !r.NoResponse {
		t.Fatalf("acks=0 answered: %+v", r)
	}
	if ci0.MutedFor() <= 0 {
		t.Error("an acks=0 produce over the quota did not mute its connection")
	}

	free := newConnInfo()
	if ms := f.send(free, "free", produceRequest(1), 1<<20).Msg.(*kmsg.ProduceResponse).ThrottleMillis; ms != 0 || free.MutedFor() != 0 {
		t.Errorf("a client without a quota: throttle %d ms, muted %v", ms, free.MutedFor())
	}
}

// TestRequestQuotaExemptions: with request_percentage=0 for every client id, a Metadata
// request is throttled, while inter-broker requests (WriteTxnMarkers) and client ids
// starting with "__" are not.
func TestRequestQuotaExemptions(t *testing.T) {
	f := newQuotaFixture(t, map[quota.Entity]map[string]float64{
		{ClientID: quota.Default()}: {quota.RequestPercentage: 0},
	})
	ci := newConnInfo()
	if ms := f.send(ci, "app", metadataRequest(), 100).Msg.(*kmsg.MetadataResponse).ThrottleMillis; ms <= 0 || ms > 1000 {
		t.Errorf("Metadata at request_percentage=0: throttle %d ms, want > 0 and at most one window", ms)
	}
	if ci.MutedFor() <= 0 {
		t.Error("not muted")
	}
	markers := kmsg.NewPtrWriteTxnMarkersRequest()
	markers.SetVersion(1)
	for _, c := range []struct {
		clientID string
		msg      kmsg.Request
	}{{"broker-1", markers}, {"__internal", metadataRequest()}} {
		ci := newConnInfo()
		r := f.send(ci, c.clientID, c.msg, 100)
		ms := int32(0)
		if tr, ok := r.Msg.(kmsg.ThrottleResponse); ok { // WriteTxnMarkers has no throttle field
			ms, _ = tr.Throttle()
		}
		if ms != 0 || ci.MutedFor() != 0 {
			t.Errorf("%s from %s: throttle %d ms, muted %v", kmsg.NameForKey(c.msg.Key()), c.clientID, ms, ci.MutedFor())
		}
	}
}

// TestFetchQuota: a consumer's fetch over consumer_byte_rate is throttled and its bytes
// taken back; its max bytes are capped to the quota windows' worth; a follower's fetch
// is exempt.
func TestFetchQuota(t *testing.T) {
	f := newQuotaFixture(t, map[quota.Entity]map[string]float64{
		{ClientID: quota.Default()}: {quota.ConsumerByteRate: 1000},
	})
	fetch := func(replica int32) (*server.Request, *kmsg.FetchRequest) {
		r := kmsg.NewPtrFetchRequest()
		r.SetVersion(16)
		r.ReplicaState.ID = replica
		r.MaxBytes = 50 << 20
		id := "consumer"
		return &server.Request{Key: 1, Version: 16, Msg: r, Conn: newConnInfo(), ClientID: &id}, r
	}
	req, r := fetch(-1)
	f.sec.capFetchBytes(req, r)
	if r.MaxBytes != 1000 { // quota * (quota.window.num - 1) windows of a second
		t.Errorf("max bytes capped to %d, want 1000", r.MaxBytes)
	}
	if d := f.sec.throttleFetch(req, r, 900, 0); d != 0 {
		t.Errorf("900 bytes within the quota throttled for %v", d)
	}
	d := f.sec.throttleFetch(req, r, 5000, 0)
	if d <= 0 || req.Conn.MutedFor() <= 0 {
		t.Fatalf("5000 bytes over a 1000 B/s quota: throttle %v, muted %v", d, req.Conn.MutedFor())
	}
	// The throttled bytes were taken back: what remains is the 900 sent.
	if rate, _ := f.sec.Quotas.Rate(quota.ConsumerByteRate, "ANONYMOUS", "consumer"); rate > 1000 {
		t.Errorf("rate %.0f B/s after a throttled fetch; its bytes were not taken back", rate)
	}
	req, r = fetch(2)
	f.sec.capFetchBytes(req, r)
	if r.MaxBytes != 50<<20 {
		t.Errorf("a follower's max bytes capped to %d", r.MaxBytes)
	}
	if d := f.sec.throttleFetch(req, r, 1<<30, 0); d != 0 {
		t.Errorf("a follower's fetch throttled for %v", d)
	}
}
