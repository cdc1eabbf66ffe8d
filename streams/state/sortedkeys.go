package state

import (
	"strings"

	"github.com/RaduBerinde/btreemap"
)

// sortedKeys is the ordered set of the keys of a store kept in a Go map
// (the memory store, the record cache), so that a range scan visits only
// the keys in range, in order, instead of every key: session and window
// stores scan a range for each record they process. The B-tree is pebble's
// own dependency (a generic google/btree), not a new one.
type sortedKeys struct {
	t *btreemap.BTreeMap[string, struct{}]
}

func newSortedKeys() sortedKeys {
	return sortedKeys{t: btreemap.New[string, struct{}](16, strings.Compare)}
}

func (s sortedKeys) add(k string)    { s.t.ReplaceOrInsert(k, struct{}{}) }
func (s sortedKeys) remove(k string) { s.t.Delete(k) }

// scan visits the keys in from..to (inclusive, nil bounds open) in order
// until fn returns false.
func (s sortedKeys) scan(from, to []byte, fn func(k string) bool) {
	lo, hi := btreemap.Min[string](), btreemap.Max[string]()
	if from != nil {
		lo = btreemap.GE(string(from))
	}
	if to != nil {
		hi = btreemap.LE(string(to))
	}
	s.t.AscendFunc(lo, hi, func(k string, _ struct{}) bool { return fn(k) })
}
