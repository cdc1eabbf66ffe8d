package metadata

import (
	"fmt"
	"slices"
	"testing"
)

func brokersN(n int) []*Broker {
	bs := make([]*Broker, n)
	for i := range bs {
		bs[i] = &Broker{NodeID: int32(100 + i)}
	}
	return bs
}

// TestRoundRobin checks Kafka's placement properties for many shapes: replicas distinct,
// leaders spread evenly, and every broker carrying an even share of replicas.
func TestRoundRobin(t *testing.T) {
	for n := 1; n <= 6; n++ {
		for rf := 1; rf <= n; rf++ {
			for start := 0; start < n; start++ {
				brokers := brokersN(n)
				parts := 4 * n
				got := roundRobin(start, start*7)(brokers, 0, int32(parts), rf)
				leaders, load := map[int32]int{}, map[int32]int{}
				for p, replicas := range got {
					if len(replicas) != rf {
						t.Fatalf("n=%d rf=%d p=%d: %v", n, rf, p, replicas)
					}
					for i, r := range replicas {
						if slices.Contains(replicas[:i], r) {
							t.Fatalf("n=%d rf=%d p=%d: %v repeats a broker", n, rf, p, replicas)
						}
						load[r]++
					}
					leaders[replicas[0]]++
				}
				for _, b := range brokers {
					if leaders[b.NodeID] != 4 || load[b.NodeID] != 4*rf {
						t.Fatalf("n=%d rf=%d start=%d: leaders %v, load %v", n, rf, start, leaders, load)
					}
				}
			}
		}
	}
	// Partitions added later continue the pattern where it left off.
	all := roundRobin(1, 2)(brokersN(3), 0, 6, 2)
	tail := roundRobin(1, 2)(brokersN(3), 4, 2, 2)
	if fmt.Sprint(all[4:]) != fmt.Sprint(tail) {
		t.Fatalf("partitions 4-5: %v, alone: %v", all[4:], tail)
	}
}

func TestValidateTopicName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "A-z_0.9": true, "...": true, string(make([]byte, 0)): false,
		".": false, "..": false, "a b": false, "a\x00": false, "a:b": false, "ä": false,
	} {
		if err := ValidateTopicName(name); (err == nil) != ok {
			t.Errorf("ValidateTopicName(%q) = %v", name, err)
		}
	}
}

func TestUUID(t *testing.T) {
	seen := map[UUID]bool{}
	for i := 0; i < 1000; i++ {
		u := NewUUID()
		s := u.String()
		if u.IsZero() || seen[u] || len(s) != 22 || s[0] == '-' || u[6]>>4 != 4 {
			t.Fatalf("NewUUID() = %s", s)
		}
		seen[u] = true
		back, err := ParseUUID(s)
		if err != nil || back != u {
			t.Fatalf("ParseUUID(%s) = %v, %v", s, back, err)
		}
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAA=", "!AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAB"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) succeeded", bad)
		}
	}
}
