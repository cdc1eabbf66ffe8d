#!/usr/bin/env bash
# run.sh runs franz-go's own integration suite, the tests of
# github.com/twmb/franz-go/pkg/kgo at the version pinned in this directory's go.mod, against
# a running broker.
#
#   KGO_SEEDS=127.0.0.1:9092 test/kgo/run.sh [extra go test flags, e.g. -v -run TestIssue325]
#
# Defaults: KGO_TEST_RF=1 (a single broker), KGO_TEST_RECORDS=50000 (franz-go's own default is
# 500000; `make test-long` passes that), KGO_TIMEOUT=25m. The tests named in skip.txt are
# skipped; each line there names the issue that will make the test pass.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

: "${KGO_SEEDS:?KGO_SEEDS=host:port of the broker to test is not set}"
export KGO_SEEDS
export KGO_TEST_RF="${KGO_TEST_RF:-1}"
export KGO_TEST_RECORDS="${KGO_TEST_RECORDS:-50000}"
timeout="${KGO_TIMEOUT:-25m}"

# skip.txt: "TestName  # #N why", blank lines and whole-line comments ignored.
skipped=()
lineno=0
while IFS= read -r line || [[ -n "$line" ]]; do
	lineno=$((lineno + 1))
	[[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
	if [[ ! "$line" =~ ^[[:space:]]*(Test[A-Za-z0-9_]*)[[:space:]]+#[[:space:]]*#[0-9]+ ]]; then
		echo "run.sh: skip.txt:$lineno: want 'TestName  # #<issue> <reason>', got: $line" >&2
		exit 2
	fi
	skipped+=("${BASH_REMATCH[1]}")
done <skip.txt

# skip_upstream FILE adds the tests FILE lists, "TestName  # upstream: why": tests the
# suite itself cannot run in one setting, which still run in the other.
skip_upstream() {
	local file="$1" line lineno=0
	while IFS= read -r line || [[ -n "$line" ]]; do
		lineno=$((lineno + 1))
		[[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
		if [[ ! "$line" =~ ^[[:space:]]*(Test[A-Za-z0-9_]*)[[:space:]]+#[[:space:]]*upstream:[[:space:]]*[^[:space:]] ]]; then
			echo "run.sh: $file:$lineno: want 'TestName  # upstream: <reason>', got: $line" >&2
			exit 2
		fi
		skipped+=("${BASH_REMATCH[1]}")
	done <"$file"
}
# Over TLS (KGO_TEST_TLS set), the tests the suite cannot run so; they still run in the
# plaintext run against the cluster.
if [[ -n "${KGO_TEST_TLS:-}" ]]; then
	skip_upstream skip-tls.txt
fi
# Against more than one broker (KGO_TEST_RF > 1), the tests whose own checks race there;
# they still run against the single broker.
if ((KGO_TEST_RF > 1)); then
	skip_upstream skip-cluster.txt
fi

args=(-count=1 -timeout "$timeout")
if ((${#skipped[@]} > 0)); then
	args+=(-skip "^($(IFS='|'; echo "${skipped[*]}"))\$")
fi

echo "run.sh: franz-go $(go list -m -f '{{.Version}}' github.com/twmb/franz-go) suite against" \
	"KGO_SEEDS=$KGO_SEEDS, KGO_TEST_RF=$KGO_TEST_RF, KGO_TEST_RECORDS=$KGO_TEST_RECORDS," \
	"TLS ${KGO_TEST_TLS:+on (}${KGO_TEST_TLS:-off}${KGO_TEST_TLS:+)}, SCRAM seeds ${KGO_TEST_SCRAM_SEEDS:-none}," \
	"skipping ${#skipped[@]}: ${skipped[*]:-none}" >&2
exec go test "${args[@]}" "$@" github.com/twmb/franz-go/pkg/kgo
