// Package cli tests the sluice command line end to end: each test runs the
// built binary (bin/sluice at the repository root, or $SLUICE_BIN; build it
// with `make build`) against a broker started in-process, and checks its
// output and exit codes: topics, produce and consume (a 100,000-line round
// trip with keys and headers), configs, records, cluster, errors, users,
// ACLs and quotas with the CLI speaking SASL_SSL and mutual TLS to a broker
// with an authorizer, and --help for every command.
//
// The package has no code of its own; everything is in the _test.go files.
package cli
