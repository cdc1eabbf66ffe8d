// Package builtin assembles the plugins that ship with Sluice: the file
// and PostgreSQL connectors, the converters, and the transforms and
// predicates.
package builtin

import (
	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/connect/converter"
	"github.com/sluicehq/sluice/connect/file"
	"github.com/sluicehq/sluice/connect/postgres"
	"github.com/sluicehq/sluice/connect/transform"
)

// Registry returns a new registry of every built-in plugin. Add your own
// plugins to it with Register before starting a worker.
func Registry() *connect.Registry {
	r := connect.NewRegistry()
	r.MustRegister(file.Plugins()...)
	r.MustRegister(postgres.Plugins()...)
	r.MustRegister(converter.Plugins()...)
	r.MustRegister(transform.Plugins()...)
	return r
}
