package streams_test

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/streams"
	"github.com/sluicehq/sluice/streams/serde"
)

// Before its first assignment an instance knows nothing of where keys
// live, and says so; a store the topology lacks is an error, not "not yet".
func TestQueryMetadataBeforeAssignment(t *testing.T) {
	b := streams.NewBuilder()
	streams.Stream[string, string](b, []string{"in"}).GroupByKey().Count(streams.WithStore("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.NewApp(topo, streams.Config{ApplicationID: "q", Brokers: []string{"127.0.0.1:1"}, StateDir: t.TempDir(),
		ApplicationServer: "a:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.QueryMetadataForKey(a, "counts", "k", serde.String); !errors.Is(err, streams.ErrMetadataUnavailable) {
		t.Fatalf("metadata for a key before any assignment: %v, want ErrMetadataUnavailable", err)
	}
	if _, err := a.AllMetadata(); !errors.Is(err, streams.ErrMetadataUnavailable) {
		t.Fatalf("all metadata before any assignment: %v, want ErrMetadataUnavailable", err)
	}
	if _, err := streams.QueryMetadataForKey(a, "nope", "k", serde.String); err == nil || errors.Is(err, streams.ErrMetadataUnavailable) {
		t.Fatalf("metadata for a store the topology lacks: %v, want an error other than ErrMetadataUnavailable", err)
	}
	if _, err := a.AllMetadataForStore("nope"); err == nil || errors.Is(err, streams.ErrMetadataUnavailable) {
		t.Fatalf("metadata for a store the topology lacks: %v", err)
	}
	if _, err := streams.QueryMetadataForKeyWithPartitioner(a, "counts", "k", func(string, string, int) int { return 0 }); !errors.Is(err, streams.ErrMetadataUnavailable) {
		t.Fatalf("metadata with a partitioner before any assignment: %v", err)
	}
}
