package quota

import (
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PlanAlter checks AlterClientQuotas entries against q and returns one result per entry, in
// order, and the changes to write (as quota records) for the valid ones. An entry is all or
// nothing: an invalid entity, a key twice, a key the entity's kind does not have (ip
// entities have only connection_creation_rate) or a bad value fails the entry with
// INVALID_REQUEST, and a later entry for an entity already altered in the request is
// ignored with INVALID_REQUEST. Removing an unset key and setting a key to its current
// value write nothing. With ValidateOnly, the caller simply does not write the changes.
func PlanAlter(q *Quotas, entries []kmsg.AlterClientQuotasRequestEntry) ([]kmsg.AlterClientQuotasResponseEntry, []Change) {
	results := make([]kmsg.AlterClientQuotasResponseEntry, len(entries))
	var changes []Change
	seen := make(map[Entity]bool)
	for i, entry := range entries {
		r := kmsg.NewAlterClientQuotasResponseEntry()
		for _, c := range entry.Entity {
			re := kmsg.NewAlterClientQuotasResponseEntryEntity()
			re.Type, re.Name = c.Type, c.Name
			r.Entity = append(r.Entity, re)
		}
		cs, err := planEntry(q, entry, seen)
		if err != nil {
			setError(&r.ErrorCode, &r.ErrorMessage, err)
		} else {
			changes = append(changes, cs...)
		}
		results[i] = r
	}
	return results, changes
}

func planEntry(q *Quotas, entry kmsg.AlterClientQuotasRequestEntry, seen map[Entity]bool) ([]Change, error) {
	types := make([]string, len(entry.Entity))
	names := make([]*string, len(entry.Entity))
	for i, c := range entry.Entity {
		types[i], names[i] = c.Type, c.Name
	}
	e, err := EntityFromComponents(types, names)
	if err != nil {
		return nil, err
	}
	if seen[e] {
		return nil, errorf(kerr.InvalidRequest, "Ignoring duplicate entity %s", e)
	}
	seen[e] = true
	current := q.entries[e]
	keys := make(map[string]bool)
	var changes []Change
	for _, op := range entry.Ops {
		if keys[op.Key] {
			return nil, errorf(kerr.InvalidRequest, "Duplicate quota key %s not updating quota for this entity %s", op.Key, e)
		}
		keys[op.Key] = true
		if !validKey(e, op.Key) {
			return nil, errorf(kerr.InvalidRequest, "Invalid configuration key %s", op.Key)
		}
		cur, set := current[op.Key]
		if op.Remove {
			if set {
				changes = append(changes, Change{Entity: e, Key: op.Key, Remove: true})
			}
			continue
		}
		if err := checkValue(op.Key, op.Value); err != nil {
			return nil, err
		}
		if !set || cur != op.Value {
			changes = append(changes, Change{Entity: e, Key: op.Key, Value: op.Value})
		}
	}
	return changes, nil
}

// filter is a checked DescribeClientQuotas filter: exact parts to equal, types to be
// present.
type filter struct {
	exact  map[string]Part
	typed  map[string]bool
	strict bool
}

func parseFilter(req *kmsg.DescribeClientQuotasRequest) (filter, error) {
	f := filter{exact: make(map[string]Part), typed: make(map[string]bool), strict: req.Strict}
	for _, c := range req.Components {
		t := c.EntityType
		if t == "" {
			return f, errorf(kerr.InvalidRequest, "Invalid empty entity type.")
		}
		if _, dup := f.exact[t]; dup || f.typed[t] {
			return f, errorf(kerr.InvalidRequest, "Entity type %s cannot appear more than once in the filter.", t)
		}
		if t != TypeUser && t != TypeClientID && t != TypeIP {
			return f, errorf(kerr.UnsupportedVersion, "Unsupported entity type %s", t)
		}
		switch c.MatchType {
		case kmsg.QuotasMatchTypeExact:
			if c.Match == nil {
				return f, errorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_EXACT, but set match string to null.")
			}
			f.exact[t] = Named(*c.Match)
		case kmsg.QuotasMatchTypeDefault:
			if c.Match != nil {
				return f, errorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
			}
			f.exact[t] = Default()
		case kmsg.QuotasMatchTypeAny:
			if c.Match != nil {
				return f, errorf(kerr.InvalidRequest, "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
			}
			f.typed[t] = true
		default:
			return f, errorf(kerr.UnsupportedVersion, "Unknown match type %d", c.MatchType)
		}
	}
	_, ip := f.exact[TypeIP]
	_, user := f.exact[TypeUser]
	_, client := f.exact[TypeClientID]
	if (ip || f.typed[TypeIP]) && (user || client || f.typed[TypeUser] || f.typed[TypeClientID]) {
		return f, errorf(kerr.InvalidRequest, "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.")
	}
	return f, nil
}

// matches applies Kafka's rules: every EXACT or DEFAULT component equals the entity's part
// of that type, every ANY component's type is in the entity (named or <default>), and, when
// strict, the entity has no other type.
func (f filter) matches(e Entity) bool {
	if f.strict && e.size() != len(f.exact)+len(f.typed) {
		return false
	}
	for t, want := range f.exact {
		if *e.part(t) != want {
			return false
		}
	}
	for t := range f.typed {
		if !e.part(t).Present {
			return false
		}
	}
	return true
}

// Describe answers DescribeClientQuotas from q: the error code and message of an invalid
// filter, or the matching entities (sorted) with their quotas (sorted by key).
func Describe(q *Quotas, req *kmsg.DescribeClientQuotasRequest) (errorCode int16, errorMessage *string, entries []kmsg.DescribeClientQuotasResponseEntry) {
	f, err := parseFilter(req)
	if err != nil {
		setError(&errorCode, &errorMessage, err)
		return errorCode, errorMessage, nil
	}
	for _, e := range q.Entities() {
		if !f.matches(e) {
			continue
		}
		entry := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, t := range []string{TypeUser, TypeClientID, TypeIP} {
			if p := e.part(t); p.Present {
				re := kmsg.NewDescribeClientQuotasResponseEntryEntity()
				re.Type, re.Name = t, p.namePtr()
				entry.Entity = append(entry.Entity, re)
			}
		}
		kv := q.entries[e]
		keys := make([]string, 0, len(kv))
		for k := range kv {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, kv[k]
			entry.Values = append(entry.Values, v)
		}
		entries = append(entries, entry)
	}
	return 0, nil, entries
}

func setError(code *int16, msg **string, err error) {
	ke := kerr.UnknownServerError
	var e *Error
	if errors.As(err, &e) {
		ke = e.Code
	}
	m := err.Error()
	*code, *msg = ke.Code, &m
}
