// Command tinyforge runs TinyForge: `tinyforge server` for everything in one
// process, or the parts alone.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/tinyforge/tinyforge/internal/app"
)

func main() {
	cmd := app.NewCommand(os.Stdout, os.Stderr)
	// SIGTERM or SIGINT stops gracefully; a second one exits at once.
	cmd.SetContext(genericapiserver.SetupSignalContext())
	os.Exit(cli.Run(cmd))
}
