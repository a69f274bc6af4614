package forgectl

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// ExitError is what Run returns where the forgectl binary would have exited
// with a non-zero status.
type ExitError struct {
	// Code is the exit status the binary would have used (1 for most
	// errors; `diff` uses 1 for "differences found" and more for failures).
	Code int
	// Message is what the binary would have printed to stderr, such as
	// `error: the server doesn't have a resource type "foo"`; it may be empty.
	Message string
}

func (e *ExitError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Message
}

// runMu serializes Run: kubectl reports fatal errors through a process-wide
// handler (cmdutil.BehaviorOnFatal) and keeps other globals besides.
var runMu sync.Mutex

// Run executes forgectl with args (without the program name) in this
// process, as the binary would, and is meant for tests: a failure that would
// have exited the process comes back as an *ExitError whose message has also
// been written to streams.ErrOut, as the binary writes it to stderr.
//
// Caveats, all from kubectl's process-wide state:
//   - Calls are serialized, and while one runs, cmdutil.CheckErr panics with
//     an *ExitError that Run recovers. Do not run forgectl commands some other
//     way concurrently, and do not call cmdutil.BehaviorOnFatal yourself.
//   - A CheckErr on a goroutine other than the command's (none of the
//     commands a test needs does that) would crash the test binary, and a
//     broken kuberc file still exits the process while the tree is built.
//   - ctx is handed to cobra, but most kubectl commands ignore it; bound
//     calls to a server with --request-timeout instead.
//   - As in the binary, the klog flags are global (-v leaks into later
//     runs), klog writes to the process's stderr rather than streams.ErrOut,
//     and the standard library's log package is redirected to klog.
//   - Defaults read at process start are not re-read: ~/.kube/config is
//     resolved from $HOME when client-go is initialized, so changing HOME in
//     a test does not move it (setting $KUBECONFIG or
//     $TINYFORGE_DATA_DIR does take effect).
//   - Without -ldflags -X k8s.io/component-base/version.gitVersion=…, the
//     client version is kube's placeholder, which `version` cannot compare
//     with a server's.
func Run(ctx context.Context, streams genericiooptions.IOStreams, args []string) (err error) {
	runMu.Lock()
	defer runMu.Unlock()

	cmdutil.BehaviorOnFatal(func(msg string, code int) {
		panic(&ExitError{Code: code, Message: strings.TrimSuffix(msg, "\n")})
	})
	defer cmdutil.DefaultBehaviorOnFatal()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		exit, ok := r.(*ExitError)
		if !ok {
			panic(r)
		}
		if exit.Message != "" {
			fmt.Fprintln(streams.ErrOut, exit.Message)
		}
		err = exit
	}()

	cmd := NewCommand(streams, args)
	cmd.SetContext(ctx)
	if err := cli.RunNoErrOutput(cmd); err != nil {
		// As cmd/forgectl does: prints "error: …" and exits 1, here by panicking.
		cmdutil.CheckErr(err)
	}
	return nil
}
