//go:build !sluice_broken_ack

package api

// ackBeforeAppend is the seam of the deliberately broken test build
// (produce_ack_broken.go, build tag sluice_broken_ack). In every real build it
// does nothing and reports false: the produce handler appends before it answers.
func ackBeforeAppend(*handlers, []*produceJob) bool { return false }
