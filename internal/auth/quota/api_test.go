package quota

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func sp(s string) *string { return &s }

// entry builds an AlterClientQuotas entry from "type=name" parts ("type=" for <default>)
// and ops "key=value" or "-key" (remove).
func entry(parts []string, ops ...string) kmsg.AlterClientQuotasRequestEntry {
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for _, p := range parts {
		t, n, _ := strings.Cut(p, "=")
		c := kmsg.NewAlterClientQuotasRequestEntryEntity()
		c.Type = t
		if n != "" {
			c.Name = sp(n)
		}
		if n == "\"\"" {
			c.Name = sp("")
		}
		e.Entity = append(e.Entity, c)
	}
	for _, o := range ops {
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		if k, ok := strings.CutPrefix(o, "-"); ok {
			op.Key, op.Remove = k, true
		} else {
			k, v, _ := strings.Cut(o, "=")
			op.Key = k
			fmt.Sscan(v, &op.Value)
		}
		e.Ops = append(e.Ops, op)
	}
	return e
}

func TestPlanAlter(t *testing.T) {
	q := NewQuotas(map[Entity]map[string]float64{
		{User: Named("alice")}: {ProducerByteRate: 1000, ConsumerByteRate: 2000},
	})
	tests := []struct {
		name    string
		entry   kmsg.AlterClientQuotasRequestEntry
		code    *kerr.Error
		message string
		changes []Change
	}{
		{name: "set, change and remove", entry: entry([]string{"user=alice"}, "producer_byte_rate=1000", "consumer_byte_rate=3000", "-request_percentage"),
			changes: []Change{{Entity: Entity{User: Named("alice")}, Key: ConsumerByteRate, Value: 3000}}},
		{name: "remove a set key", entry: entry([]string{"user=alice"}, "-producer_byte_rate"),
			changes: []Change{{Entity: Entity{User: Named("alice")}, Key: ProducerByteRate, Remove: true}}},
		{name: "default user and client", entry: entry([]string{"user=", "client-id=app"}, "request_percentage=12.5", "controller_mutation_rate=3"),
			changes: []Change{
				{Entity: Entity{User: Default(), ClientID: Named("app")}, Key: RequestPercentage, Value: 12.5},
				{Entity: Entity{User: Default(), ClientID: Named("app")}, Key: ControllerMutationRate, Value: 3},
			}},
		{name: "ip", entry: entry([]string{"ip=10.0.0.1"}, "connection_creation_rate=10"),
			changes: []Change{{Entity: Entity{IP: Named("10.0.0.1")}, Key: ConnectionCreationRate, Value: 10}}},
		{name: "empty entity", entry: entry(nil, "producer_byte_rate=1"), code: kerr.InvalidRequest, message: "Invalid empty client quota entity"},
		{name: "unknown type", entry: entry([]string{"group=g"}, "producer_byte_rate=1"), code: kerr.InvalidRequest, message: "Unhandled client quota entity type: group"},
		{name: "type twice", entry: entry([]string{"user=a", "user=b"}, "producer_byte_rate=1"), code: kerr.InvalidRequest,
			message: "Invalid empty client quota entity, duplicate entity entry user"},
		{name: "empty name", entry: entry([]string{"user=\"\""}, "producer_byte_rate=1"), code: kerr.InvalidRequest, message: "Empty user not supported"},
		{name: "ip with user", entry: entry([]string{"ip=10.0.0.1", "user=a"}, "connection_creation_rate=1"), code: kerr.InvalidRequest,
			message: "Invalid quota entity combination, IP entity should not be combined with User or ClientId"},
		{name: "bad ip", entry: entry([]string{"ip=not-an-ip"}, "connection_creation_rate=1"), code: kerr.InvalidRequest,
			message: "not-an-ip is not a valid IP or resolvable host."},
		{name: "key of another kind", entry: entry([]string{"ip="}, "producer_byte_rate=1"), code: kerr.InvalidRequest, message: "Invalid configuration key producer_byte_rate"},
		{name: "unknown key", entry: entry([]string{"user=a"}, "bytes=1"), code: kerr.InvalidRequest, message: "Invalid configuration key bytes"},
		{name: "fractional byte rate", entry: entry([]string{"user=a"}, "producer_byte_rate=1.5"), code: kerr.InvalidRequest,
			message: "Configuration producer_byte_rate must be a Long value"},
		{name: "negative", entry: entry([]string{"user=a"}, "request_percentage=-1"), code: kerr.InvalidRequest,
			message: "Quota request_percentage must be a non-negative number, not -1"},
		{name: "key twice", entry: entry([]string{"user=a"}, "producer_byte_rate=1", "-producer_byte_rate"), code: kerr.InvalidRequest,
			message: "Duplicate quota key producer_byte_rate not updating quota for this entity {user=a}"},
		{name: "one bad op fails the entry", entry: entry([]string{"user=a"}, "producer_byte_rate=10", "bytes=1"), code: kerr.InvalidRequest,
			message: "Invalid configuration key bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results, changes := PlanAlter(q, []kmsg.AlterClientQuotasRequestEntry{tt.entry})
			if len(results) != 1 {
				t.Fatalf("%d results", len(results))
			}
			r := results[0]
			if len(r.Entity) != len(tt.entry.Entity) {
				t.Fatalf("result entity %+v does not echo the request's", r.Entity)
			}
			if tt.code == nil {
				if r.ErrorCode != 0 {
					t.Fatalf("error %d %v", r.ErrorCode, *r.ErrorMessage)
				}
				if !slices.Equal(changes, tt.changes) {
					t.Fatalf("changes %+v, want %+v", changes, tt.changes)
				}
				return
			}
			if r.ErrorCode != tt.code.Code || r.ErrorMessage == nil || *r.ErrorMessage != tt.message {
				t.Fatalf("error %d %v, want %v %q", r.ErrorCode, r.ErrorMessage, tt.code, tt.message)
			}
			if len(changes) != 0 {
				t.Fatalf("a failed entry wrote %+v", changes)
			}
		})
	}
}

