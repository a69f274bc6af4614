package proxy

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/tinyforge/tinyforge/plugins"
)

// ErrInvalidRoute is wrapped by the errors of calls given a route key or a
// backend the proxy could never serve.
var ErrInvalidRoute = errors.New("invalid route")

// maxHostLen is the longest DNS name; longer hosts cannot be real.
const maxHostLen = 253

// DefaultHost is the public host of a route that names none, so that every
// workload is reachable on a machine without DNS set up: browsers resolve
// *.localhost to the loopback address on their own.
func DefaultHost(workload, namespace string) string {
	return strings.ToLower(workload + "." + namespace + ".localhost")
}

// normalizeHost reduces a Host header or an SNI name to the form routes are
// keyed by, because clients differ in case, port and trailing dot while
// meaning the same site. It never fails: a host no route has simply matches
// nothing.
func normalizeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		// An IPv6 literal, with or without a port.
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[1:i]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		// One colon is host:port; more is a bare IPv6 address.
		h = h[:i]
	}
	h = strings.TrimRight(h, ".")
	return strings.ToLower(h)
}

// normalizeKey checks a route key and puts it in the form lookups use. A key
// with a port is refused rather than stripped, because the caller plainly
// meant something the proxy does not do (route by port).
func normalizeKey(k plugins.RouteKey) (plugins.RouteKey, error) {
	if k.PathPrefix == "" {
		k.PathPrefix = "/"
	}
	if !strings.HasPrefix(k.PathPrefix, "/") {
		return k, fmt.Errorf("route %s: path prefix must start with /: %w", k, ErrInvalidRoute)
	}
	if strings.ContainsAny(k.PathPrefix, "?#") {
		return k, fmt.Errorf("route %s: path prefix may not hold a query or fragment: %w", k, ErrInvalidRoute)
	}
	h, err := normalizeKeyHost(k.Host)
	if err != nil {
		return k, fmt.Errorf("route %s: %w", k, err)
	}
	k.Host = h
	return k, nil
}

// normalizeKeyHost checks a host given by a caller (a route key or a
// certificate's host) and lowers it.
func normalizeKeyHost(h string) (string, error) {
	if inner, ok := strings.CutPrefix(h, "["); ok && strings.HasSuffix(inner, "]") {
		// An IPv6 literal as written in URLs; requests for it arrive
		// bracketed and are looked up bare.
		if ip := strings.TrimSuffix(inner, "]"); net.ParseIP(ip) != nil {
			h = ip
		}
	}
	if len(h) > maxHostLen {
		return "", fmt.Errorf("host longer than %d bytes: %w", maxHostLen, ErrInvalidRoute)
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`/\?#@[]%`, c) >= 0 {
			return "", fmt.Errorf("host %q holds %q: %w", h, c, ErrInvalidRoute)
		}
	}
	if strings.Contains(h, ":") && net.ParseIP(h) == nil {
		return "", fmt.Errorf("host %q has a port; routes match hosts on any port: %w", h, ErrInvalidRoute)
	}
	return strings.ToLower(strings.TrimRight(h, ".")), nil
}

// prefixMatches reports whether a request path falls under a route's path
// prefix. Prefixes match whole path segments, as Kubernetes Ingress prefixes
// do, so /api serves /api and /api/v1 but not /apiary.
func prefixMatches(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// normalizeBackends checks backends' addresses and drops exact duplicates,
// since a backend listed twice would only skew the round robin.
func normalizeBackends(key plugins.RouteKey, backends []plugins.Backend) ([]plugins.Backend, error) {
	out := make([]plugins.Backend, 0, len(backends))
	seen := make(map[string]string, len(backends))
	for _, b := range backends {
		host, port, err := net.SplitHostPort(b.Address)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("route %s: backend address %q is not host:port: %w", key, b.Address, ErrInvalidRoute)
		}
		if rev, ok := seen[b.Address]; ok {
			if rev != b.Revision {
				return nil, fmt.Errorf("route %s: backend %s listed with revisions %q and %q: %w",
					key, b.Address, rev, b.Revision, ErrInvalidRoute)
			}
			continue
		}
		seen[b.Address] = b.Revision
		out = append(out, b)
	}
	return out, nil
}
