// Package compat holds Sluice's end-to-end compatibility tests: they start the built
// `sluice` binary (bin/sluice, from `make build`) and drive it with real third-party Kafka
// clients, unchanged: kcat (librdkafka), confluent-kafka-python, kafka-python, kafkajs and
// franz-go.
//
// The package has no code of its own; everything is in the _test.go files. The clients'
// scripts live in testdata/ and are run by the Go tests, so one `go test ./test/compat`
// covers every client and a failure shows that client's output.
//
// Environment:
//   - SLUICE_BIN: the broker binary to start (default: bin/sluice at the repository root).
//   - SLUICE_COMPAT_BROKER=host:port: use an already-running broker instead of starting one
//     per test. The restart test still starts (and kills) its own from SLUICE_BIN.
//   - SLUICE_COMPAT_RECORDS: records in the franz-go produce/consume test (default 1000000).
//   - SLUICE_LONG=1: longer variants (larger restart test).
//
// The third-party clients are installed by scripts/install-test-deps.sh.
package compat
