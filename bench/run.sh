#!/usr/bin/env bash
# bench/run.sh: Sluice's performance figures beside its baselines and peers,
# measured together in each run so that every figure is also a ratio that
# survives a noisy machine. `make bench` runs it.
#
#   baselines  loopback TCP (iperf3), sequential disk write with and without
#              fdatasync and the fdatasync latency (bench/cmd/diskbench), and
#              the client's ceiling: the same workload against the null broker
#   peers      franz-go's kfake (in memory), NATS JetStream (file storage)
#   Sluice     produce 1 KiB and 100 B, consume 1 KiB, end-to-end latency at
#              10,000 records/s with the default flush policy and durable
#              (flush.messages=1), 10,000 partitions, cold start
#
# It then writes the "Performance" section of docs/benchmarks.md and its
# charts (docs/img/bench-*.png) with bench/cmd/report.
#
# Environment (defaults in brackets):
#   RUNS [3]  runs; the report gives medians
#   OUT [bench/out]  raw results, logs, binaries, data directories
#   P1K [500000] records of 1 KiB produced and consumed
#   P100 [3000000] records of 100 B produced
#   LAT_RECORDS [50000] records of the latency runs (at 10,000 records/s)
#   SCALE [1] run the 10,000-partition and cold-start measurements (0: skip)
#   DOC [docs/benchmarks.md]  where the section is written (empty: nowhere)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
OUT=${OUT:-bench/out}
P1K=${P1K:-500000}
P100=${P100:-3000000}
LAT_RECORDS=${LAT_RECORDS:-50000}
SCALE=${SCALE:-1}
DOC=${DOC-docs/benchmarks.md}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
BIN=$OUT/bin
RAW=$OUT/raw
LOGS=$OUT/logs
rm -rf "$RAW" "$LOGS" "$OUT/data"
mkdir -p "$BIN" "$RAW" "$LOGS" "$OUT/data"

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Debian's tools, installed when missing and we may.
need=()
command -v iperf3 >/dev/null || need+=(iperf3)
command -v nats-server >/dev/null || need+=(nats-server)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if ((${#need[@]})) && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "installing ${need[*]}"
	apt-get update -qq >/dev/null 2>&1 || true
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || say "could not install ${need[*]}"
fi

say "building"
CGO_ENABLED=0 go build -trimpath -o "$BIN/sluice" ./cmd/sluice
(cd bench && CGO_ENABLED=0 go build -trimpath -o "$BIN/" ./cmd/...)

# The machine, for the report.
{
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "kernel: $(uname -sr)"
	echo "filesystem: $(df -T "$OUT/data" | awk 'NR==2 {print $2}') ($(df "$OUT/data" | awk 'NR==2 {print $1}'))"
	echo "go: $(go env GOVERSION)"
	echo "sluice: $("$BIN/sluice" version)"
	command -v nats-server >/dev/null && echo "nats-server: $(nats-server --version 2>&1 | head -1)"
	command -v iperf3 >/dev/null && echo "iperf3: $(iperf3 --version 2>&1 | head -1)"
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

# freeport prints a loopback port nobody listens on.
freeport() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral ports (32768-)
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	return 1
}

# waitport waits (up to 30 s) until something listens on the port. It
# looks with ss rather than connecting, which would use up iperf3's test.
waitport() {
	for _ in $(seq 3000); do
		if command -v ss >/dev/null; then
			[ -n "$(ss -Htln "sport = :$1")" ] && return 0
		else
			(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		fi
		sleep 0.01
	done
	say "nothing listens on port $1"
	return 1
}

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap cleanup EXIT

# run NAME CMD...: runs a measurement, its JSON to $RAW/run$R/NAME.json,
# and notes the command for the report.
run() {
	local name=$1
	shift
	echo "$name: $*" | sed "s|$BIN/||g; s|$OUT|\$OUT|g" >>"$RAW/run$R/commands.txt"
	if ! "$@" >"$RAW/run$R/$name.json" 2>"$LOGS/run$R-$name.log"; then
		say "$name failed (see $LOGS/run$R-$name.log)"
		rm -f "$RAW/run$R/$name.json"
	fi
}

PERF=("$BIN/sluice" perf)
for R in $(seq "$RUNS"); do
	say "run $R of $RUNS"
	mkdir -p "$RAW/run$R"
	DATA=$OUT/data/run$R
	mkdir -p "$DATA/sluice" "$DATA/nats"

	# Servers: all up for the whole run, so each workload meets them back
	# to back.
	nb=$(freeport)
	"$BIN/nullbroker" -listen "127.0.0.1:$nb" -record-size 1024 >"$LOGS/run$R-nullbroker.log" 2>&1 &
	PIDS+=($!)
	kf=$(freeport)
	"$BIN/kfake" -port "$kf" >"$LOGS/run$R-kfake.log" 2>&1 &
	PIDS+=($!)
	sl=$(freeport)
	"$BIN/sluice" server --set "log.dirs=$DATA/sluice" --set "listeners=PLAINTEXT://127.0.0.1:$sl" \
		--set http.addr= >"$LOGS/run$R-sluice.log" 2>&1 &
	PIDS+=($!)
	ns=""
	if command -v nats-server >/dev/null; then
		ns=$(freeport)
		nats-server -js -sd "$DATA/nats" -a 127.0.0.1 -p "$ns" >"$LOGS/run$R-nats.log" 2>&1 &
		PIDS+=($!)
	fi
	for p in $nb $kf $sl $ns; do waitport "$p"; done
	common=(--interval 0 --json --partitions 3)

	# Latency first, with nothing dirty in the page cache: an fsync on ext4
	# also waits for other files' dirty data, so after the throughput runs
	# it would measure their writeback. The fdatasync baseline is taken
	# just before, in the same state. 1 KiB records at 10,000 records/s,
	# acks=all; against the null broker it is the client's own floor.
	sync
	run fsync "$BIN/diskbench" -dir "$DATA" -total 0 -syncs 1000
	run null-latency "${PERF[@]}" produce -b "127.0.0.1:$nb" -t lat -n "$LAT_RECORDS" --throughput 10000 -s 1024 \
		--acks all "${common[@]}"
	run sluice-latency "${PERF[@]}" produce -b "127.0.0.1:$sl" -t lata -n "$LAT_RECORDS" --throughput 10000 -s 1024 \
		--acks all "${common[@]}"
	run sluice-latency-durable "${PERF[@]}" produce -b "127.0.0.1:$sl" -t latda --topic-config flush.messages=1 \
		-n "$LAT_RECORDS" --throughput 10000 -s 1024 --acks all "${common[@]}"
	run kfake-latency "${PERF[@]}" produce -b "127.0.0.1:$kf" -t lata -n "$LAT_RECORDS" --throughput 10000 -s 1024 \
		--acks all "${common[@]}"
	run sluice-e2e "${PERF[@]}" e2e -b "127.0.0.1:$sl" -t lat -n "$LAT_RECORDS" --throughput 10000 -s 1024 \
		--acks all "${common[@]}"
	run sluice-e2e-durable "${PERF[@]}" e2e -b "127.0.0.1:$sl" -t latd --topic-config flush.messages=1 \
		-n "$LAT_RECORDS" --throughput 10000 -s 1024 --acks all "${common[@]}"
	run kfake-e2e "${PERF[@]}" e2e -b "127.0.0.1:$kf" -t lat -n "$LAT_RECORDS" --throughput 10000 -s 1024 \
		--acks all "${common[@]}"
	[ -n "$ns" ] && run nats-latency "$BIN/natsbench" -url "nats://127.0.0.1:$ns" -mode latency -stream lat \
		-n "$LAT_RECORDS" -s 1024 -rate 10000

	# Baselines.
	if command -v iperf3 >/dev/null; then
		port=$(freeport)
		iperf3 -s -p "$port" >/dev/null 2>&1 &
		ipid=$!
		PIDS+=($ipid)
		waitport "$port"
		run iperf3 iperf3 -c 127.0.0.1 -p "$port" -t 3 -J
		kill "$ipid" 2>/dev/null || true
	fi
	run disk "$BIN/diskbench" -dir "$DATA" -total $((512 << 20)) -syncs 0

	# Throughput.
	for t in null:$nb kfake:$kf sluice:$sl; do
		name=${t%%:*} addr=127.0.0.1:${t#*:}
		run "$name-produce-1k" "${PERF[@]}" produce -b "$addr" -t p1k -n "$P1K" -s 1024 --acks 1 "${common[@]}"
	done
	[ -n "$ns" ] && run nats-produce-1k "$BIN/natsbench" -url "nats://127.0.0.1:$ns" -mode produce -stream p1k -n "$P1K" -s 1024
	for t in null:$nb kfake:$kf sluice:$sl; do
		name=${t%%:*} addr=127.0.0.1:${t#*:}
		run "$name-produce-100" "${PERF[@]}" produce -b "$addr" -t p100 -n "$P100" -s 100 --acks 1 "${common[@]}"
	done
	for t in null:$nb kfake:$kf sluice:$sl; do
		name=${t%%:*} addr=127.0.0.1:${t#*:}
		run "$name-consume-1k" "${PERF[@]}" consume -b "$addr" -t p1k -n "$P1K" "${common[@]}"
	done
	[ -n "$ns" ] && run nats-consume-1k "$BIN/natsbench" -url "nats://127.0.0.1:$ns" -mode consume -stream p1k -n "$P1K" -s 1024

	cleanup
	rm -rf "$DATA"
done

if [ "$SCALE" = 1 ]; then
	say "10,000 partitions and cold start"
	R=scale
	mkdir -p "$RAW/run$R"
	run scale timeout 20m "$BIN/scale" -sluice "$BIN/sluice" -dir "$OUT/data" -cold 3 -topics 10 -parts 1000
	rm -rf "$OUT"/data/sluice-*
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

say "report"
"$BIN/report" -out "$OUT" -doc "$DOC" -img docs/img -notes bench/PROFILE.md
