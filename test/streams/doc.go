// Package streams tests the streams library end to end against a Sluice
// broker started from the built binary (bin/sluice, or $SLUICE_BIN): word
// counts with two instances sharing and handing over tasks, state rebuilt
// from changelogs after the state directory is deleted, and an instance
// killed with SIGKILL whose replacement re-processes exactly the input
// after the last committed offsets; interactive-query metadata shared by
// two instances; and the programs under examples/, built and run against
// the broker with their output checked.
//
// The package has no code of its own; everything is in the _test.go files.
package streams
