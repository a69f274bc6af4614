package forgectl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/completion"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tinyforge/tinyforge/internal/docker"
)

// ComposeServiceLabel is the label Docker Compose puts on each container
// with the name of its service; --service selects on it.
const ComposeServiceLabel = "com.docker.compose.service"

var (
	logsLong = templates.LongDesc(`
		Print the logs of a workload's containers.

		The logs are those of the containers of the revision that serves now
		(the workload's status.currentRevision), read from the Docker daemon
		this machine's environment names (DOCKER_HOST, else the local
		socket), so run it on the host TinyForge deploys to. The containers'
		standard output goes to standard output and their standard error to
		standard error. With more than one container, each line starts with
		its container's name.

		This command replaces kubectl's logs, which reads the logs of pods:
		TinyForge runs workloads, not pods.`)

	logsExample = templates.Examples(`
		# Print the logs of workload web
		forgectl logs workload/web

		# Follow them, starting with the last 20 lines
		forgectl logs workload/web -f --tail=20

		# Only the last hour, with timestamps
		forgectl logs workload/web --since=1h --timestamps

		# Only the db service of a compose workload
		forgectl logs workload/shop --service=db`)
)

// containerLogs is what logs needs of Docker; docker.API has it.
type containerLogs interface {
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
}

var _ containerLogs = docker.API(nil)

// LogsOptions prints the logs of a workload's current revision.
type LogsOptions struct {
	// Namespace and Workload name the workload.
	Namespace string
	Workload  string
	// Follow streams new lines until the containers stop.
	Follow bool
	// Tail is how many lines to print from the end of each container's log;
	// negative means all.
	Tail int64
	// Since prints only lines newer than this; zero means all.
	Since time.Duration
	// Timestamps prefixes each line with its RFC 3339 timestamp.
	Timestamps bool
	// Service selects the containers of one compose service.
	Service string
	// Prefix starts each line with its container's name even when there is
	// one container.
	Prefix bool

	// Client reads the Workload.
	Client client.Reader
	// Docker reads the containers and their logs.
	Docker containerLogs
	// closeDocker releases a Docker client Complete made.
	closeDocker func() error

	genericiooptions.IOStreams
}

// NewLogsOptions returns options that print whole logs once.
func NewLogsOptions(streams genericiooptions.IOStreams) *LogsOptions {
	return &LogsOptions{Tail: -1, IOStreams: streams}
}

// NewCmdLogs returns TinyForge's `logs`, which takes the place of kubectl's.
func NewCmdLogs(f cmdutil.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewLogsOptions(streams)
	cmd := &cobra.Command{
		Use:                   "logs (workload/NAME | NAME) [-f] [--tail=N] [--since=DURATION] [--service=SERVICE]",
		DisableFlagsInUseLine: true,
		Short:                 "Print the logs of a workload's containers",
		Long:                  logsLong,
		Example:               logsExample,
		ValidArgsFunction:     completion.SpecifiedResourceTypeAndNameNoRepeatCompletionFunc(f, []string{"workload"}),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(f, args))
			defer o.Close()
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", o.Follow, "Keep printing new lines until the containers stop")
	cmd.Flags().Int64Var(&o.Tail, "tail", o.Tail, "Lines to print from the end of each container's log; -1 prints all")
	cmd.Flags().DurationVar(&o.Since, "since", o.Since, "Only lines newer than this, such as 5s, 2m or 3h; 0 prints all")
	cmd.Flags().BoolVar(&o.Timestamps, "timestamps", o.Timestamps, "Start each line with its timestamp")
	cmd.Flags().StringVar(&o.Service, "service", o.Service, "Only the containers of this compose service")
	cmd.Flags().BoolVar(&o.Prefix, "prefix", o.Prefix, "Start each line with its container's name, even for one container")
	return cmd
}

// Complete reads the workload from args and builds the API and Docker
// clients.
func (o *LogsOptions) Complete(f cmdutil.Factory, args []string) error {
	var err error
	if o.Workload, o.Namespace, err = workloadTarget(f, "logs", args); err != nil {
		return err
	}
	if o.Client, err = newClient(f); err != nil {
		return err
	}
	d, err := docker.New()
	if err != nil {
		return err
	}
	o.Docker, o.closeDocker = d, d.Close
	return nil
}

// Close releases what Complete opened.
func (o *LogsOptions) Close() {
	if o.closeDocker != nil {
		_ = o.closeDocker()
	}
}

// Validate checks the options are usable.
func (o *LogsOptions) Validate() error {
	if o.Workload == "" {
		return errors.New("a workload is required")
	}
	if o.Since < 0 {
		return fmt.Errorf("--since must not be negative, got %v", o.Since)
	}
	if o.Client == nil || o.Docker == nil {
		return errors.New("no API or Docker client")
	}
	return nil
}

