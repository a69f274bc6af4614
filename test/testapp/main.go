package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// config is what flags and environment say the process should do.
type config struct {
	port            string
	version         string
	failHealth      bool
	exitAfter       time.Duration
	slowStart       time.Duration
	shutdownTimeout time.Duration
	healthcheck     bool
	// staticDir, when set, is served at every path the endpoints leave.
	staticDir string
	// buildCopy and buildFail are one-shot build step modes (see build.go).
	buildCopy string
	buildFail string
}

// parseConfig reads flags from args, then lets each environment variable that
// is set override its flag: a container image fixes the flags in its
// entrypoint, while each container is configured by its env.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("testapp", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.port, "port", "8080", "listen port ($PORT)")
	fs.StringVar(&cfg.version, "version", "", "version reported by GET / ($VERSION)")
	fs.BoolVar(&cfg.failHealth, "fail-health", false, "fail /healthz from the start ($FAIL_HEALTH)")
	fs.DurationVar(&cfg.exitAfter, "exit-after", 0, "exit with code 1 after this long; 0 never ($EXIT_AFTER)")
	fs.DurationVar(&cfg.slowStart, "slow-start", 0, "wait this long before listening ($SLOW_START)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 8*time.Second,
		"how long SIGTERM waits for in-flight requests; below docker stop's 10s grace ($SHUTDOWN_TIMEOUT)")
	fs.BoolVar(&cfg.healthcheck, "healthcheck", false, "probe http://127.0.0.1:$PORT/healthz, exit 0 when it answers 200, else 1")
	fs.StringVar(&cfg.staticDir, "static-dir", "", "serve the files of this directory at every other path ($STATIC_DIR)")
	fs.StringVar(&cfg.buildCopy, "build-copy", "", "build step: copy the tree SRC to DST (given as SRC:DST), add DST/built.txt, and exit")
	fs.StringVar(&cfg.buildFail, "build-fail", "", "build step: print this message to stderr and exit with code 3")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	if v := getenv("PORT"); v != "" {
		cfg.port = v
	}
	if v := getenv("VERSION"); v != "" {
		cfg.version = v
	}
	if v := getenv("STATIC_DIR"); v != "" {
		cfg.staticDir = v
	}
	if v := getenv("FAIL_HEALTH"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("parsing FAIL_HEALTH=%q: %w", v, err)
		}
		cfg.failHealth = b
	}
	durations := []struct {
		env string
		dst *time.Duration
	}{
		{"EXIT_AFTER", &cfg.exitAfter},
		{"SLOW_START", &cfg.slowStart},
		{"SHUTDOWN_TIMEOUT", &cfg.shutdownTimeout},
	}
	for _, d := range durations {
		v := getenv(d.env)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil {
			return config{}, fmt.Errorf("parsing %s=%q: %w", d.env, v, err)
		}
		*d.dst = parsed
	}

	if n, err := strconv.Atoi(cfg.port); err != nil || n < 1 || n > 65535 {
		return config{}, fmt.Errorf("port %q is not a number from 1 to 65535", cfg.port)
	}
	for _, d := range durations {
		if *d.dst < 0 {
			return config{}, fmt.Errorf("%s must not be negative, got %v", d.env, *d.dst)
		}
	}
	return cfg, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(2)
	}
	if cfg.healthcheck {
		os.Exit(probe("http://"+net.JoinHostPort("127.0.0.1", cfg.port)+"/healthz", 3*time.Second))
	}
	if cfg.buildCopy != "" || cfg.buildFail != "" {
		os.Exit(buildStep(cfg, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, cfg, log.New(os.Stderr, "testapp: ", log.LstdFlags|log.Lmicroseconds), os.Exit))
}

// probe is the -healthcheck mode: 0 when url answers 200 within timeout, 1
// otherwise, as Docker's HEALTHCHECK expects.
func probe(url string, timeout time.Duration) int {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}

// run serves until ctx is cancelled (SIGTERM), then drains, and returns the
// exit code. exit ends the process at once, for $EXIT_AFTER and /exit.
func run(ctx context.Context, cfg config, logger *log.Logger, exit func(int)) int {
	if cfg.exitAfter > 0 {
		// Counted from process start, slow start included: it models a
		// process that dies, whatever it was doing.
		time.AfterFunc(cfg.exitAfter, func() {
			logger.Printf("EXIT_AFTER=%v elapsed, exiting with code 1", cfg.exitAfter)
			exit(1)
		})
	}
	if cfg.slowStart > 0 {
		logger.Printf("slow start: listening in %v", cfg.slowStart)
		select {
		case <-time.After(cfg.slowStart):
		case <-ctx.Done():
			return 0
		}
	}

	ln, err := net.Listen("tcp", ":"+cfg.port)
	if err != nil {
		logger.Print(err)
		return 1
	}
	a := newApp(cfg, exit)
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	// Shutdown leaves hijacked connections alone; tell WebSocket peers.
	srv.RegisterOnShutdown(a.ws.closeAll)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Printf("version=%q listening on %s", cfg.version, ln.Addr())

	select {
	case err := <-serveErr:
		logger.Print(err)
		return 1
	case <-ctx.Done():
	}
	logger.Printf("shutting down, waiting up to %v for requests in flight", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Printf("shutdown: %v", err)
		return 1
	}
	if err := a.ws.wait(sctx); err != nil {
		logger.Printf("shutdown: %v", err)
		return 1
	}
	logger.Print("shut down")
	return 0
}
