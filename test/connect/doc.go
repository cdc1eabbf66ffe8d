// Package connect tests Sluice's Kafka Connect worker end to end: each test
// runs `sluice connect standalone` (bin/sluice at the repository root, or
// $SLUICE_BIN; build it with `make build`) as a process against a broker
// that is also bin/sluice, started once for the package, and checks what a
// user would: files copied through a topic byte for byte across a worker
// restart (graceful and kill -9), the dead-letter queue, transforms and
// converters on the wire, and the REST API.
//
// The package has no code of its own; everything is in the _test.go files.
package connect
