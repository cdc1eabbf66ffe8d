package api

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/quota"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// Client quotas, enforced as Kafka enforces them. The broker keeps a quota.Manager whose
// settings follow the metadata image (QuotasFromImage); the quota package resolves which
// entity's quota applies to a (user, client id) and keeps the usage. Here:
//
//   - producer_byte_rate: each Produce request's size is recorded (withQuotas);
//   - consumer_byte_rate: a consumer's Fetch response size is recorded before it is sent;
//     over the quota, the bytes are taken back and the answer is an empty response with
//     the throttle time (fetchReply); a request's max bytes are capped to what one quota
//     window allows (capFetchBytes), so a single response cannot always be over;
//   - request_percentage: the time a request kept the broker busy (its handler's time, not
//     the time it waited for an fsync, the ISR or a long poll) is recorded as a percentage
//     of one thread; follower fetches, WriteTxnMarkers and client ids starting with "__"
//     are exempt;
//   - over any quota, the response carries the throttle time (the larger when two apply)
//     and the connection is muted for that long (server.ConnInfo.Mute): its next request
//     is not handled before then, so a client that ignores throttle_time_ms is held to its
//     quota too (KIP-219). An acks=0 Produce has no response: it is only muted.

// QuotasFromImage is the image's client quotas in the quota package's form.
func QuotasFromImage(img *metadata.Image) *quota.Quotas {
	entries := make(map[quota.Entity]map[string]float64, len(img.ClientQuotas))
	for e, kv := range img.ClientQuotas {
		entries[quotaEntity(e)] = kv
	}
	return quota.NewQuotas(entries)
}

func quotaPart(p metadata.QuotaPart) quota.Part {
	return quota.Part{Present: p.Present, Default: p.Default, Name: p.Name}
}

func metadataPart(p quota.Part) metadata.QuotaPart {
	return metadata.QuotaPart{Present: p.Present, Default: p.Default, Name: p.Name}
}

func quotaEntity(e metadata.QuotaEntity) quota.Entity {
	return quota.Entity{User: quotaPart(e.User), ClientID: quotaPart(e.ClientID), IP: quotaPart(e.IP)}
}

func metadataEntity(e quota.Entity) metadata.QuotaEntity {
	return metadata.QuotaEntity{User: metadataPart(e.User), ClientID: metadataPart(e.ClientID), IP: metadataPart(e.IP)}
}

// quotaUser is the user a principal counts as: its name ("alice" for User:alice).
func quotaUser(principal string) string {
	if _, name, ok := strings.Cut(principal, ":"); ok {
		return name
	}
	return principal
}

// quotaClient is who a request counts for: the user its principal names and its client id.
func quotaClient(req *server.Request) (user, clientID string) {
	if req.ClientID != nil {
		clientID = *req.ClientID
	}
	return quotaUser(principalOf(req)), clientID
}

// API keys that request_percentage leaves alone: inter-broker requests (CLUSTER_ACTION).
const keyWriteTxnMarkers = 27

// withQuotas handles req with handle and applies producer_byte_rate and request_percentage
// to it. Fetch applies its own (fetchReply), where the response size is known.
func (s *Security) withQuotas(req *server.Request, handle func() *server.Reply) *server.Reply {
	m := s.Quotas
	if m == nil || req.Key == 1 || req.Key == keyWriteTxnMarkers {
		return handle()
	}
	q := m.Quotas()
	produce, _ := req.Msg.(*kmsg.ProduceRequest)
	bytes := produce != nil && q.Has(quota.ProducerByteRate)
	busy := q.Has(quota.RequestPercentage)
	if !bytes && !busy {
		return handle()
	}
	start := time.Now()
	reply := handle()
	took := time.Since(start)
	user, clientID := quotaClient(req)
	var bw, rt time.Duration
	if bytes {
		bw = m.Record(quota.ProducerByteRate, user, clientID, float64(req.Size))
	}
	if busy && (produce == nil || produce.Acks != 0) {
		rt = m.Record(quota.RequestPercentage, user, clientID, quota.RequestTimeUsage(took))
	}
	t, key := bw, quota.ProducerByteRate
	if rt > bw {
		t, key = rt, quota.RequestPercentage
	}
	if t <= 0 {
		return reply
	}
	s.throttled(key, t)
	ms := throttleMillis(t)
	return whenAnswered(reply, func(r *server.Reply) {
		// Muted from the answer on, as Kafka starts the throttle when it answers (for
		// acks=all, once the ISR has the batch).
		req.Conn.Mute(t)
		if tr, ok := r.Msg.(interface {
			kmsg.ThrottleResponse
			kmsg.SetThrottleResponse
		}); ok {
			if cur, _ := tr.Throttle(); cur < ms {
				tr.SetThrottle(ms)
			}
		}
	})
}

