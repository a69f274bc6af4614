// Package dockertest helps tests use the real Docker daemon: it connects to
// it, builds the test/testapp workload image locally (FROM scratch, since no
// registry can be pulled from), removes what a test created by label, and
// waits on HTTP endpoints, WebSockets and container health with deadlines.
package dockertest
