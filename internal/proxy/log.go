package proxy

import (
	"log"
	"strings"

	"github.com/go-logr/logr"
)

// stdLogger routes net/http's own messages (TLS handshake failures, broken
// connections, ReverseProxy's copy errors) to logr at debug level: they are
// about clients misbehaving, which an operator rarely needs to see.
func stdLogger(l logr.Logger) *log.Logger {
	return log.New(logWriter{l.V(1)}, "", 0)
}

type logWriter struct {
	log logr.Logger
}

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
