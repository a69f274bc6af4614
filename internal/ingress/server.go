package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	restful "github.com/emicklei/go-restful/v3"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	tinyforgev1alpha1 "github.com/tinyforge/tinyforge/api/v1alpha1"
	"github.com/tinyforge/tinyforge/controllers/index"
	"github.com/tinyforge/tinyforge/internal/inbound"
	"github.com/tinyforge/tinyforge/internal/ingress/webhook"
	"github.com/tinyforge/tinyforge/plugins"
)

// HookPrefix is the path prefix deliveries are posted under; a trigger's
// status.webhookPath starts with it.
const HookPrefix = "/hooks/"

// Server is the webhook ingress.
type Server struct {
	opts Options
	log  logr.Logger
	// triggers reads Triggers from a cache indexed by webhook path (see
	// index.AddTriggerIndexes) and creates Events.
	triggers client.Client
	// secrets reads token Secrets uncached: only the one a delivery needs.
	secrets  client.Reader
	plugins  *plugins.Registry[plugins.Trigger]
	metrics  *metrics
	now      func() time.Time
	handler  http.Handler
	listener net.Listener

	mu       sync.Mutex
	limiters map[types.UID]*rate.Limiter
}

// New returns an ingress that looks Triggers up with c (a cached client
// whose cache has index.TriggerWebhookPath) and reads Secrets with secrets.
// It binds its listener at once, so Addr is known before Run.
func New(o Options, c client.Client, secrets client.Reader, log logr.Logger) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		opts:     o,
		log:      log,
		triggers: c,
		secrets:  secrets,
		plugins:  plugins.DefaultTriggers,
		metrics:  newMetrics(),
		now:      time.Now,
		limiters: map[types.UID]*rate.Limiter{},
	}
	s.handler = s.routes()
	l, err := net.Listen("tcp", o.Address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for webhooks: %w", o.Address, err)
	}
	s.listener = l
	return s, nil
}

// Addr is the address the ingress listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// PublicURL is the base URL of the ingress for providers.
func (s *Server) PublicURL() string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	host, port, _ := net.SplitHostPort(s.Addr())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Handler serves the ingress's routes; tests may mount it elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.listener) }()
	s.log.Info("Webhook ingress listening", "address", s.Addr(), "publicURL", s.PublicURL())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// routes builds the go-restful container: the hooks, /healthz, /metrics.
func (s *Server) routes() http.Handler {
	c := restful.NewContainer()
	c.ServeMux = http.NewServeMux()
	c.Router(restful.CurlyRouter{})
	c.DoNotRecover(false)

	hooks := new(restful.WebService).Path(strings.TrimSuffix(HookPrefix, "/")).Produces(restful.MIME_JSON)
	hooks.Route(hooks.POST("/{path}").To(s.hook).
		Doc("Accept a webhook delivery for the trigger whose status.webhookPath is /hooks/{path}").
		Param(hooks.PathParameter("path", "the trigger's webhook path after /hooks/")).
		Consumes("*/*"))
	c.Add(hooks)

	health := new(restful.WebService).Path("/healthz")
	health.Route(health.GET("").To(func(_ *restful.Request, resp *restful.Response) {
		resp.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(resp, "ok")
	}))
	c.Add(health)
	c.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return c
}

// answer is the ingress's reply to one delivery.
type answer struct {
	code     int
	outcome  string
	provider tinyforgev1alpha1.Provider
	// Message is a short line for the provider's delivery log.
	Message string `json:"message"`
	// Events are the Event resources the delivery created or matched.
	Events []string `json:"events,omitempty"`
	// retryAfter, when set, is sent as Retry-After.
	retryAfter time.Duration
}

func reply(code int, outcome, format string, args ...any) answer {
	return answer{code: code, outcome: outcome, Message: fmt.Sprintf(format, args...)}
}

