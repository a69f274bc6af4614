// Package proxy is TinyForge's built-in HTTP(S) reverse proxy, which routes
// public hosts and path prefixes to the healthy revision of each workload and
// switches revisions blue-green without dropping a request.
package proxy
