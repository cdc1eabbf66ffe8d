#!/usr/bin/env bash
# with-broker.sh runs a command against a fresh Sluice broker:
#
#   scripts/with-broker.sh COMMAND [ARGS...]
#
# It starts bin/sluice (or $SLUICE_BIN) with a temporary data dir on a free 127.0.0.1 port,
# polls until the broker answers a metadata request, runs COMMAND with KGO_SEEDS and
# SLUICE_BROKER set to the broker's address, then stops the broker (SIGTERM, SIGKILL after
# 20 s) whether COMMAND passed, failed or was interrupted. The broker's log is printed when
# anything went wrong. The exit status is COMMAND's, or non-zero if the broker misbehaved.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${SLUICE_BIN:-$repo_root/bin/sluice}"
if [[ ! -x "$bin" ]]; then
	echo "with-broker: $bin not found: run \`make build\` first" >&2
	exit 1
fi
if (($# == 0)); then
	echo "usage: scripts/with-broker.sh COMMAND [ARGS...]" >&2
	exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-broker.XXXXXX")"
log="$work/sluice.log"
port="$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
addr="127.0.0.1:$port"
pid=""

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# WITH_BROKER_SECURE=1 adds an SSL and a SASL_PLAINTEXT listener beside the PLAINTEXT one, with
# a fresh CA and broker certificate (openssl) and a SCRAM-SHA-256 user made with `sluice users
# create`, and points franz-go's suite at them: KGO_SEEDS is the SSL listener (KGO_TEST_TLS
# names the CA), KGO_TEST_SCRAM_SEEDS the SASL one (KGO_TEST_SCRAM the user).
secure="${WITH_BROKER_SECURE:-}"
secure_args=()
if [[ -n "$secure" ]]; then
	ssl_addr="127.0.0.1:$(free_port)"
	sasl_addr="127.0.0.1:$(free_port)"
	pki="$work/pki"
	mkdir -p "$pki"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
		-subj /CN=sluice-test-ca >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -keyout "$pki/server.key" -out "$pki/server.csr" \
		-subj /CN=localhost >/dev/null 2>&1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$pki/san.ext"
	openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
		-out "$pki/server.crt" -days 2 -extfile "$pki/san.ext" >/dev/null 2>&1
	cat "$pki/server.key" "$pki/server.crt" >"$pki/server.pem"
	secure_args=(
		--set "listeners=PLAINTEXT://$addr,SSL://$ssl_addr,SASL_PLAINTEXT://$sasl_addr"
		--set "inter.broker.listener.name=PLAINTEXT"
		--set "ssl.keystore.location=$pki/server.pem"
		--set "ssl.truststore.location=$pki/ca.pem"
		--set "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512"
	)
fi

# start_broker is the one place this script starts a broker: keep its flags in step with
# brokerCommand in test/compat/broker_test.go.
start_broker() {
	"$bin" server \
		--set "log.dirs=$work/data" \
		--set "listeners=PLAINTEXT://$addr" \
		--set node.id=1 \
		--set http.addr=127.0.0.1:0 \
		"${secure_args[@]}" \
		>"$log" 2>&1 </dev/null &
	pid=$!
}

stop_broker() {
	status=$?
	trap - EXIT INT TERM
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 200); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "with-broker: broker pid $pid still running 20 s after SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			status=1
		fi
		wait "$pid" 2>/dev/null || {
			echo "with-broker: broker exited with status $? after SIGTERM" >&2
			status=1
		}
	elif [[ -n "$pid" ]]; then
		echo "with-broker: the broker died while the command ran" >&2
		status=1
	fi
	if ((status != 0)); then
		echo "--- broker log ($log), last 100 lines ---" >&2
		tail -n 100 "$log" >&2 || true
		echo "--- end of broker log ---" >&2
	fi
	rm -rf "$work"
	exit "$status"
}
trap stop_broker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_broker
# Poll until the broker answers a Metadata request (after ApiVersions); no fixed wait.
deadline=$((SECONDS + 30))
until kcat -L -b "$addr" -m 1 >/dev/null 2>&1; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "with-broker: broker exited before answering on $addr" >&2
		exit 1
	fi
	if ((SECONDS > deadline)); then
		echo "with-broker: broker does not answer on $addr after 30 s" >&2
		exit 1
	fi
	sleep 0.05
done
echo "with-broker: broker pid $pid answers on $addr" >&2

if [[ -n "$secure" ]]; then
	"$bin" users create --brokers "$addr" --mechanism SCRAM-SHA-256 --scram-password kgo-secret kgo >&2
	KGO_SEEDS="$ssl_addr" KGO_TEST_TLS="ca:$pki/ca.pem" KGO_TEST_SCRAM_SEEDS="$sasl_addr" \
		KGO_TEST_SCRAM="kgo:kgo-secret:256" SLUICE_BROKER="$addr" "$@"
	exit
fi
KGO_SEEDS="$addr" SLUICE_BROKER="$addr" "$@"
