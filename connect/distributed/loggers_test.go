package distributed

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// logger-cluster- records set levels only once the worker has started:
// the ones read while it catches up with the config topic are history.
func TestConfigStoreLoggerLevels(t *testing.T) {
	c := newConfigStore(quiet, nil)
	var set []string
	c.loggerLevel = func(ns, level string) { set = append(set, ns+"="+level) }
	off := int64(0)
	put := func(key, value string) {
		c.apply(&kgo.Record{Key: []byte(key), Value: []byte(value), Offset: off})
		off++
	}
	put("logger-cluster-connect", `{"level":"DEBUG"}`)
	c.startLoggerLevels()
	put("logger-cluster-connect.runtime", `{"level":"TRACE"}`)
	put("logger-cluster-root", `not json`)
	put("logger-cluster-src", `{"level":"WARN"}`)
	if !slices.Equal(set, []string{"connect.runtime=TRACE", "src=WARN"}) {
		t.Fatalf("levels set: %v", set)
	}
	if s := c.snapshot(); len(s.Connectors) != 0 || s.Offset != 3 {
		t.Fatalf("a logger record is no connector: %+v", s)
	}
}
