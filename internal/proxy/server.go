package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/go-logr/logr"
)

// ErrAlreadyRun is returned by Run on a Server that ran before: its
// listeners are closed.
var ErrAlreadyRun = errors.New("proxy server already ran")

// Server is the proxy: a Router served on an HTTP listener and optionally an
// HTTPS one with per-host certificates.
type Server struct {
	*Router

	opts    Options
	log     logr.Logger
	certs   *certStore
	servers []*listenerServer

	// baseCtx is the parent of every request's context; cancelling it at
	// the end of shutdown ends upgraded connections, which http.Server's
	// Shutdown does not track.
	baseCtx    context.Context
	cancelBase context.CancelFunc
	handlers   handlerCount
	ran        atomic.Bool
}

type listenerServer struct {
	name string
	ln   net.Listener
	srv  *http.Server
	tls  bool
}

// New listens on the addresses of opts (completed with defaults) and returns
// a Server that serves them once Run is called. Call Run, or Close to free
// the listeners.
func New(opts Options, log logr.Logger) (*Server, error) {
	opts.Complete()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		Router: NewRouter(opts, log),
		opts:   opts,
		log:    log,
		certs:  newCertStore(log),
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	for _, l := range []struct {
		name, addr string
		tls        bool
	}{{"http", opts.HTTPAddr, false}, {"https", opts.HTTPSAddr, true}} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("listening for %s on %s: %w", l.name, l.addr, err)
		}
		s.servers = append(s.servers, &listenerServer{name: l.name, ln: ln, srv: s.newHTTPServer(l.tls), tls: l.tls})
	}
	return s, nil
}

func (s *Server) newHTTPServer(withTLS bool) *http.Server {
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          stdLogger(s.log),
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
	}
	if withTLS {
		srv.TLSConfig = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.certs.getCertificate,
		}
	}
	return srv
}

func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.handlers.add()
		defer s.handlers.done()
		s.Router.ServeHTTP(w, req)
	})
}

// Addr is the address HTTP is served on, such as 127.0.0.1:41234 when
// HTTPAddr asked for port 0; empty without an HTTP listener.
func (s *Server) Addr() string {
	return s.addr(false)
}

// TLSAddr is the address HTTPS is served on; empty without HTTPS.
func (s *Server) TLSAddr() string {
	return s.addr(true)
}

func (s *Server) addr(withTLS bool) string {
	for _, ls := range s.servers {
		if ls.tls == withTLS {
			return ls.ln.Addr().String()
		}
	}
	return ""
}

// Run serves until ctx is done, then stops accepting connections, lets the
// requests in flight finish for up to ShutdownTimeout, aborts the rest and
// returns. It returns an error only when a listener failed.
func (s *Server) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	errc := make(chan error, len(s.servers))
	for _, ls := range s.servers {
		go func() {
			var err error
			if ls.tls {
				err = ls.srv.ServeTLS(ls.ln, "", "")
			} else {
				err = ls.srv.Serve(ls.ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("serving %s on %s: %w", ls.name, ls.ln.Addr(), err)
			}
			errc <- err
		}()
	}
	s.log.Info("Proxy serving", "http", s.Addr(), "https", s.TLSAddr())

	var runErr error
	pending := len(s.servers)
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		pending--
	}
	s.shutdown(ctx)
	for range pending {
		if err := <-errc; err != nil && runErr == nil {
			runErr = err
		}
	}
	s.Router.Close()
	s.log.Info("Proxy stopped")
	return runErr
}

func (s *Server) shutdown(ctx context.Context) {
	s.log.Info("Proxy shutting down", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, ls := range s.servers {
		wg.Go(func() {
			if err := ls.srv.Shutdown(sctx); err != nil {
				s.log.Info("Requests still in flight at the shutdown deadline; closing", "listener", ls.name)
				_ = ls.srv.Close()
			}
		})
	}
	wg.Wait()
	// Shutdown does not wait for upgraded connections (WebSockets); give
	// them what is left of the deadline, then cut them.
	if err := s.handlers.wait(sctx); err != nil {
		s.log.Info("Upgraded connections still open at the shutdown deadline; closing")
	}
	s.cancelBase()
	gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), abortGrace)
	defer gcancel()
	_ = s.handlers.wait(gctx)
}

// Close frees the listeners of a Server that will not Run, and stops its
// router. Run closes them itself.
func (s *Server) Close() error {
	var errs []error
	if s.ran.CompareAndSwap(false, true) {
		for _, ls := range s.servers {
			if err := ls.ln.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	s.cancelBase()
	s.Router.Close()
	return errors.Join(errs...)
}

// handlerCount counts running handlers so shutdown can wait for those that
// http.Server no longer tracks (upgraded connections).
type handlerCount struct {
	mu   sync.Mutex
	n    int
	zero chan struct{}
}

func (h *handlerCount) add() {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
}

func (h *handlerCount) done() {
	h.mu.Lock()
	if h.n--; h.n == 0 && h.zero != nil {
		close(h.zero)
		h.zero = nil
	}
	h.mu.Unlock()
}

func (h *handlerCount) wait(ctx context.Context) error {
	h.mu.Lock()
	if h.n == 0 {
		h.mu.Unlock()
		return nil
	}
	if h.zero == nil {
		h.zero = make(chan struct{})
	}
	zero := h.zero
	h.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
