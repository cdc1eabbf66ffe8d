#!/usr/bin/env bash
# with-cluster.sh runs a command against a fresh local 3-node Sluice cluster:
#
#   scripts/with-cluster.sh COMMAND [ARGS...]
#
# It starts `bin/sluice dev cluster --nodes 3` (or $SLUICE_BIN; every node a broker and a
# controller) on free ports with a temporary data dir, polls until every broker is
# registered and unfenced, runs COMMAND with KGO_SEEDS (all three brokers), KGO_TEST_RF=3
# and SLUICE_BROKER set, then stops the cluster with SIGINT, as a user would, whether
# COMMAND passed, failed or was interrupted. The nodes' logs are printed when anything went
# wrong. The exit status is COMMAND's, or non-zero if the cluster misbehaved.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${SLUICE_BIN:-$repo_root/bin/sluice}"
if [[ ! -x "$bin" ]]; then
	echo "with-cluster: $bin not found: run \`make build\` first" >&2
	exit 1
fi
if (($# == 0)); then
	echo "usage: scripts/with-cluster.sh COMMAND [ARGS...]" >&2
	exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-cluster.XXXXXX")"
# A base port whose client (P..P+2), controller (P+100..) and HTTP (P+200..) ports are free.
base="$(/usr/bin/python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 40000)
    socks = []
    try:
        for off in (0, 1, 2, 100, 101, 102, 200, 201, 202):
            s = socket.socket(); s.bind(("127.0.0.1", p + off)); socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks: s.close()
    print(p); break
PY
)"
seeds="127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
pid=""

stop_cluster() {
	status=$?
	trap - EXIT INT TERM
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null || true
		for _ in $(seq 400); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "with-cluster: cluster pid $pid still running 40 s after SIGINT; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			status=1
		fi
		wait "$pid" 2>/dev/null || {
			echo "with-cluster: the cluster exited with status $? after SIGINT" >&2
			status=1
		}
	elif [[ -n "$pid" ]]; then
		echo "with-cluster: the cluster died while the command ran" >&2
		status=1
	fi
	if ((status != 0)); then
		for f in "$work"/node-*/sluice.log; do
			echo "--- $f, last 60 lines ---" >&2
			tail -n 60 "$f" >&2 || true
		done
	fi
	rm -rf "$work"
	exit "$status"
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$bin" dev cluster --nodes 3 --dir "$work" --base-port "$base" >"$work/dev-cluster.out" 2>&1 </dev/null &
pid=$!
# Poll until all three brokers are registered and unfenced; no fixed wait.
deadline=$((SECONDS + 60))
until [[ "$("$bin" cluster brokers -b "$seeds" --json 2>/dev/null | grep -o '"fenced": *false' | wc -l)" -eq 3 ]]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "with-cluster: the cluster exited before it served" >&2
		cat "$work/dev-cluster.out" >&2 || true
		exit 1
	fi
	if ((SECONDS > deadline)); then
		echo "with-cluster: the cluster does not have 3 live brokers after 60 s" >&2
		"$bin" cluster brokers -b "$seeds" >&2 || true
		exit 1
	fi
	sleep 0.1
done
echo "with-cluster: 3 brokers live at $seeds" >&2

KGO_SEEDS="$seeds" KGO_TEST_RF=3 SLUICE_BROKER="$seeds" "$@"
