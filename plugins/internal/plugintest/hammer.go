package plugintest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxHammerErrors is how many failure messages a Hammer keeps.
const maxHammerErrors = 10

// Hammer is clients that GET one URL in a loop until Halt: the
// zero-downtime check of deploy tests. It counts the 200 answers by the
// key of their body and every failure (an error or another status),
// keeping the first messages.
type Hammer struct {
	key      func(body string) string
	stop     chan struct{}
	wg       sync.WaitGroup
	ok       atomic.Int64
	failures atomic.Int64

	mu     sync.Mutex
	bodies map[string]int
	errs   []string
}

// StartHammer starts clients GETting url. key maps an answer's body to
// what Seen counts; nil counts the body with surrounding space trimmed.
func StartHammer(url string, clients int, key func(body string) string) *Hammer {
	if key == nil {
		key = strings.TrimSpace
	}
	h := &Hammer{key: key, stop: make(chan struct{}), bodies: map[string]int{}}
	for range clients {
		h.wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-h.stop:
					return
				default:
				}
				body, err := get(c, url)
				h.mu.Lock()
				if err != nil {
					h.failures.Add(1)
					if len(h.errs) < maxHammerErrors {
						h.errs = append(h.errs, err.Error())
					}
				} else {
					h.ok.Add(1)
					h.bodies[h.key(body)]++
				}
				h.mu.Unlock()
			}
		})
	}
	return h
}

// Halt stops the clients and waits for them.
func (h *Hammer) Halt() {
	close(h.stop)
	h.wg.Wait()
}

// OK is how many requests got a 200.
func (h *Hammer) OK() int64 { return h.ok.Load() }

// Failures is how many requests failed.
func (h *Hammer) Failures() int64 { return h.failures.Load() }

// Errors are the first failures' messages.
func (h *Hammer) Errors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.errs...)
}

// Seen is how many 200 answers had a body with key k.
func (h *Hammer) Seen(k string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.bodies[k]
}

// Keys counts the 200 answers by the key of their body.
func (h *Hammer) Keys() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]int, len(h.bodies))
	for k, n := range h.bodies {
		m[k] = n
	}
	return m
}

// String sums up the answers, for test logs.
func (h *Hammer) String() string {
	return fmt.Sprintf("%d ok, %d failed, bodies %v", h.OK(), h.Failures(), h.Keys())
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status + ": " + string(b))
	}
	return string(b), nil
}
