package txn

import (
	"context"
	"errors"
	"testing"
)

func TestProducerIDsNeverRepeat(t *testing.T) {
	var reserved int64
	calls := 0
	p := NewProducerIDs(func(_ context.Context, n int64) (int64, error) {
		calls++
		first := reserved
		reserved += n
		return first, nil
	})
	seen := make(map[int64]bool)
	for i := 0; i < 2*BlockSize+5; i++ {
		id, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("id %d handed out twice", id)
		}
		seen[id] = true
	}
	if calls != 3 {
		t.Fatalf("reserved %d blocks, want 3", calls)
	}
}

func TestProducerIDsReserveError(t *testing.T) {
	boom := errors.New("no quorum")
	p := NewProducerIDs(func(context.Context, int64) (int64, error) { return 0, boom })
	if _, err := p.Next(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}
