// Command testapp is the workload image of TinyForge's tests and benchmarks: a
// small static HTTP server whose version, health, exit, start-up delay and
// responses can be steered from outside, so tests can drive deploys,
// health-gated blue-green switches, drains, crashes and WebSocket or
// streaming traffic through the proxy without pulling any image.
//
// Configuration comes from flags, overridden by environment variables when
// these are set (a container is configured by its env):
//
//	-port / $PORT                          listen port (8080)
//	-version / $VERSION                    version reported by GET /
//	-fail-health / $FAIL_HEALTH=1          fail /healthz from the start
//	-exit-after / $EXIT_AFTER=30s          exit with code 1 after that long
//	-slow-start / $SLOW_START=2s           wait that long before listening
//	-shutdown-timeout / $SHUTDOWN_TIMEOUT  drain limit on SIGTERM (8s)
//	-healthcheck                           probe 127.0.0.1:$PORT/healthz and exit 0 or 1
//	-static-dir / $STATIC_DIR=/www         serve that directory's files (static mode)
//
// Build step modes, for images that build a static site with no shell (each
// does its work and exits):
//
//	-build-copy SRC:DST     copy the tree SRC to DST, and write DST/built.txt
//	-build-fail MESSAGE     print MESSAGE to stderr and exit with code 3
//
// Endpoints (text responses end in a newline):
//
//	GET  /                      version=<version> host=<hostname>
//	GET  /healthz               200 ok, or 503 unhealthy
//	POST /fail, POST /recover   make /healthz fail from now on, or stop failing
//	POST /exit?code=N           answer, then exit with code N (1 by default)
//	GET  /slow?d=500ms          wait d (at most 5m), then answer
//	GET  /stream?n=5&every=100ms  n lines, each flushed, d apart
//	GET  /ws                    WebSocket echo (RFC 6455, unfragmented frames up to 64 KiB)
//	GET  /env?key=K             the value of the environment variable K, 404 when unset
//	GET  /<file>                in static mode, the file under the static directory
//	                            (GET / serves its index.html instead of the version)
//
// On SIGTERM or SIGINT it stops accepting, lets in-flight requests finish
// within the shutdown timeout, sends WebSocket peers a going-away close frame,
// and exits 0. The -healthcheck mode lets a scratch image declare
// HEALTHCHECK CMD ["/testapp","-healthcheck"] with no shell or curl.
package main