func TestPlanAlterDuplicateEntity(t *testing.T) {
	results, changes := PlanAlter(NewQuotas(nil), []kmsg.AlterClientQuotasRequestEntry{
		entry([]string{"user=a"}, "producer_byte_rate=1"),
		entry([]string{"user=a"}, "consumer_byte_rate=1"),
	})
	if results[0].ErrorCode != 0 || results[1].ErrorCode != kerr.InvalidRequest.Code || *results[1].ErrorMessage != "Ignoring duplicate entity {user=a}" {
		t.Fatalf("results %+v", results)
	}
	if len(changes) != 1 || changes[0].Key != ProducerByteRate {
		t.Fatalf("changes %+v", changes)
	}
}

func TestQuotasWith(t *testing.T) {
	a := Entity{User: Named("a")}
	q := NewQuotas(map[Entity]map[string]float64{a: {ProducerByteRate: 1}})
	q2 := q.With([]Change{{Entity: a, Key: ProducerByteRate, Remove: true}, {Entity: Entity{ClientID: Default()}, Key: ConsumerByteRate, Value: 5}})
	if len(q2.Entities()) != 1 || q2.Get(Entity{ClientID: Default()})[ConsumerByteRate] != 5 {
		t.Fatalf("after With: %v", q2.Entities())
	}
	if q.Get(a)[ProducerByteRate] != 1 || q.Has(ConsumerByteRate) || q2.Has(ProducerByteRate) {
		t.Fatal("With changed the original, or Has is stale")
	}
}

func component(t string, m kmsg.QuotasMatchType, match *string) kmsg.DescribeClientQuotasRequestComponent {
	c := kmsg.NewDescribeClientQuotasRequestComponent()
	c.EntityType, c.MatchType, c.Match = t, m, match
	return c
}

