package storage

import "testing"

// The append path allocates nothing per record: a batch of 100 records
// costs the same few allocations as a batch of one.
func TestAppendAllocations(t *testing.T) {
	e := newEnv(t, nil)
	l := e.log(DefaultConfig())
	measure := func(n int) float64 {
		batch := build(t, batchSpec{n: n, ts: e.clock.Ms(), valueSize: 100})
		buf := make([]byte, len(batch))
		return testing.AllocsPerRun(200, func() {
			copy(buf, batch)
			if _, err := l.Append(buf, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
	one, hundred := measure(1), measure(100)
	t.Logf("allocations per append: %v (1 record), %v (100 records)", one, hundred)
	if hundred > one {
		t.Fatalf("append allocates per record: %v allocations for 1 record, %v for 100", one, hundred)
	}
	if one > 2 {
		t.Fatalf("append allocates %v times per batch", one)
	}
}
