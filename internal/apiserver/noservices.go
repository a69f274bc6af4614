package apiserver

import (
	"fmt"
	"net/url"
)

// noServices resolves no Service: TinyForge has no cluster network, so CRD
// conversion webhooks addressed to a Service cannot be reached.
type noServices struct{}

func (noServices) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return nil, fmt.Errorf("service %s/%s:%d: TinyForge does not resolve Services", namespace, name, port)
}
