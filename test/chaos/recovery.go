package chaos

import (
	"fmt"
	"slices"
	"strings"
)

// RecoveryStats sums up, for one kind of fault, how long writes took to come back
// (see Recovery). Times are in milliseconds; a kind whose faults never saw writes
// come back has -1 there.
type RecoveryStats struct {
	Fault string `json:"fault"`
	Count int    `json:"count"`
	// Led is the time from the moment a fault hit to writes acknowledged again in
	// every partition the faulted node led: the failover, for a fault that takes a
	// leader away. Over the faults that hit a leader.
	Led Spread `json:"led"`
	// All is the same for every partition of the topic.
	All Spread `json:"all"`
	// AfterHeal is the time from the heal to the next acknowledgement.
	AfterHeal Spread `json:"after_heal"`
	// NoWrite counts faults after which some partition acknowledged no record sent
	// after the fault hit.
	NoWrite int `json:"no_write"`
}

// Spread is the median and the largest of some durations, in milliseconds, and
// how many there were.
type Spread struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	Max    float64 `json:"max_ms"`
}

func spread(ms []float64) Spread {
	if len(ms) == 0 {
		return Spread{Median: -1, Max: -1}
	}
	slices.Sort(ms)
	return Spread{N: len(ms), Median: ms[len(ms)/2], Max: ms[len(ms)-1]}
}

func (s Spread) String() string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f / %.0f ms", s.Median, s.Max)
}

// SummarizeRecovery groups recoveries by the kind of fault (the first word of its
// description), in the order kinds first appear.
func SummarizeRecovery(recs []Recovery) []RecoveryStats {
	type acc struct {
		stats          RecoveryStats
		led, all, heal []float64
	}
	var order []string
	by := map[string]*acc{}
	for _, r := range recs {
		kind, _, _ := strings.Cut(r.Fault, " ")
		a := by[kind]
		if a == nil {
			a = &acc{stats: RecoveryStats{Fault: kind}}
			by[kind] = a
			order = append(order, kind)
		}
		a.stats.Count++
		if len(r.Led) > 0 {
			if ms := r.WriteMs(r.Led...); ms >= 0 {
				a.led = append(a.led, ms)
			}
		}
		if ms := r.WriteMs(); ms >= 0 {
			a.all = append(a.all, ms)
		} else {
			a.stats.NoWrite++
		}
		if r.AckAfterHealMs >= 0 {
			a.heal = append(a.heal, r.AckAfterHealMs)
		}
	}
	out := make([]RecoveryStats, 0, len(order))
	for _, kind := range order {
		a := by[kind]
		a.stats.Led, a.stats.All, a.stats.AfterHeal = spread(a.led), spread(a.all), spread(a.heal)
		out = append(out, a.stats)
	}
	return out
}

func (s RecoveryStats) String() string {
	str := fmt.Sprintf("%s x%d: writes back in the partitions it led %v (median / max), in every partition %v, after the heal %v",
		s.Fault, s.Count, s.Led, s.All, s.AfterHeal)
	if s.NoWrite > 0 {
		str += fmt.Sprintf("; %d with a partition that took no write after it", s.NoWrite)
	}
	return str
}
