package metadata

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Client quotas (KIP-546's AlterClientQuotas) live in the metadata log, as in KRaft:
// every broker throttles from its own image. A ClientQuotaRecord sets or removes one key
// of one entity: a user, a client id, both, or an IP address, each named or <default>.

// QuotaPart is one entity type's part of a quota entity: absent, <default>, or a name.
type QuotaPart struct {
	Present bool   `json:"present,omitempty"`
	Default bool   `json:"default,omitempty"`
	Name    string `json:"name,omitempty"`
}

// QuotaEntity is what a quota applies to. It is comparable.
type QuotaEntity struct {
	User     QuotaPart `json:"user"`
	ClientID QuotaPart `json:"clientId"`
	IP       QuotaPart `json:"ip"`
}

// ClientQuotaRecord sets Key to Value on Entity, or, with Remove, removes Key.
type ClientQuotaRecord struct {
	Entity QuotaEntity `json:"entity"`
	Key    string      `json:"key"`
	Value  float64     `json:"value"`
	Remove bool        `json:"remove,omitempty"`
}

func (*ClientQuotaRecord) Type() RecordType { return ClientQuotaRecordType }
func (*ClientQuotaRecord) Version() uint16  { return 0 }

// AlterClientQuotas applies recs together, in one log entry.
func (s *Store) AlterClientQuotas(ctx context.Context, recs []ClientQuotaRecord) error {
	if len(recs) == 0 {
		return nil
	}
	out := make([]Record, len(recs))
	for i := range recs {
		r := recs[i]
		out[i] = &r
	}
	ctx, unlock, lerr := s.lockPropose(ctx)
	if lerr != nil {
		return lerr
	}
	defer unlock()
	_, err := s.propose(ctx, out)
	return err
}

func (b *builder) applyClientQuota(r *ClientQuotaRecord) error {
	e := r.Entity
	if !e.User.Present && !e.ClientID.Present && !e.IP.Present {
		return errorf(kerr.InvalidRequest, "client quota without an entity")
	}
	if r.Key == "" {
		return errorf(kerr.InvalidRequest, "client quota of %+v without a key", e)
	}
	// Quota changes are rare and few: each record copies what it changes.
	next := maps.Clone(b.img.ClientQuotas)
	if next == nil {
		next = map[QuotaEntity]map[string]float64{}
	}
	kv := maps.Clone(next[e])
	if kv == nil {
		kv = map[string]float64{}
	}
	if r.Remove {
		delete(kv, r.Key)
	} else {
		kv[r.Key] = r.Value
	}
	if len(kv) == 0 {
		delete(next, e)
	} else {
		next[e] = kv
	}
	b.img.ClientQuotas = next
	return nil
}

func compareQuotaParts(a, b QuotaPart) int {
	bit := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return cmp.Or(cmp.Compare(bit(a.Present), bit(b.Present)), cmp.Compare(bit(a.Default), bit(b.Default)), cmp.Compare(a.Name, b.Name))
}

// quotaRecords are the records of every quota, for a snapshot, in a fixed order.
func (img *Image) quotaRecords() []Record {
	es := slices.SortedFunc(maps.Keys(img.ClientQuotas), func(a, b QuotaEntity) int {
		return cmp.Or(compareQuotaParts(a.User, b.User), compareQuotaParts(a.ClientID, b.ClientID), compareQuotaParts(a.IP, b.IP))
	})
	var recs []Record
	for _, e := range es {
		kv := img.ClientQuotas[e]
		for _, k := range slices.Sorted(maps.Keys(kv)) {
			recs = append(recs, &ClientQuotaRecord{Entity: e, Key: k, Value: kv[k]})
		}
	}
	return recs
}