// hook handles POST /hooks/{path}.
func (s *Server) hook(req *restful.Request, resp *restful.Response) {
	start := s.now()
	a := s.deliver(req.Request.Context(), HookPrefix+req.PathParameter("path"), resp.ResponseWriter, req.Request)
	if a.retryAfter > 0 {
		resp.Header().Set("Retry-After", strconv.Itoa(int(a.retryAfter.Seconds()+0.5)))
	}
	resp.Header().Set("Content-Type", "application/json")
	resp.WriteHeader(a.code)
	_ = json.NewEncoder(resp).Encode(a)
	s.metrics.deliveries.WithLabelValues(string(a.provider), strconv.Itoa(a.code), a.outcome).Inc()
	s.metrics.latency.WithLabelValues(a.outcome).Observe(time.Since(start).Seconds())
	s.log.V(1).Info("Delivery", "code", a.code, "outcome", a.outcome, "provider", a.provider, "message", a.Message, "events", a.Events)
}

// deliver decides what one delivery becomes. The order matters: the body is
// read only for a known trigger, and verified before it is parsed.
func (s *Server) deliver(ctx context.Context, path string, w http.ResponseWriter, r *http.Request) answer {
	t, err := s.lookup(ctx, path)
	if err != nil {
		s.log.Error(err, "Looking up the trigger of a delivery")
		return reply(http.StatusServiceUnavailable, outcomeUnavailable, "cannot look up triggers right now; retry later")
	}
	if t == nil {
		return reply(http.StatusNotFound, outcomeNotFound, "no trigger listens at this path")
	}
	if !s.allow(t) {
		a := reply(http.StatusTooManyRequests, outcomeRateLimited, "trigger %s/%s receives more than %g deliveries per second; retry later", t.Namespace, t.Name, s.opts.RateLimit)
		a.retryAfter = time.Second
		return a
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		return reply(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, s.opts.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return reply(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body is over the limit of %d bytes", s.opts.MaxBodyBytes)
		}
		return reply(http.StatusBadRequest, outcomeBadRequest, "reading the body: %v", err)
	}

	provider := t.Spec.Provider
	if provider == "" {
		if provider, err = webhook.Detect(r.Header, body); err != nil {
			return reply(http.StatusBadRequest, outcomeBadRequest, "%v", err)
		}
	}
	a := s.deliverTo(ctx, t, provider, r.Header, body)
	a.provider = provider
	return a
}

func (s *Server) deliverTo(ctx context.Context, t *tinyforgev1alpha1.Trigger, provider tinyforgev1alpha1.Provider, h http.Header, body []byte) answer {
	secret, err := s.token(ctx, t)
	if err != nil {
		s.log.Error(err, "Reading a trigger's token", "trigger", client.ObjectKeyFromObject(t))
		return reply(http.StatusServiceUnavailable, outcomeUnavailable, "the trigger's token cannot be read right now; retry later")
	}
	verification, err := webhook.Verify(provider, h, body, secret)
	switch {
	case errors.Is(err, webhook.ErrNoSecret):
		return reply(http.StatusServiceUnavailable, outcomeUnavailable, "trigger %s/%s has no token yet to verify %s deliveries with; retry later", t.Namespace, t.Name, provider)
	case errors.Is(err, webhook.ErrUnsupported):
		return reply(http.StatusBadRequest, outcomeBadRequest, "%v", err)
	case err != nil:
		return reply(http.StatusUnauthorized, outcomeUnverified, "%v", err)
	}
	if t.Spec.Suspend {
		return reply(http.StatusAccepted, outcomeIgnored, "ignored: trigger %s/%s is suspended", t.Namespace, t.Name)
	}
	res, err := webhook.Parse(provider, h, body)
	if err != nil {
		return reply(http.StatusBadRequest, outcomeBadRequest, "%v", err)
	}
	if res.Ignored != "" {
		return reply(http.StatusAccepted, outcomeIgnored, "ignored: %s", res.Ignored)
	}
	if len(res.Events) == 1 && res.Events[0].Type == plugins.EventTypePing {
		return reply(http.StatusOK, outcomePong, "pong")
	}
	events, why := s.accepted(t, res.Events)
	if len(events) == 0 {
		return reply(http.StatusAccepted, outcomeIgnored, "ignored: %s", why)
	}
	return s.store(ctx, t, events, verification)
}

// accepted keeps the events t's plugin can act on, and says why when none
// is left.
func (s *Server) accepted(t *tinyforgev1alpha1.Trigger, events []plugins.InboundEvent) ([]plugins.InboundEvent, string) {
	p, err := s.plugins.Lookup(t.Spec.Kind)
	if err != nil {
		return nil, err.Error()
	}
	acc, ok := p.(plugins.EventAcceptor)
	if !ok {
		return events, ""
	}
	var out []plugins.InboundEvent
	var types []string
	for _, ev := range events {
		if acc.Accepts(ev.Type) {
			out = append(out, ev)
		} else {
			types = append(types, string(ev.Type))
		}
	}
	return out, fmt.Sprintf("a %s trigger does not act on %s events", t.Spec.Kind, strings.Join(types, ", "))
}

// store creates one Event per event; existing ones are redeliveries.
func (s *Server) store(ctx context.Context, t *tinyforgev1alpha1.Trigger, events []plugins.InboundEvent, v tinyforgev1alpha1.VerificationResult) answer {
	now := s.now()
	created := 0
	var names []string
	for _, ev := range events {
		ev.ReceivedTime = now
		obj := inbound.ToEvent(client.ObjectKeyFromObject(t), ev, v)
		err := s.triggers.Create(ctx, obj)
		switch {
		case apierrors.IsAlreadyExists(err):
		case err != nil:
			s.log.Error(err, "Creating an Event", "trigger", client.ObjectKeyFromObject(t), "event", obj.Name)
			return reply(http.StatusServiceUnavailable, outcomeUnavailable, "storing the event failed; retry later")
		default:
			created++
		}
		names = append(names, obj.Name)
	}
	a := reply(http.StatusAccepted, outcomeAccepted, "accepted")
	if created == 0 {
		a = reply(http.StatusOK, outcomeDuplicate, "duplicate")
	}
	a.Events = names
	return a
}

// lookup finds the trigger whose webhook path is path; nil when none is.
func (s *Server) lookup(ctx context.Context, path string) (*tinyforgev1alpha1.Trigger, error) {
	if len(path) > 256 {
		return nil, nil
	}
	var list tinyforgev1alpha1.TriggerList
	if err := s.triggers.List(ctx, &list, client.MatchingFields{index.TriggerWebhookPath: path}); err != nil {
		return nil, err
	}
	for i := range list.Items {
		if t := &list.Items[i]; t.DeletionTimestamp.IsZero() {
			return t, nil
		}
	}
	return nil, nil
}

// token reads t's webhook token; empty when its Secret or key is missing.
func (s *Server) token(ctx context.Context, t *tinyforgev1alpha1.Trigger) ([]byte, error) {
	name := t.Status.SecretName
	if name == "" {
		return nil, nil
	}
	key := tinyforgev1alpha1.DefaultTriggerSecretKey
	if t.Spec.SecretRef != nil && t.Spec.SecretRef.Key != "" {
		key = t.Spec.SecretRef.Key
	}
	var sec corev1.Secret
	if err := s.secrets.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: name}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return sec.Data[key], nil
}

// allow takes one token from t's rate limiter.
func (s *Server) allow(t *tinyforgev1alpha1.Trigger) bool {
	s.mu.Lock()
	l, ok := s.limiters[t.UID]
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.opts.RateLimit), s.opts.RateBurst)
		s.limiters[t.UID] = l
	}
	s.mu.Unlock()
	return l.Allow()
}