func TestDescribe(t *testing.T) {
	const (
		exact = kmsg.QuotasMatchTypeExact
		def   = kmsg.QuotasMatchTypeDefault
		any   = kmsg.QuotasMatchTypeAny
	)
	ents := map[string]Entity{
		"alice":         {User: Named("alice")},
		"<user>":        {User: Default()},
		"alice/app":     {User: Named("alice"), ClientID: Named("app")},
		"alice/<cli>":   {User: Named("alice"), ClientID: Default()},
		"<user>/<cli>":  {User: Default(), ClientID: Default()},
		"app":           {ClientID: Named("app")},
		"<cli>":         {ClientID: Default()},
		"ip 10.0.0.1":   {IP: Named("10.0.0.1")},
		"ip <default>":  {IP: Default()},
		"bob/other-app": {User: Named("bob"), ClientID: Named("other-app")},
	}
	entries := make(map[Entity]map[string]float64)
	for _, e := range ents {
		if e.IP.Present {
			entries[e] = map[string]float64{ConnectionCreationRate: 5}
		} else {
			entries[e] = map[string]float64{ProducerByteRate: 1, RequestPercentage: 50}
		}
	}
	q := NewQuotas(entries)
	tests := []struct {
		name   string
		comps  []kmsg.DescribeClientQuotasRequestComponent
		strict bool
		want   []string
	}{
		{name: "no components matches all", want: []string{"alice", "<user>", "alice/app", "alice/<cli>", "<user>/<cli>", "app", "<cli>", "ip 10.0.0.1", "ip <default>", "bob/other-app"}},
		{name: "no components strict matches nothing", strict: true},
		{name: "exact user", comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", exact, sp("alice"))},
			want: []string{"alice", "alice/app", "alice/<cli>"}},
		{name: "exact user strict", strict: true, comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", exact, sp("alice"))},
			want: []string{"alice"}},
		{name: "default user", comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", def, nil)},
			want: []string{"<user>", "<user>/<cli>"}},
		{name: "any user includes defaults", comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", any, nil)},
			want: []string{"alice", "<user>", "alice/app", "alice/<cli>", "<user>/<cli>", "bob/other-app"}},
		{name: "any user strict", strict: true, comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", any, nil)},
			want: []string{"alice", "<user>"}},
		{name: "user and client", comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", exact, sp("alice")), component("client-id", any, nil)},
			want: []string{"alice/app", "alice/<cli>"}},
		{name: "client default strict", strict: true, comps: []kmsg.DescribeClientQuotasRequestComponent{component("client-id", def, nil)},
			want: []string{"<cli>"}},
		{name: "ip", comps: []kmsg.DescribeClientQuotasRequestComponent{component("ip", any, nil)},
			want: []string{"ip 10.0.0.1", "ip <default>"}},
		{name: "exact with no match", comps: []kmsg.DescribeClientQuotasRequestComponent{component("user", exact, sp("nobody"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kmsg.NewPtrDescribeClientQuotasRequest()
			req.Components, req.Strict = tt.comps, tt.strict
			code, msg, got := Describe(q, req)
			if code != 0 {
				t.Fatalf("error %d %s", code, *msg)
			}
			var want []Entity
			for _, n := range tt.want {
				want = append(want, ents[n])
			}
			want = NewQuotas(func() map[Entity]map[string]float64 {
				m := make(map[Entity]map[string]float64)
				for _, e := range want {
					m[e] = entries[e]
				}
				return m
			}()).Entities()
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d (%v)", len(got), len(want), tt.want)
			}
			for i, e := range got {
				if s := describedEntity(e); s != want[i] {
					t.Errorf("entry %d is %s, want %s", i, s, want[i])
				}
				if !want[i].IP.Present && (len(e.Values) != 2 || e.Values[0].Key != ProducerByteRate || e.Values[1].Value != 50) {
					t.Errorf("entry %d values %+v", i, e.Values)
				}
			}
		})
	}
}

func describedEntity(e kmsg.DescribeClientQuotasResponseEntry) Entity {
	var out Entity
	for _, c := range e.Entity {
		p := Default()
		if c.Name != nil {
			p = Named(*c.Name)
		}
		*out.part(c.Type) = p
	}
	return out
}

func TestDescribeInvalidFilters(t *testing.T) {
	tests := []struct {
		comps []kmsg.DescribeClientQuotasRequestComponent
		code  *kerr.Error
	}{
		{[]kmsg.DescribeClientQuotasRequestComponent{component("", kmsg.QuotasMatchTypeAny, nil)}, kerr.InvalidRequest},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("user", kmsg.QuotasMatchTypeAny, nil), component("user", kmsg.QuotasMatchTypeDefault, nil)}, kerr.InvalidRequest},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("group", kmsg.QuotasMatchTypeAny, nil)}, kerr.UnsupportedVersion},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("user", kmsg.QuotasMatchTypeExact, nil)}, kerr.InvalidRequest},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("user", kmsg.QuotasMatchTypeDefault, sp("x"))}, kerr.InvalidRequest},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("user", kmsg.QuotasMatchTypeAny, sp("x"))}, kerr.InvalidRequest},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("user", 9, nil)}, kerr.UnsupportedVersion},
		{[]kmsg.DescribeClientQuotasRequestComponent{component("ip", kmsg.QuotasMatchTypeAny, nil), component("client-id", kmsg.QuotasMatchTypeAny, nil)}, kerr.InvalidRequest},
	}
	for i, tt := range tests {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		req.Components = tt.comps
		code, msg, entries := Describe(NewQuotas(nil), req)
		if code != tt.code.Code || msg == nil || entries != nil {
			t.Errorf("filter %d: code %d msg %v, want %v", i, code, msg, tt.code)
		}
	}
}

func TestIPQuota(t *testing.T) {
	q := NewQuotas(map[Entity]map[string]float64{
		{IP: Named("10.0.0.1")}: {ConnectionCreationRate: 5},
		{IP: Default()}:         {ConnectionCreationRate: 100},
	})
	if v, ok := q.IPQuota("10.0.0.1"); !ok || v != 5 {
		t.Errorf("own: %v %v", v, ok)
	}
	if v, ok := q.IPQuota("10.0.0.2"); !ok || v != 100 {
		t.Errorf("default: %v %v", v, ok)
	}
}
