// Command tinyforge runs TinyForge: `tinyforge server` for everything in one
// process, or the parts alone.
package main

import (
	"os"
	"runtime/debug"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/tinyforge/tinyforge/internal/app"
)

// defaultGCPercent replaces Go's GOGC=100 unless GOGC is set. A TinyForge
// process's heap is mostly long-lived caches and buffers, and it idles most
// of its life; collecting at 1.5 times the live heap keeps tens of MiB less
// resident. `tinyforge server` goes back to 100 while it is busy (see
// internal/memory), where collection would otherwise cost a fifth of its
// CPU.
const defaultGCPercent = 50

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	cmd := app.NewCommand(os.Stdout, os.Stderr)
	// SIGTERM or SIGINT stops gracefully; a second one exits at once.
	cmd.SetContext(genericapiserver.SetupSignalContext())
	os.Exit(cli.Run(cmd))
}
