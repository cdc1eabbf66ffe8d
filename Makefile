# Sluice's make targets. `make test` is the one command that runs every test; .ci/run calls it.
#
#   make build      static binary bin/sluice
#   make run        build, then start a single-node broker (ARGS="--set k=v ..." to configure)
#   make test       install test clients, vet, unit tests, build, compat tests, franz-go suite
#                   on one broker and on a 3-node cluster
#   make test-long  the same at full sizes (SLUICE_LONG=1, 500k-record franz-go ETL tests)
#   make fuzz       every fuzz target for FUZZTIME (default 10s) each
#   make bench      performance figures beside baselines and peers (bench/run.sh; RUNS=3),
#                   written to docs/benchmarks.md with charts in docs/img
#   make bench-go   every Go benchmark, BENCHTIME (default 1s) each
#   make chaos      the chaos harness (test/chaos): DURATION=10m NODES=1 SEED=0 (0: from
#                   the clock), CHAOS_ARGS for more flags, e.g. make chaos DURATION=1h NODES=3

GO        ?= go
BIN       := bin/sluice
ARGS      ?=
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
DURATION  ?= 10m
NODES     ?= 1
SEED      ?= 0
CHAOS_DIR ?=
CHAOS_ARGS ?=

# Unit test packages: everything but the end-to-end tests, which need the built binary.
# test/kgo is a module of its own and is not part of ./... .
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/test/compat$$')

# Per-package limits. The unit-test limit is a safety net against hangs, well above the
# ~60 s a package is meant to take.
UNIT_TIMEOUT   ?= 10m
COMPAT_TIMEOUT ?= 20m

# Sizes for `make test` (CI: 2 cores, well under 45 minutes in all) and `make test-long`.
SLUICE_COMPAT_RECORDS ?= 1000000
KGO_TEST_RECORDS      ?= 50000

.PHONY: all build run test test-long deps vet unit compat kgo-suite kgo-suite-cluster fuzz bench bench-go chaos clean

all: build

# The binary is rebuilt every time: go's build cache makes that cheap, and make cannot see
# Go's dependencies.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/sluice

run: build
	$(BIN) server $(ARGS)

test: deps vet unit compat kgo-suite kgo-suite-cluster

test-long:
	$(MAKE) test SLUICE_LONG=1 KGO_TEST_RECORDS=500000 SLUICE_COMPAT_RECORDS=5000000 \
		UNIT_TIMEOUT=30m COMPAT_TIMEOUT=60m

# The third-party clients test/compat drives (kcat, confluent-kafka-python, kafka-python
# from Debian; kafkajs from npm), installed only when missing.
deps:
	scripts/install-test-deps.sh

vet:
	$(GO) vet ./...

# Some packages (test/cli) run the built binary.
unit: build
	SLUICE_LONG=$(SLUICE_LONG) $(GO) test -count=1 -timeout $(UNIT_TIMEOUT) $(UNIT_PKGS)

# End-to-end tests with real clients; each test starts bin/sluice itself.
compat: build deps
	SLUICE_LONG=$(SLUICE_LONG) SLUICE_COMPAT_RECORDS=$(SLUICE_COMPAT_RECORDS) \
		$(GO) test -count=1 -v -timeout $(COMPAT_TIMEOUT) ./test/compat

# franz-go's own integration suite against a broker this target starts and always stops,
# over TLS (KGO_TEST_TLS), with its SCRAM tests against a SASL listener of the same broker
# (WITH_BROKER_SECURE in scripts/with-broker.sh). kgo-suite-cluster runs it in plaintext.
kgo-suite: build deps
	WITH_BROKER_SECURE=1 KGO_TEST_RECORDS=$(KGO_TEST_RECORDS) scripts/with-broker.sh test/kgo/run.sh

# franz-go's suite again, against a local 3-node cluster (sluice dev cluster) with every
# partition replicated 3 times (KGO_TEST_RF=3).
kgo-suite-cluster: build deps
	KGO_TEST_RECORDS=$(KGO_TEST_RECORDS) scripts/with-cluster.sh test/kgo/run.sh

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# Builds its own binaries; takes about 10 minutes per run plus 3 for the 10,000 partitions
# (RUNS=1 SCALE=0 for a quick look; see bench/run.sh for the other settings).
bench:
	bench/run.sh

bench-go:
	$(GO) test -count=1 -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(UNIT_PKGS)

# A run of the chaos harness against bin/sluice (docs/reliability.md). It prints the seed, the
# directory with the nodes' logs, history.json and result.json (CHAOS_DIR, default a new one
# under $$TMPDIR), and exits non-zero when the checker finds a violation.
chaos: build
	$(GO) run ./test/chaos/cmd/chaos -bin $(BIN) -duration $(DURATION) -nodes $(NODES) -seed $(SEED) \
		$(if $(CHAOS_DIR),-dir $(CHAOS_DIR)) $(CHAOS_ARGS)

clean:
	rm -rf bin
