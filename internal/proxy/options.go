package proxy

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"
)

// ErrInvalidOptions is wrapped by Options.Validate.
var ErrInvalidOptions = errors.New("invalid proxy options")

// Defaults of Options.
const (
	DefaultHTTPAddr          = ":8080"
	DefaultDrainTimeout      = 30 * time.Second
	DefaultHealthTimeout     = 5 * time.Minute
	DefaultDialTimeout       = 5 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
)

// Options configure the proxy. The zero value is completed with the
// defaults; only an HTTPS address and certificates are needed on top for TLS.
type Options struct {
	// HTTPAddr is where plain HTTP is served; empty serves none (then
	// HTTPSAddr must be set).
	HTTPAddr string
	// HTTPSAddr is where HTTPS is served, with the certificate set for the
	// SNI host; empty serves none.
	HTTPSAddr string

	// DrainTimeout is how long Drain waits for an old backend's requests
	// when its caller gives no timeout, and how long Run waits for requests
	// at shutdown when ShutdownTimeout is unset.
	DrainTimeout time.Duration
	// HealthTimeout bounds how long Deploy waits for new backends to pass
	// their health check when the caller's context has no earlier deadline.
	HealthTimeout time.Duration
	// DialTimeout bounds connecting to a backend.
	DialTimeout time.Duration

	// ReadHeaderTimeout bounds reading a request's headers, against clients
	// that hold connections open by sending them slowly. Bodies, responses
	// and upgraded connections are not bounded: they may stream for hours.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the size of a request's headers.
	MaxHeaderBytes int
	// ShutdownTimeout is how long Run lets requests in flight finish once
	// its context is done; 0 means DrainTimeout.
	ShutdownTimeout time.Duration
}

// AddFlags binds the options to flags of `tinyforge proxy` (and of
// `tinyforge server`, which runs the proxy in process).
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.HTTPAddr, "proxy-http-address", DefaultHTTPAddr,
		"Address the proxy serves HTTP on; empty serves no HTTP.")
	fs.StringVar(&o.HTTPSAddr, "proxy-https-address", o.HTTPSAddr,
		"Address the proxy serves HTTPS on, with per-host certificates chosen by SNI; empty serves no HTTPS.")
	fs.DurationVar(&o.DrainTimeout, "proxy-drain-timeout", DefaultDrainTimeout,
		"How long an old revision keeps serving its in-flight requests after a switch, unless the workload says otherwise.")
	fs.DurationVar(&o.HealthTimeout, "proxy-health-timeout", DefaultHealthTimeout,
		"Longest wait for a new revision to pass its health check before the switch is abandoned.")
	fs.DurationVar(&o.ReadHeaderTimeout, "proxy-read-header-timeout", DefaultReadHeaderTimeout,
		"Longest time a client may take to send request headers.")
	fs.DurationVar(&o.IdleTimeout, "proxy-idle-timeout", DefaultIdleTimeout,
		"Idle keep-alive connections are closed after this long.")
	fs.IntVar(&o.MaxHeaderBytes, "proxy-max-header-bytes", DefaultMaxHeaderBytes,
		"Largest request header block accepted.")
}

// Complete fills unset options with their defaults.
func (o *Options) Complete() {
	if o.HTTPAddr == "" && o.HTTPSAddr == "" {
		o.HTTPAddr = DefaultHTTPAddr
	}
	setDefault(&o.DrainTimeout, DefaultDrainTimeout)
	setDefault(&o.HealthTimeout, DefaultHealthTimeout)
	setDefault(&o.DialTimeout, DefaultDialTimeout)
	setDefault(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&o.IdleTimeout, DefaultIdleTimeout)
	setDefault(&o.ShutdownTimeout, o.DrainTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Validate checks completed options.
func (o *Options) Validate() error {
	var errs []error
	if o.HTTPAddr == "" && o.HTTPSAddr == "" {
		errs = append(errs, errors.New("an HTTP or an HTTPS address is required"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"drain timeout", o.DrainTimeout}, {"health timeout", o.HealthTimeout}, {"dial timeout", o.DialTimeout},
		{"read header timeout", o.ReadHeaderTimeout}, {"idle timeout", o.IdleTimeout},
		{"shutdown timeout", o.ShutdownTimeout},
	} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, not %s", d.name, d.d))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
	}
	return nil
}
