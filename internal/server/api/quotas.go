package api

import (
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/auth/quota"
	"github.com/sluicehq/sluice/internal/metadata"
	"github.com/sluicehq/sluice/internal/server"
)

// Client quotas: the broker keeps a quota.Manager whose settings follow the metadata
// image (QuotasFromImage), and the gate records each Produce request's bytes against
// producer_byte_rate; over the quota, the response carries the throttle time, which
// clients honour by holding their next request back (KIP-219). Sluice does not yet mute
// the connection itself, nor throttle fetches (consumer_byte_rate) or request time
// (request_percentage).

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

// throttle records a Produce request's bytes against producer_byte_rate and, when the
// client is over its quota, puts the throttle time in the response.
func (s *Security) throttle(req *server.Request, reply *server.Reply) *server.Reply {
	r, ok := req.Msg.(*kmsg.ProduceRequest)
	if !ok || s.Quotas == nil || !s.Quotas.Quotas().Has(quota.ProducerByteRate) {
		return reply
	}
	size := 0
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			size += len(p.Records)
		}
	}
	clientID := ""
	if req.ClientID != nil {
		clientID = *req.ClientID
	}
	d := s.Quotas.Record(quota.ProducerByteRate, quotaUser(principalOf(req)), clientID, float64(size))
	if d <= 0 {
		return reply
	}
	ms := int32(min(d.Milliseconds(), int64(1<<31-1)))
	return after(reply, func(m kmsg.Response) {
		if resp, ok := m.(*kmsg.ProduceResponse); ok && resp.ThrottleMillis < ms {
			resp.ThrottleMillis = ms
		}
	})
}

// QuotaManager makes the quota manager of quota.window.num samples of window.
func QuotaManager(samples int, window time.Duration) *quota.Manager {
	return quota.NewManager(quota.Config{Samples: samples, Window: window})
}
