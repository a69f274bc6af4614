package proxy

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestRunShutsDownGracefully(t *testing.T) {
	s, err := New(Options{HTTPAddr: "127.0.0.1:0", ShutdownTimeout: testTimeout}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	slow := newBlockingHandler()
	_, b := newBackend(t, "app", withHandler("/slow", slow.ServeHTTP))
	setRoute(t, s.Router, key("app.test", "/"), b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	inFlight := getAsync(newClient(t, s.Addr()), "http://app.test/slow")
	receive(t, "the request to reach the backend", slow.started)
	cancel()
	// New connections are refused once shutdown began, while the request
	// in flight is let finish.
	eventually(t, "the listener closes", func() bool {
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned with a request in flight: %v", err)
	default:
	}
	close(slow.release)
	if res := receive(t, "the request in flight", inFlight); res.err != nil || res.body != "slow done" {
		t.Errorf("request in flight at shutdown = %+v", res)
	}
	if err := receive(t, "Run to return", done); err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrAlreadyRun) {
		t.Errorf("second Run = %v, want ErrAlreadyRun", err)
	}
	if err := s.SetRoute(context.Background(), key("app.test", "/")); !errors.Is(err, ErrRouterClosed) {
		t.Errorf("SetRoute after Run = %v, want ErrRouterClosed", err)
	}
}

func TestShutdownDeadlineEndsUpgradedConnections(t *testing.T) {
	s, err := New(Options{HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 100 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	_, b := newBackend(t, "app", withHandler("/ws", wsEcho))
	setRoute(t, s.Router, key("app.test", "/"), b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	_, br := dialWebSocket(t, s.Addr(), "app.test", "/ws")
	cancel()
	if err := receive(t, "Run to return", done); err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("the WebSocket outlived the shutdown deadline")
	}
}

func TestNewFailsOnBusyAddress(t *testing.T) {
	first := newTestProxy(t)
	if _, err := New(Options{HTTPAddr: first.Addr()}, testLogger(t)); err == nil {
		t.Error("New on a busy address succeeded")
	}
}

func TestCloseWithoutRun(t *testing.T) {
	s, err := New(Options{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if s.TLSAddr() == "" || addr == "" {
		t.Fatalf("addresses %q %q", addr, s.TLSAddr())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The port is free again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	ln.Close()
}

func TestOptions(t *testing.T) {
	var o Options
	o.Complete()
	if err := o.Validate(); err != nil {
		t.Fatalf("completed zero options: %v", err)
	}
	want := Options{
		HTTPAddr: DefaultHTTPAddr, DrainTimeout: DefaultDrainTimeout, HealthTimeout: DefaultHealthTimeout,
		DialTimeout: DefaultDialTimeout, ReadHeaderTimeout: DefaultReadHeaderTimeout, IdleTimeout: DefaultIdleTimeout,
		MaxHeaderBytes: DefaultMaxHeaderBytes, ShutdownTimeout: DefaultDrainTimeout,
	}
	if o != want {
		t.Errorf("completed options = %+v, want %+v", o, want)
	}
	bad := Options{HTTPAddr: ":1"}
	if err := bad.Validate(); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("uncompleted options validate: %v", err)
	}
}
