package quota

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Entity types, as the quota APIs name them.
const (
	TypeUser     = "user"
	TypeClientID = "client-id"
	TypeIP       = "ip"
)

// Quota keys.
const (
	ProducerByteRate       = "producer_byte_rate"
	ConsumerByteRate       = "consumer_byte_rate"
	RequestPercentage      = "request_percentage"
	ControllerMutationRate = "controller_mutation_rate"
	ConnectionCreationRate = "connection_creation_rate"
)

// InternalClientIDPrefix marks clients that request_percentage does not count.
const InternalClientIDPrefix = "__"

// integralKeys must hold whole numbers (Kafka declares them LONG).
var integralKeys = map[string]bool{ProducerByteRate: true, ConsumerByteRate: true, ConnectionCreationRate: true}

// Part is one entity type's part of an entity: absent, <default>, or a name.
type Part struct {
	Present bool
	Default bool
	Name    string
}

// Named is the part for a name.
func Named(name string) Part { return Part{Present: true, Name: name} }

// Default is the <default> part.
func Default() Part { return Part{Present: true, Default: true} }

func (p Part) String() string {
	if p.Default {
		return "<default>"
	}
	return p.Name
}

// namePtr is the part's name as the APIs carry it: nil for <default>.
func (p Part) namePtr() *string {
	if p.Default {
		return nil
	}
	n := p.Name
	return &n
}

// Entity is what a quota applies to: a user, a client id, both, or an IP address. It is
// comparable, so it keys maps.
type Entity struct {
	User     Part
	ClientID Part
	IP       Part
}

func (e Entity) String() string {
	s := ""
	add := func(t string, p Part) {
		if p.Present {
			if s != "" {
				s += ","
			}
			s += t + "=" + p.String()
		}
	}
	add(TypeUser, e.User)
	add(TypeClientID, e.ClientID)
	add(TypeIP, e.IP)
	return "{" + s + "}"
}

// part returns the entity's part of type t.
func (e *Entity) part(t string) *Part {
	switch t {
	case TypeUser:
		return &e.User
	case TypeClientID:
		return &e.ClientID
	case TypeIP:
		return &e.IP
	}
	return nil
}

func (e Entity) size() int {
	n := 0
	for _, p := range []Part{e.User, e.ClientID, e.IP} {
		if p.Present {
			n++
		}
	}
	return n
}

