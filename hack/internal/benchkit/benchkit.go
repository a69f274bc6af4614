// Package benchkit holds what the benchmark programs under hack/ share
// about the server they start: fetching its pprof profiles and excerpting
// its log for error messages.
package benchkit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// FetchProfile GETs the pprof endpoint url (such as
// https://127.0.0.1:6443/debug/pprof/profile?seconds=10) with client
// within timeout and writes the profile to path.
func FetchProfile(ctx context.Context, client *http.Client, url string, timeout time.Duration, path string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fetching the profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching the profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// Excerpt bounds.
const (
	maxLineLength   = 300
	maxExcerptLines = 40
	panicFrameLines = 16
	tailLines       = 5
)

// LogExcerpt returns what of the server log at path explains a failure,
// indented and each line cut to a readable length: its error lines (klog's
// E and F lines, and zap's error and fatal ones), and then a panic's
// message with the frames that raised it, or else the log's last lines.
func LogExcerpt(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	panicAt := len(lines)
	for i, l := range lines {
		if strings.HasPrefix(l, "panic:") {
			panicAt = i
			break
		}
	}
	var picked []string
	for i, l := range lines {
		isErr := strings.HasPrefix(l, "E") || strings.HasPrefix(l, "F") ||
			strings.Contains(l, `"level":"error"`) || strings.Contains(l, `"level":"fatal"`)
		inPanic := i >= panicAt && i < panicAt+panicFrameLines
		inTail := panicAt == len(lines) && i >= len(lines)-tailLines
		if isErr || inPanic || inTail {
			if len(l) > maxLineLength {
				l = l[:maxLineLength] + "..."
			}
			picked = append(picked, "    "+l)
		}
	}
	if len(picked) > maxExcerptLines {
		picked = picked[len(picked)-maxExcerptLines:]
	}
	return strings.Join(picked, "\n")
}
