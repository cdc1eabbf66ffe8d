package acl

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Snapshot is an immutable set of bindings, indexed by resource type and name so that an
// authorization looks at only the bindings that can apply: the literal name, the literal
// "*", and the prefixes of the name that some PREFIXED binding uses. Build one with
// NewSnapshot; share it between goroutines freely.
type Snapshot struct {
	bindings []Binding // sorted, no duplicates
	byType   map[kmsg.ACLResourceType]*typeIndex
}

type typeIndex struct {
	literal  map[string][]entry // name -> entries; "*" holds the wildcard bindings
	prefixed map[string][]entry // prefix -> entries
	// prefixLens lists the distinct lengths of the prefixes, ascending, so that finding
	// the prefixes of a name costs one map lookup per length rather than a scan.
	prefixLens []int
}

// entry is the part of a binding the decision needs, once the resource has matched.
type entry struct {
	principal  string
	host       string
	op         kmsg.ACLOperation
	permission kmsg.ACLPermissionType
	binding    int // index in Snapshot.bindings
}

// NewSnapshot indexes bindings. Duplicates collapse into one; the slice is not kept.
// Bindings are taken as given: check them with Validate before they are stored.
func NewSnapshot(bindings []Binding) *Snapshot {
	bs := slices.Clone(bindings)
	slices.SortFunc(bs, compareBindings)
	bs = slices.Compact(bs)
	s := &Snapshot{bindings: bs, byType: make(map[kmsg.ACLResourceType]*typeIndex)}
	for i, b := range bs {
		ti := s.byType[b.ResourceType]
		if ti == nil {
			ti = &typeIndex{literal: make(map[string][]entry), prefixed: make(map[string][]entry)}
			s.byType[b.ResourceType] = ti
		}
		e := entry{principal: b.Principal, host: b.Host, op: b.Operation, permission: b.Permission, binding: i}
		switch b.PatternType {
		case kmsg.ACLResourcePatternTypeLiteral:
			ti.literal[b.ResourceName] = append(ti.literal[b.ResourceName], e)
		case kmsg.ACLResourcePatternTypePrefixed:
			if _, ok := ti.prefixed[b.ResourceName]; !ok {
				ti.prefixLens = append(ti.prefixLens, len(b.ResourceName))
			}
			ti.prefixed[b.ResourceName] = append(ti.prefixed[b.ResourceName], e)
		}
	}
	for _, ti := range s.byType {
		slices.Sort(ti.prefixLens)
		ti.prefixLens = slices.Compact(ti.prefixLens)
	}
	return s
}

func compareBindings(a, b Binding) int {
	return cmp.Or(
		cmp.Compare(a.ResourceType, b.ResourceType),
		cmp.Compare(a.PatternType, b.PatternType),
		cmp.Compare(a.ResourceName, b.ResourceName),
		cmp.Compare(a.Principal, b.Principal),
		cmp.Compare(a.Host, b.Host),
		cmp.Compare(a.Operation, b.Operation),
		cmp.Compare(a.Permission, b.Permission),
	)
}

// Len is the number of bindings.
func (s *Snapshot) Len() int { return len(s.bindings) }

// Bindings returns every binding, sorted by resource type, pattern type, name, principal,
// host, operation and permission. The caller may modify the returned slice.
func (s *Snapshot) Bindings() []Binding { return slices.Clone(s.bindings) }

// Contains says whether the snapshot holds b.
func (s *Snapshot) Contains(b Binding) bool {
	_, ok := slices.BinarySearchFunc(s.bindings, b, compareBindings)
	return ok
}

// Match returns the bindings f selects, in the order of Bindings.
func (s *Snapshot) Match(f Filter) []Binding {
	var out []Binding
	for _, b := range s.bindings {
		if f.Matches(b) {
			out = append(out, b)
		}
	}
	return out
}

// With returns a snapshot holding s's bindings plus add, less remove. s is unchanged.
func (s *Snapshot) With(add, remove []Binding) *Snapshot {
	gone := make(map[Binding]struct{}, len(remove))
	for _, b := range remove {
		gone[b] = struct{}{}
	}
	next := make([]Binding, 0, len(s.bindings)+len(add))
	for _, b := range s.bindings {
		if _, ok := gone[b]; !ok {
			next = append(next, b)
		}
	}
	for _, b := range add {
		if _, ok := gone[b]; !ok {
			next = append(next, b)
		}
	}
	return NewSnapshot(next)
}

// forEachApplicable calls fn with every entry whose resource pattern matches the resource
// (literal name, literal "*", prefixes), stopping when fn returns false.
func (s *Snapshot) forEachApplicable(t kmsg.ACLResourceType, name string, fn func(entry) bool) {
	ti := s.byType[t]
	if ti == nil {
		return
	}
	for _, e := range ti.literal[name] {
		if !fn(e) {
			return
		}
	}
	if name != Wildcard {
		for _, e := range ti.literal[Wildcard] {
			if !fn(e) {
				return
			}
		}
	}
	for _, n := range ti.prefixLens {
		if n > len(name) {
			break
		}
		for _, e := range ti.prefixed[name[:n]] {
			if !fn(e) {
				return
			}
		}
	}
}
