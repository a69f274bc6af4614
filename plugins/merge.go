package plugins

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MergeConfig merges a TriggerBinding's config (override) over its Trigger's
// config (base), at the top level only, as JSON merge patch (RFC 7386) does
// for the first level of keys:
//
//   - a key of override replaces the same key of base, whole: nested objects
//     are replaced, not merged, so an override states a field completely;
//   - a key whose value in override is null removes the key from the result,
//     so a binding can drop a field the trigger sets (and fall back to the
//     plugin's default);
//   - keys of base that override does not name are kept as they are, nulls
//     included.
//
// Nil, empty or whitespace-only input, and the JSON literal null, count as
// {}; any other input that is not a JSON object is an error naming the side.
// The result is a new compact JSON object with keys sorted, so equal
// configs give equal bytes; it shares no memory with base or override.
func MergeConfig(base, override []byte) ([]byte, error) {
	merged, err := decodeObject("base", base)
	if err != nil {
		return nil, err
	}
	over, err := decodeObject("override", override)
	if err != nil {
		return nil, err
	}
	for k, v := range over {
		if isJSONNull(v) {
			delete(merged, k)
			continue
		}
		merged[k] = v
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Configs hold URLs and shell snippets; keep <, > and & readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(merged); err != nil {
		return nil, fmt.Errorf("encoding merged config: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeObject decodes a JSON object into its top-level members. The
// json.RawMessage values are copies, never slices of data.
func decodeObject(side string, data []byte) (map[string]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || isJSONNull(data) {
		return map[string]json.RawMessage{}, nil
	}
	if data[0] != '{' {
		if !json.Valid(data) {
			return nil, fmt.Errorf("%s config is not valid JSON", side)
		}
		return nil, fmt.Errorf("%s config is a JSON %s, not an object", side, jsonKind(data[0]))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s config is not valid JSON: %w", side, err)
	}
	return m, nil
}

func isJSONNull(v []byte) bool {
	return string(bytes.TrimSpace(v)) == "null"
}

// jsonKind names the JSON type that starts with c, for messages.
func jsonKind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	default:
		return "number"
	}
}
