package docker

import (
	"strings"
	"testing"
)

// A pull's stream reports its failure in-band; the detail wins over the
// summary, and a stream cut mid-message is an error too.
func TestReadJSONMessages(t *testing.T) {
	tests := []struct {
		name, stream, wantErr string
	}{
		{name: "success", stream: `{"status":"Pulling from web"}` + "\n" + `{"status":"Digest: sha256:ab"}` + "\n"},
		{name: "empty", stream: ""},
		{name: "error detail", stream: `{"status":"Pulling"}` + "\n" + `{"errorDetail":{"message":"manifest unknown"},"error":"short"}`, wantErr: "manifest unknown"},
		{name: "error only", stream: `{"error":"unauthorized"}`, wantErr: "unauthorized"},
		{name: "cut short", stream: `{"status":"Pull`, wantErr: "reading progress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ReadJSONMessages(strings.NewReader(tt.stream))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ReadJSONMessages = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadJSONMessages = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
