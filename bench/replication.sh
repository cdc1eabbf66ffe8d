#!/usr/bin/env bash
# replication.sh measures what replication costs: the same produce workload (acks=all,
# idempotent, 1 KiB records, 6 partitions) against a single node (RF=1) and against a local
# 3-node cluster (RF=3, min.insync.replicas=2), alternating RUNS times so that both see the
# same machine, and prints each run's throughput and the ratio of the medians.
# Client and brokers share the machine's cores.
#
#   bench/replication.sh            # RUNS=3 DURATION=20s SIZE=1024
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs="${RUNS:-3}"
duration="${DURATION:-20s}"
size="${SIZE:-1024}"
make build >/dev/null
bin=bin/sluice

one() { # $1: bootstrap, $2: rf, $3: label
	local topic="repl-bench-$3-$RANDOM"
	"$bin" topics create "$topic" --partitions 6 --replication-factor "$2" \
		--config min.insync.replicas="$(( $2 > 1 ? 2 : 1 ))" -b "$1" >/dev/null
	"$bin" perf produce -b "$1" -t "$topic" --partitions 0 --acks all --idempotent \
		--duration "$duration" -s "$size" --interval 0 --json |
		/usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(round(d["records_per_sec"]), round(d["mb_per_sec"],1), d["latency"]["p50_ms"], d["latency"]["p99_ms"])'
}
export -f one
export bin duration size

single=(); cluster=()
for i in $(seq "$runs"); do
	s=$(scripts/with-broker.sh bash -c 'one "$SLUICE_BROKER" 1 single' 2>/dev/null)
	c=$(scripts/with-cluster.sh bash -c 'one "$SLUICE_BROKER" 3 cluster' 2>/dev/null)
	echo "run $i: single node RF=1: $s | 3 nodes RF=3: $c   (records/s MB/s p50ms p99ms)"
	single+=("${s%% *}"); cluster+=("${c%% *}")
done
/usr/bin/python3 - "${single[*]}" "${cluster[*]}" <<'PY'
import statistics, sys
s = [float(x) for x in sys.argv[1].split()]
c = [float(x) for x in sys.argv[2].split()]
ms, mc = statistics.median(s), statistics.median(c)
print(f"median records/s: single {ms:.0f}, 3 nodes RF=3 {mc:.0f}; ratio {mc/ms:.2f}")
PY
