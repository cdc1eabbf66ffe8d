//go:build tools

// Package suite only pins franz-go: this module exists to run franz-go's own integration
// suite (the tests of github.com/twmb/franz-go/pkg/kgo at the version in go.mod) against a
// Sluice broker. See run.sh. The imports keep the requirements in go.mod under `go mod tidy`.
package suite

import (
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/twmb/franz-go/pkg/sasl/scram"
)