// Run prints the logs of the containers of the workload's current
// revision: one container after the other, or all at once with Follow.
func (o *LogsOptions) Run(ctx context.Context) error {
	w, err := getWorkload(ctx, o.Client, o.Namespace, o.Workload)
	if err != nil {
		return err
	}
	revision := w.Status.CurrentRevision
	if revision == "" {
		return fmt.Errorf("workload %s/%s has no current revision: nothing has deployed yet (see forgectl rollout status workload/%s)",
			o.Namespace, o.Workload, o.Workload)
	}
	// A compose redeploy recreates only the services that changed; the
	// others keep the revision label they were created with, so a stack's
	// containers are the workload's, whatever their revision.
	if w.Spec.Source.Kind == "compose" {
		revision = ""
	}
	containers, err := o.containers(ctx, revision)
	if err != nil {
		return err
	}
	prefix := o.Prefix || len(containers) > 1
	var mu sync.Mutex // one line at a time on the shared streams
	if !o.Follow {
		for _, c := range containers {
			if err := o.stream(ctx, c, prefix, &mu); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(containers))
	var wg sync.WaitGroup
	for i, c := range containers {
		wg.Go(func() { errs[i] = o.stream(ctx, c, prefix, &mu) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// containers lists the containers of one revision of the workload, or of
// every revision when revision is empty (running or not, so a crash's last
// words can be read), by name.
//
// Reading touches nothing, so they are selected by the three labels that
// name the revision alone, not also by the managed-by mark that guards what
// TinyForge may remove (docker.RevisionFilter): tests run labelled
// containers without it, which no server's orphan sweep then removes.
func (o *LogsOptions) containers(ctx context.Context, revision string) ([]container.Summary, error) {
	filter := filters.NewArgs(
		filters.Arg("label", docker.LabelNamespace+"="+o.Namespace),
		filters.Arg("label", docker.LabelWorkload+"="+o.Workload),
	)
	if revision != "" {
		filter.Add("label", docker.LabelRevision+"="+revision)
	}
	if o.Service != "" {
		filter.Add("label", ComposeServiceLabel+"="+o.Service)
	}
	list, err := o.Docker.ContainerList(ctx, container.ListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("listing the containers of workload %s/%s: %w", o.Namespace, o.Workload, err)
	}
	if len(list) == 0 {
		what := fmt.Sprintf("workload %s/%s", o.Namespace, o.Workload)
		if revision != "" {
			what += " revision " + revision
		}
		if o.Service != "" {
			what += fmt.Sprintf(" service %q", o.Service)
		}
		return nil, fmt.Errorf("no containers of %s on this Docker daemon: logs are read from the Docker host TinyForge deploys to", what)
	}
	sort.Slice(list, func(i, j int) bool { return containerName(list[i]) < containerName(list[j]) })
	return list, nil
}

// stream copies one container's log to the streams, demultiplexing its
// stdout and stderr unless it has a TTY (whose log is one raw stream).
func (o *LogsOptions) stream(ctx context.Context, c container.Summary, prefix bool, mu *sync.Mutex) error {
	name := containerName(c)
	info, err := o.Docker.ContainerInspect(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("inspecting container %s: %w", name, err)
	}
	tail := "all"
	if o.Tail >= 0 {
		tail = strconv.FormatInt(o.Tail, 10)
	}
	since := ""
	if o.Since > 0 {
		since = o.Since.String()
	}
	rc, err := o.Docker.ContainerLogs(ctx, c.ID, container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     o.Follow,
		Tail:       tail,
		Since:      since,
		Timestamps: o.Timestamps,
	})
	if err != nil {
		return fmt.Errorf("reading the logs of container %s: %w", name, err)
	}
	defer rc.Close()

	p := ""
	if prefix {
		p = "[" + name + "] "
	}
	stdout := &lineWriter{w: o.Out, prefix: p, mu: mu}
	stderr := &lineWriter{w: o.ErrOut, prefix: p, mu: mu}
	if info.Config != nil && info.Config.Tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	if ferr := errors.Join(stdout.Flush(), stderr.Flush()); err == nil {
		err = ferr
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("reading the logs of container %s: %w", name, err)
	}
	return nil
}

// containerName is a container's name without Docker's leading slash.
func containerName(c container.Summary) string {
	if len(c.Names) == 0 {
		return c.ID[:min(12, len(c.ID))]
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// lineWriter writes whole lines, each started with prefix, under mu, so the
// logs of containers streamed at once do not mix within a line.
type lineWriter struct {
	w      io.Writer
	prefix string
	mu     *sync.Mutex
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	end := bytes.LastIndexByte(l.buf, '\n')
	if end < 0 {
		return len(p), nil
	}
	if err := l.emit(l.buf[:end+1]); err != nil {
		return 0, err
	}
	l.buf = append(l.buf[:0], l.buf[end+1:]...)
	return len(p), nil
}

// Flush writes a last line that had no newline, ending it with one.
func (l *lineWriter) Flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	err := l.emit(append(l.buf, '\n'))
	l.buf = l.buf[:0]
	return err
}

// emit writes lines, which end with a newline, with the prefix before each.
func (l *lineWriter) emit(lines []byte) error {
	out := lines
	if l.prefix != "" {
		var b bytes.Buffer
		for len(lines) > 0 {
			i := bytes.IndexByte(lines, '\n')
			b.WriteString(l.prefix)
			b.Write(lines[:i+1])
			lines = lines[i+1:]
		}
		out = b.Bytes()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(out)
	return err
}
