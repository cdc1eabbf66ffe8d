#!/usr/bin/env bash
# fuzz.sh runs every fuzz target of the main module for a short while:
#
#   scripts/fuzz.sh [FUZZTIME]      (default 10s per target)
#
# Go runs one fuzz target per `go test -fuzz` invocation, so this lists each package's
# Fuzz functions and runs them one by one. New crashers land in the package's
# testdata/fuzz/ and then fail the normal unit tests until fixed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${1:-${FUZZTIME:-10s}}"
ran=0
failed=0
for pkg in $(go list ./...); do
	# A package that does not build is a failure, not a package without fuzz targets.
	if ! listed="$(go test -list '^Fuzz' "$pkg" 2>&1)"; then
		echo "$listed"
		echo "fuzz: cannot list the fuzz targets of $pkg" >&2
		failed=$((failed + 1))
		continue
	fi
	for target in $(grep '^Fuzz' <<<"$listed" || true); do
		echo "fuzz: $pkg $target for $fuzztime"
		ran=$((ran + 1))
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
			failed=$((failed + 1))
		fi
	done
done
echo "fuzz: $ran targets, $failed failed"
((ran > 0)) || { echo "fuzz: no fuzz target found" >&2; exit 1; }
((failed == 0))
