#!/usr/bin/env bash
# bench/ab.sh: two Sluice binaries (A, the baseline, and B, a change) and the
# null broker, measured in the same run and interleaved, so that a change's
# effect is a ratio taken within each round on a noisy machine.
#
#   bench/ab.sh A_BINARY B_BINARY
#
# Each round runs, against the null broker, A and B (in an order that
# rotates from round to round): produce 1 KiB and 100 B records at acks=1
# (one producer, 3 partitions), and the 10,000 records/s end-to-end latency
# run with acks=all (against the null broker: produce latency, the client's
# floor). The client is always A's `sluice perf`, so only the
# broker differs. It prints one line per round and workload, then the
# medians and the median of the per-round ratios.
#
# Environment (defaults in brackets):
#   ROUNDS [5]  rounds
#   P1K [300000] records of 1 KiB; P100 [2000000] records of 100 B
#   LAT [30000] records of the latency run (at 10,000 records/s; 0: skip)
#   OUT [bench/out/ab]  raw JSON, logs and data directories
#   NULLBROKER [built from bench/cmd/nullbroker]
set -euo pipefail

cd "$(dirname "$0")/.."
A=$(realpath "$1")
B=$(realpath "$2")
ROUNDS=${ROUNDS:-5}
P1K=${P1K:-300000}
P100=${P100:-2000000}
LAT=${LAT:-30000}
OUT=${OUT:-bench/out/ab}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/raw" "$OUT/data" "$OUT/logs"
mkdir -p "$OUT/raw" "$OUT/data" "$OUT/logs"

NULLBROKER=${NULLBROKER:-}
if [ -z "$NULLBROKER" ]; then
	(cd bench && CGO_ENABLED=0 go build -trimpath -o "$OUT/nullbroker" ./cmd/nullbroker)
	NULLBROKER=$OUT/nullbroker
fi

freeport() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}
waitport() {
	for _ in $(seq 3000); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.01
	done
	echo "nothing listens on port $1" >&2
	return 1
}

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap cleanup EXIT

nb=$(freeport)
"$NULLBROKER" -listen "127.0.0.1:$nb" -record-size 1024 >"$OUT/logs/nullbroker.log" 2>&1 &
PIDS+=($!)
declare -A port
for s in A B; do
	bin=$A
	[ "$s" = B ] && bin=$B
	port[$s]=$(freeport)
	mkdir -p "$OUT/data/$s"
	"$bin" server --set "log.dirs=$OUT/data/$s" --set "listeners=PLAINTEXT://127.0.0.1:${port[$s]}" \
		--set http.addr= >"$OUT/logs/$s.log" 2>&1 &
	PIDS+=($!)
done
port[null]=$nb
for p in "${port[@]}"; do waitport "$p"; done

perf=("$A" perf)
common=(--interval 0 --json --partitions 3)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"
for r in $(seq "$ROUNDS"); do
	order=(null A B)
	((r % 2 == 0)) && order=(null B A)
	for w in p1k p100 lat; do
		for s in "${order[@]}"; do
			f=$OUT/raw/$r-$w-$s.json
			addr=127.0.0.1:${port[$s]}
			case $w in
			p1k) "${perf[@]}" produce -b "$addr" -t "p1k$r" -n "$P1K" -s 1024 --acks 1 "${common[@]}" >"$f" ;;
			p100) "${perf[@]}" produce -b "$addr" -t "p100$r" -n "$P100" -s 100 --acks 1 "${common[@]}" >"$f" ;;
			lat)
				[ "$LAT" = 0 ] && continue
				# The null broker serves no real fetches: its row is the
				# client's own produce floor.
				kind=e2e
				[ "$s" = null ] && kind=produce
				"${perf[@]}" "$kind" -b "$addr" -t "lat$r" -n "$LAT" --throughput 10000 -s 1024 --acks all "${common[@]}" >"$f"
				;;
			esac
			case $w in
			lat) printf 'round %s %-4s %-4s ack p50 %s p99 %s  e2e p50 %s p99 %s ms\n' "$r" "$w" "$s" \
				"$(jq .latency.p50_ms "$f")" "$(jq .latency.p99_ms "$f")" "$(jq .end_to_end.p50_ms "$f")" "$(jq .end_to_end.p99_ms "$f")" ;;
			*) printf 'round %s %-4s %-4s %10.0f rec/s %8.1f MB/s\n' "$r" "$w" "$s" \
				"$(jq .records_per_sec "$f")" "$(jq .mb_per_sec "$f")" ;;
			esac
		done
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"

# Medians, and the median of the ratios taken within each round.
python3 - "$OUT/raw" "$ROUNDS" <<'EOF'
import json, os, statistics, sys
raw, rounds = sys.argv[1], int(sys.argv[2])
def get(r, w, s):
    p = os.path.join(raw, f"{r}-{w}-{s}.json")
    try:
        return json.load(open(p))
    except Exception:
        return None
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")
for w, key in (("p1k", "mb_per_sec"), ("p100", "records_per_sec")):
    vals = {s: [ (get(r, w, s) or {}).get(key) for r in range(1, rounds+1)] for s in ("null", "A", "B")}
    ratios = lambda a, b: [x/y if x and y else None for x, y in zip(vals[a], vals[b])]
    print(f"{w}: median {key}: null {med(vals['null']):.1f}  A {med(vals['A']):.1f}  B {med(vals['B']):.1f}")
    for a, b in (("A", "null"), ("B", "null"), ("B", "A")):
        rs = ratios(a, b)
        print(f"  {a}/{b}: median {med(rs):.3f}  rounds " + " ".join(f"{x:.2f}" if x else "-" for x in rs))
for part in ("latency", "end_to_end"):
    for q in ("p50_ms", "p99_ms", "p99_9_ms"):
        line = f"lat {part} {q}:"
        for s in ("null", "A", "B"):
            if s == "null" and part == "end_to_end":
                continue
            xs = [((get(r, "lat", s) or {}).get(part) or {}).get(q) for r in range(1, rounds+1)]
            line += f"  {s} median {med(xs):.3f} (" + " ".join(f"{x:.3f}" for x in xs if x is not None) + ")"
        print(line)
EOF