// whenAnswered calls f with the reply a request is finally answered with: r itself, or
// what its Then chain resolves to.
func whenAnswered(r *server.Reply, f func(*server.Reply)) *server.Reply {
	switch {
	case r == nil:
		return nil
	case r.Then != nil:
		then := r.Then
		return &server.Reply{Then: func(ctx context.Context) *server.Reply { return whenAnswered(then(ctx), f) }}
	}
	f(r)
	return r
}

// throttled tells the metrics of a throttle.
func (s *Security) throttled(key string, t time.Duration) {
	if s.Throttled != nil {
		s.Throttled(key, t)
	}
}

func throttleMillis(t time.Duration) int32 {
	return int32(min(t.Milliseconds(), math.MaxInt32))
}

// capFetchBytes bounds a consumer's fetch to what its consumer_byte_rate allows in the
// quota windows, as Kafka does, so that one response is not always over the quota.
func (s *Security) capFetchBytes(req *server.Request, r *kmsg.FetchRequest) {
	if s == nil || s.Quotas == nil || fetchReplicaID(r) >= 0 || !s.Quotas.Quotas().Has(quota.ConsumerByteRate) {
		return
	}
	user, clientID := quotaClient(req)
	if most, ok := s.Quotas.MaxValueInWindow(quota.ConsumerByteRate, user, clientID); ok {
		if most < float64(r.MaxBytes) || r.MaxBytes <= 0 {
			r.MaxBytes = int32(max(min(most, math.MaxInt32), 1))
		}
	}
}

// throttleFetch records a consumer's fetch response of size bytes against its
// consumer_byte_rate, and the busy time against its request_percentage, and returns the
// throttle time (0: send the response). When it is throttled the bytes are taken back,
// as the response goes out empty, and the connection is muted.
func (s *Security) throttleFetch(req *server.Request, r *kmsg.FetchRequest, size int, took time.Duration) time.Duration {
	if s == nil || s.Quotas == nil || fetchReplicaID(r) >= 0 {
		return 0
	}
	m := s.Quotas
	q := m.Quotas()
	bytes, busy := q.Has(quota.ConsumerByteRate), q.Has(quota.RequestPercentage)
	if !bytes && !busy {
		return 0
	}
	user, clientID := quotaClient(req)
	var bw, rt time.Duration
	if busy {
		rt = m.Record(quota.RequestPercentage, user, clientID, quota.RequestTimeUsage(took))
	}
	if bytes {
		bw = m.Record(quota.ConsumerByteRate, user, clientID, float64(size))
	}
	t, key := bw, quota.ConsumerByteRate
	if rt > bw {
		t, key = rt, quota.RequestPercentage
	}
	if t <= 0 {
		return 0
	}
	if bytes {
		m.Unrecord(quota.ConsumerByteRate, user, clientID, float64(size))
	}
	req.Conn.Mute(t)
	s.throttled(key, t)
	return t
}

// QuotaManager makes the quota manager of quota.window.num samples of window.
func QuotaManager(samples int, window time.Duration) *quota.Manager {
	return quota.NewManager(quota.Config{Samples: samples, Window: window})
}
