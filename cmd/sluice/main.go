// Command sluice is the Sluice binary: broker, controller and command line.
// Everything lives in internal/cli; this file only runs it.
package main

import (
	"os"

	"github.com/sluicehq/sluice/internal/cli"
)

func main() {
	if err := cli.NewRoot().Execute(); err != nil {
		os.Exit(1)
	}
}
