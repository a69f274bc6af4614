// Package apiservertest starts a real TinyForge API server in the test
// process: embedded etcd in a temp dir, HTTPS on a free loopback port, token
// auth, with a teardown registered on the test.
package apiservertest
