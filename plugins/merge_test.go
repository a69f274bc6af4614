package plugins

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMergeConfig(t *testing.T) {
	tests := []struct {
		name     string
		base     string
		override string
		want     string
		wantErr  string
	}{
		{name: "both nil", want: `{}`},
		{name: "both empty objects", base: `{}`, override: `{}`, want: `{}`},
		{name: "whitespace counts as empty", base: " \n\t", override: "  ", want: `{}`},
		{name: "null counts as empty", base: `null`, override: ` null `, want: `{}`},
		{name: "empty override keeps base", base: `{"a":1,"b":"x"}`, want: `{"a":1,"b":"x"}`},
		{name: "empty base takes override", override: `{"a":1}`, want: `{"a":1}`},
		{
			name:     "override replaces keys and keeps the others",
			base:     `{"repository":"r","tag":"latest","insecure":false}`,
			override: `{"tag":"stable"}`,
			want:     `{"insecure":false,"repository":"r","tag":"stable"}`,
		},
		{
			name:     "nested objects are replaced, not merged",
			base:     `{"policy":{"semver":">=1","prefix":"v"}}`,
			override: `{"policy":{"exact":"staging"}}`,
			want:     `{"policy":{"exact":"staging"}}`,
		},
		{
			name:     "lists are replaced",
			base:     `{"paths":["a","b"]}`,
			override: `{"paths":["c"]}`,
			want:     `{"paths":["c"]}`,
		},
		{
			name:     "null in override removes the key",
			base:     `{"a":1,"b":2}`,
			override: `{"b":null}`,
			want:     `{"a":1}`,
		},
		{
			name:     "null for a key base lacks is dropped",
			base:     `{"a":1}`,
			override: `{"c":null}`,
			want:     `{"a":1}`,
		},
		{
			name: "null in base is kept",
			base: `{"a":null}`,
			want: `{"a":null}`,
		},
		{
			name:     "override may set a key to an empty value",
			base:     `{"a":"x","b":[1]}`,
			override: `{"a":"","b":[]}`,
			want:     `{"a":"","b":[]}`,
		},
		{
			name:     "output is compact with sorted keys",
			base:     "{\n  \"z\": [1, 2],\n  \"a\": {\"y\": 1, \"x\": 2}\n}",
			override: `{"m": true}`,
			want:     `{"a":{"y":1,"x":2},"m":true,"z":[1,2]}`,
		},
		{
			name: "numbers keep their text",
			base: `{"big":12345678901234567890123,"f":1.50}`,
			want: `{"big":12345678901234567890123,"f":1.50}`,
		},
		{
			name: "html characters are not escaped",
			base: `{"cmd":"a && b <c>"}`,
			want: `{"cmd":"a && b <c>"}`,
		},
		{
			name:     "duplicate keys: the last wins",
			base:     `{"a":1,"a":2}`,
			override: `{"b":1,"b":null}`,
			want:     `{"a":2}`,
		},
		{name: "base is an array", base: `[1]`, wantErr: "base config is a JSON array, not an object"},
		{name: "base is a string", base: `"x"`, wantErr: "base config is a JSON string, not an object"},
		{name: "override is a number", base: `{}`, override: `3`, wantErr: "override config is a JSON number, not an object"},
		{name: "override is a boolean", override: `true`, wantErr: "override config is a JSON boolean, not an object"},
		{name: "base is not JSON", base: `{"a":`, wantErr: "base config is not valid JSON"},
		{name: "override is not JSON", override: `nope`, wantErr: "override config is not valid JSON"},
		{name: "trailing garbage", base: `{"a":1} x`, wantErr: "base config is not valid JSON"},
		{name: "two objects", override: `{}{}`, wantErr: "override config is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MergeConfig(bytesOrNil(tt.base), bytesOrNil(tt.override))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MergeConfig() error = %v, want it to contain %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("MergeConfig() = %s with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("MergeConfig() error: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("MergeConfig() = %s, want %s", got, tt.want)
			}
		})
	}
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func TestMergeConfigNeverAliases(t *testing.T) {
	base := []byte(`{"a":"aaaa","nested":{"n":"nnnn"}}`)
	override := []byte(`{"b":"bbbb"}`)
	baseCopy, overrideCopy := bytes.Clone(base), bytes.Clone(override)

	got, err := MergeConfig(base, override)
	if err != nil {
		t.Fatal(err)
	}
	want := string(got)

	// Scribbling over the result leaves the inputs alone…
	for i := range got {
		got[i] = 'Z'
	}
	if !bytes.Equal(base, baseCopy) || !bytes.Equal(override, overrideCopy) {
		t.Fatalf("mutating the result changed an input: base %s, override %s", base, override)
	}
	// …and scribbling over the inputs leaves a fresh result alone.
	again, err := MergeConfig(base, override)
	if err != nil {
		t.Fatal(err)
	}
	for i := range base {
		base[i] = 'Q'
	}
	for i := range override {
		override[i] = 'Q'
	}
	if string(again) != want {
		t.Errorf("mutating the inputs changed the result: %s, want %s", again, want)
	}

	// An empty override must still give a copy of base, not base itself.
	base = bytes.Clone(baseCopy)
	only, err := MergeConfig(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	only[0] = '['
	if base[0] != '{' {
		t.Error("MergeConfig(base, nil) returned base's memory")
	}
}

// FuzzMergeConfig checks the properties that hold for any input: no panic,
// a JSON object out whenever there is no error, override's keys win, base is
// unchanged by an empty override, and inputs are never modified.
func FuzzMergeConfig(f *testing.F) {
	seeds := [][2]string{
		{``, ``},
		{`{}`, `{}`},
		{`null`, `{"a":null}`},
		{`{"a":1,"b":{"c":[1,2,{"d":null}]}}`, `{"b":null,"e":"x"}`},
		{`{"a":"<&>"}`, `{"a":"\u2028"}`},
		{`{"a":1e400}`, `{"b":-0.0}`},
		{`{"a":1,"a":2}`, `{"a":null,"a":3}`},
		{`[1,2]`, `{}`},
		{`{}`, `"str"`},
		{`{"a":`, `{}`},
		{"{\"\xff\":\"\xfe\"}", `{}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, base, override []byte) {
		baseCopy, overrideCopy := bytes.Clone(base), bytes.Clone(override)
		got, err := MergeConfig(base, override)
		if !bytes.Equal(base, baseCopy) || !bytes.Equal(override, overrideCopy) {
			t.Fatal("MergeConfig modified its input")
		}
		if err != nil {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("MergeConfig(%q, %q) = %q: not valid JSON", base, override, got)
		}
		merged := decodeForTest(t, got)

		// Every non-null key of override is in the result, with its value.
		over := decodeForTest(t, override)
		for k, v := range over {
			if v == nil {
				if _, ok := merged[k]; ok {
					t.Fatalf("key %q is null in override but present in %s", k, got)
				}
				continue
			}
			if !reflect.DeepEqual(merged[k], v) {
				t.Fatalf("key %q = %v in %s, want override's %v", k, merged[k], got, v)
			}
		}

		// Merging an empty override is the identity, semantically.
		for _, empty := range [][]byte{nil, []byte(`{}`), []byte(` null `)} {
			same, err := MergeConfig(base, empty)
			if err != nil {
				t.Fatalf("MergeConfig(%q, %q) error: %v", base, empty, err)
			}
			if want := decodeForTest(t, base); !reflect.DeepEqual(decodeForTest(t, same), want) {
				t.Fatalf("MergeConfig(%q, %q) = %s, want %v", base, empty, same, want)
			}
		}

		// Merging is idempotent, and the result is already normalized.
		again, err := MergeConfig(got, override)
		if err != nil {
			t.Fatalf("merging the result again: %v", err)
		}
		if !bytes.Equal(again, got) {
			t.Fatalf("merging twice = %s, once = %s", again, got)
		}
	})
}

// decodeForTest decodes a config the way MergeConfig reads it (empty and
// null are {}), keeping numbers as written.
func decodeForTest(t *testing.T, data []byte) map[string]any {
	t.Helper()
	data = bytes.TrimSpace(data)
	m := map[string]any{}
	if len(data) == 0 || string(data) == "null" {
		return m
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding %q: %v", data, err)
	}
	return m
}
