package ingress

import (
	"fmt"
	"net"

	"github.com/spf13/pflag"
)

// Options configure the ingress.
type Options struct {
	// Address is where the ingress listens, host:port.
	Address string
	// PublicURL is the base URL providers reach the ingress at, printed by
	// `forgectl webhook-url`; empty means http://<Address>.
	PublicURL string
	// MaxBodyBytes bounds a delivery's body; larger ones get 413.
	MaxBodyBytes int64
	// RateLimit is the deliveries per second each trigger accepts, with
	// bursts up to RateBurst; more get 429.
	RateLimit float64
	RateBurst int
}

// NewOptions returns the defaults.
func NewOptions() *Options {
	return &Options{
		Address:      ":8090",
		MaxBodyBytes: 5 << 20,
		RateLimit:    20,
		RateBurst:    40,
	}
}

// AddFlags registers the options on fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Address, "ingress-address", o.Address, "Address the webhook ingress listens on; empty turns it off.")
	fs.StringVar(&o.PublicURL, "ingress-public-url", o.PublicURL, "Base URL providers reach the webhook ingress at, shown by `forgectl webhook-url` (default http://<this host>:<ingress port>).")
	fs.Int64Var(&o.MaxBodyBytes, "ingress-max-body-bytes", o.MaxBodyBytes, "Largest webhook delivery accepted; larger ones are answered 413.")
	fs.Float64Var(&o.RateLimit, "ingress-rate-limit", o.RateLimit, "Deliveries per second each trigger accepts; more are answered 429.")
	fs.IntVar(&o.RateBurst, "ingress-rate-burst", o.RateBurst, "Burst of deliveries each trigger accepts above --ingress-rate-limit.")
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Address == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(o.Address); err != nil {
		return fmt.Errorf("--ingress-address %q: %w", o.Address, err)
	}
	if o.MaxBodyBytes <= 0 {
		return fmt.Errorf("--ingress-max-body-bytes must be positive, not %d", o.MaxBodyBytes)
	}
	if o.RateLimit <= 0 || o.RateBurst <= 0 {
		return fmt.Errorf("--ingress-rate-limit and --ingress-rate-burst must be positive")
	}
	return nil
}
