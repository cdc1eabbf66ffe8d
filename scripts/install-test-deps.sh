#!/usr/bin/env bash
# install-test-deps.sh installs the third-party Kafka clients that test/compat drives:
# kcat, confluent-kafka-python and kafka-python from Debian, kafkajs from npm.
#
# It is idempotent: a tool already present is left alone, `apt-get update` runs only when a
# Debian package is missing, and `npm ci` runs only when kafkajs is not installed at the
# version package-lock.json pins. Safe to run on every `make test`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
compat_dir="$repo_root/test/compat"

# Debian's python3-* packages install only for Debian's interpreter, not for a pyenv or
# virtualenv python3 that may come first on PATH.
debian_python=/usr/bin/python3

missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
if ! "$debian_python" -c 'import confluent_kafka' >/dev/null 2>&1; then
	missing+=(python3-confluent-kafka)
fi
if ! "$debian_python" -c 'import kafka' >/dev/null 2>&1; then
	missing+=(python3-kafka)
fi

if ((${#missing[@]} > 0)); then
	echo "install-test-deps: installing ${missing[*]} with apt-get"
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq </dev/null
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

# --- PostgreSQL (the Connect PostgreSQL connectors' tests, connect/postgres/pgtest) ---
# The tests run a private server with initdb and postgres from PATH or
# /usr/lib/postgresql/<version>/bin; Debian's postgresql package provides them.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	echo "install-test-deps: installing postgresql with apt-get"
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		sudo="sudo"
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq </dev/null
	$sudo apt-get install -y -qq --no-install-recommends postgresql </dev/null
fi
# --- end PostgreSQL ---

kafkajs_want="$(sed -n 's/.*"kafkajs": *"\([^"]*\)".*/\1/p' "$compat_dir/package.json" | head -n1)"
kafkajs_have=""
if [[ -f "$compat_dir/node_modules/kafkajs/package.json" ]]; then
	kafkajs_have="$(node -p 'require(process.argv[1]).version' \
		"$compat_dir/node_modules/kafkajs/package.json" 2>/dev/null || true)"
fi
if [[ -z "$kafkajs_have" || "$kafkajs_have" != "$kafkajs_want" ]]; then
	echo "install-test-deps: installing kafkajs $kafkajs_want with npm ci"
	(cd "$compat_dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi

echo "install-test-deps: kcat $(kcat -V 2>/dev/null | sed -n "s/^Version \([^ ]*\).*/\1/p")," \
	"confluent-kafka $("$debian_python" -c 'import confluent_kafka; print(confluent_kafka.version()[0])')," \
	"kafka-python $("$debian_python" -c 'import kafka; print(kafka.__version__)')," \
	"kafkajs $(node -p 'require(process.argv[1]).version' "$compat_dir/node_modules/kafkajs/package.json")"
