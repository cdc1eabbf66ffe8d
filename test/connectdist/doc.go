// Package connectdist tests Sluice's distributed Kafka Connect workers and
// the PostgreSQL connectors end to end: each test runs `sluice connect
// distributed` workers (bin/sluice at the repository root, or $SLUICE_BIN;
// build it with `make build`) as processes against a broker that is also
// bin/sluice, and a private PostgreSQL server (package pgtest), all started
// once for the package. The tests drive the workers through the REST API
// and check what a user would: every line of the input files in the
// database after a worker is killed with SIGKILL, pause, resume, restart,
// stop and offset changes taking effect, the REST API's answers and error
// codes, and a table copied to another table through a topic with updates
// and deletes.
//
// The package has no code of its own; everything is in the _test.go files.
package connectdist
