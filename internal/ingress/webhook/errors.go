package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// Sentinel errors; every error this package returns wraps exactly one of
// them, with a reason a person can act on.
var (
	// ErrMissingSignature: the provider signs its deliveries (or was set up to
	// send a token) and this delivery carries no signature or token. 401.
	ErrMissingSignature = errors.New("missing webhook signature")

	// ErrBadSignature: the signature or token does not match the secret, or
	// is not in the provider's format. 401.
	ErrBadSignature = errors.New("webhook signature does not match")

	// ErrNoSecret: the provider signs its deliveries but no secret was given
	// to check them with; Verify reports Unverified with it.
	ErrNoSecret = errors.New("no webhook secret to verify the delivery with")

	// ErrMalformed: the body is not valid JSON, or a required field is
	// missing or invalid. 400.
	ErrMalformed = errors.New("malformed webhook payload")

	// ErrUnsupported: the provider, or the event the headers name, is not one
	// this package handles. 400.
	ErrUnsupported = errors.New("unsupported webhook delivery")
)

// malformed returns an ErrMalformed error about what (for example "github
// push event"), with a formatted reason.
func malformed(what, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, what, fmt.Sprintf(format, args...))
}

// decodeJSON decodes body into v, turning a failure into an ErrMalformed
// error that says where the body went wrong.
func decodeJSON(what string, body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed(what, "the body is empty")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return malformed(what, "%s", describeJSONError(err))
	}
	return nil
}

// describeJSONError says what is wrong with a body encoding/json refused,
// in the payload's own terms (JSON field paths and kinds, not Go types).
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("not valid JSON (at byte %d: %v)", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("the body is a JSON %s, want a JSON %s", typ.Value, jsonKind(typ.Type))
		}
		return fmt.Sprintf("%s is a JSON %s, want a JSON %s", typ.Field, typ.Value, jsonKind(typ.Type))
	default:
		return err.Error()
	}
}

// jsonKind names the JSON kind a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	default:
		return "value"
	}
}