// Error is a Kafka error code with its message; errors.Is(err, kerr.InvalidRequest) works
// through Unwrap.
type Error struct {
	Code    *kerr.Error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the Kafka error code.
func (e *Error) Unwrap() error { return e.Code }

func errorf(code *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// EntityFromComponents builds and checks an entity from the (type, name) pairs of an
// AlterClientQuotas entry, as Kafka's controller does: at least one part, each type once,
// types user, client-id and ip only, no empty name, ip alone and a valid IP address.
func EntityFromComponents(types []string, names []*string) (Entity, error) {
	var e Entity
	if len(types) == 0 {
		return e, errorf(kerr.InvalidRequest, "Invalid empty client quota entity")
	}
	for i, t := range types {
		p := e.part(t)
		if p == nil {
			return e, errorf(kerr.InvalidRequest, "Unhandled client quota entity type: %s", t)
		}
		if p.Present {
			return e, errorf(kerr.InvalidRequest, "Invalid empty client quota entity, duplicate entity entry %s", t)
		}
		if names[i] == nil {
			*p = Default()
			continue
		}
		if *names[i] == "" {
			return e, errorf(kerr.InvalidRequest, "Empty %s not supported", t)
		}
		*p = Named(*names[i])
	}
	if e.IP.Present {
		if e.User.Present || e.ClientID.Present {
			return e, errorf(kerr.InvalidRequest, "Invalid quota entity combination, IP entity should not be combined with User or ClientId")
		}
		if !e.IP.Default {
			if _, err := netip.ParseAddr(e.IP.Name); err != nil {
				return e, errorf(kerr.InvalidRequest, "%s is not a valid IP or resolvable host.", e.IP.Name)
			}
		}
	}
	return e, nil
}

// validKey says whether key is a quota of e's kind of entity.
func validKey(e Entity, key string) bool {
	if e.IP.Present {
		return key == ConnectionCreationRate
	}
	switch key {
	case ProducerByteRate, ConsumerByteRate, RequestPercentage, ControllerMutationRate:
		return true
	}
	return false
}

// checkValue checks a quota value for key: a finite, non-negative number, and a whole one
// for the byte and connection rates. (Kafka does not refuse negative values; a negative
// rate has no meaning, so Sluice does.)
func checkValue(key string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return errorf(kerr.InvalidRequest, "Quota %s must be a non-negative number, not %v", key, v)
	}
	if integralKeys[key] && math.Abs(v-math.Round(v)) > 1e-6 {
		return errorf(kerr.InvalidRequest, "Configuration %s must be a Long value", key)
	}
	return nil
}

// Quotas is an immutable set of quota settings per entity: the client quota part of a
// metadata image. Share it freely.
type Quotas struct {
	entries map[Entity]map[string]float64
	keys    map[string]bool // the keys some entity sets
}

// NewQuotas copies entries into a Quotas; entities without keys are dropped.
func NewQuotas(entries map[Entity]map[string]float64) *Quotas {
	q := &Quotas{entries: make(map[Entity]map[string]float64, len(entries))}
	for e, kv := range entries {
		if len(kv) > 0 {
			q.entries[e] = maps.Clone(kv)
		}
	}
	q.index()
	return q
}

func (q *Quotas) index() {
	q.keys = make(map[string]bool)
	for _, kv := range q.entries {
		for k := range kv {
			q.keys[k] = true
		}
	}
}

// Get returns a copy of the quotas set on exactly e.
func (q *Quotas) Get(e Entity) map[string]float64 { return maps.Clone(q.entries[e]) }

// Entities lists the entities with quotas, sorted.
func (q *Quotas) Entities() []Entity {
	es := slices.Collect(maps.Keys(q.entries))
	slices.SortFunc(es, compareEntities)
	return es
}

func compareParts(a, b Part) int {
	return cmp.Or(compareBool(a.Present, b.Present), compareBool(!a.Default, !b.Default), cmp.Compare(a.Name, b.Name))
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

func compareEntities(a, b Entity) int {
	return cmp.Or(compareParts(a.User, b.User), compareParts(a.ClientID, b.ClientID), compareParts(a.IP, b.IP))
}

// Change is one quota record: set Key to Value on Entity, or remove Key from it.
type Change struct {
	Entity Entity
	Key    string
	Value  float64
	Remove bool
}

// With returns the quotas after changes; q is unchanged. An entity whose last key is
// removed disappears.
func (q *Quotas) With(changes []Change) *Quotas {
	next := &Quotas{entries: maps.Clone(q.entries)}
	touched := make(map[Entity]bool)
	for _, c := range changes {
		if !touched[c.Entity] {
			next.entries[c.Entity] = maps.Clone(next.entries[c.Entity])
			if next.entries[c.Entity] == nil {
				next.entries[c.Entity] = make(map[string]float64)
			}
			touched[c.Entity] = true
		}
		if c.Remove {
			delete(next.entries[c.Entity], c.Key)
		} else {
			next.entries[c.Entity][c.Key] = c.Value
		}
	}
	for e := range touched {
		if len(next.entries[e]) == 0 {
			delete(next.entries, e)
		}
	}
	next.index()
	return next
}

// Tags identify whose usage is counted together, as Kafka's quota metric tags: the user
// and client id, either possibly "" for "all of them together".
type Tags struct {
	User     string
	ClientID string
}

// Resolve finds the quota of key for a connection of user with clientID, by Kafka's order
// of precedence (see the package documentation), and the tags its usage is counted under.
// ok is false when no entity sets key.
func (q *Quotas) Resolve(key, user, clientID string) (limit float64, tags Tags, ok bool) {
	if key == ConnectionCreationRate {
		return 0, Tags{}, false
	}
	u, c, du, dc := Named(user), Named(clientID), Default(), Default()
	candidates := [...]struct {
		e    Entity
		tags Tags
	}{
		{Entity{User: u, ClientID: c}, Tags{user, clientID}},
		{Entity{User: u, ClientID: dc}, Tags{user, clientID}},
		{Entity{User: u}, Tags{User: user}},
		{Entity{User: du, ClientID: c}, Tags{user, clientID}},
		{Entity{User: du, ClientID: dc}, Tags{user, clientID}},
		{Entity{User: du}, Tags{User: user}},
		{Entity{ClientID: c}, Tags{ClientID: clientID}},
		{Entity{ClientID: dc}, Tags{ClientID: clientID}},
	}
	for _, cand := range candidates {
		if v, found := q.entries[cand.e][key]; found {
			return v, cand.tags, true
		}
	}
	return 0, Tags{}, false
}

// Has says whether any entity sets key: when none does, usage need not be recorded.
func (q *Quotas) Has(key string) bool { return q.keys[key] }

// IPQuota returns the connection_creation_rate of ip: its own, else the <default> ip one.
func (q *Quotas) IPQuota(ip string) (float64, bool) {
	if v, ok := q.entries[Entity{IP: Named(ip)}][ConnectionCreationRate]; ok {
		return v, true
	}
	v, ok := q.entries[Entity{IP: Default()}][ConnectionCreationRate]
	return v, ok
}
