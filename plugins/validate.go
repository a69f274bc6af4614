package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
)

// DecodeStrict decodes a plugin config into the struct into points to, the
// way the API server decodes objects: keys match json tags case-sensitively,
// and unknown or duplicate keys are refused. Every problem becomes a field
// error under path, for example
//
//	spec.source.config.imag: Unsupported value: "imag": supported values: "env", "image", "ports"
//
// A nil, empty or null config decodes as {}, leaving into as it was (so a
// caller may preset defaults). A type mismatch inside a list or map is
// reported at the field's path without the index or key, as encoding/json
// gives it.
//
// Plugins call it first in Validate and again (ignoring the result, which
// Validate has already checked) in Deploy and Match.
func DecodeStrict(path *field.Path, config []byte, into any) field.ErrorList {
	config = bytes.TrimSpace(config)
	if len(config) == 0 || isJSONNull(config) {
		return nil
	}
	if config[0] != '{' {
		if !json.Valid(config) {
			return field.ErrorList{field.Invalid(path, field.OmitValueType{}, "must be a JSON object, and is not valid JSON")}
		}
		return field.ErrorList{field.TypeInvalid(path, field.OmitValueType{},
			fmt.Sprintf("must be a JSON object, not a JSON %s", jsonKind(config[0])))}
	}

	strictErrs, err := sigsjson.UnmarshalStrict(config, into)
	if err != nil {
		return field.ErrorList{decodeError(path, err)}
	}
	var errs field.ErrorList
	for _, se := range strictErrs {
		errs = append(errs, strictError(path, reflect.TypeOf(into), se))
	}
	return errs
}

// decodeError turns a failed decode into one field error.
func decodeError(path *field.Path, err error) *field.Error {
	var typeErr *json.UnmarshalTypeError
	var invalid *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &typeErr):
		p := path
		if typeErr.Field != "" {
			p = path.Child(typeErr.Field)
		}
		return field.TypeInvalid(p, field.OmitValueType{},
			fmt.Sprintf("must be %s, not a JSON %s", jsonTypeName(typeErr.Type), typeErr.Value))
	case errors.As(err, &invalid):
		// A bug in the plugin, not in the config.
		return field.InternalError(path, fmt.Errorf("decoding config: %w", err))
	}
	if ok, offset := sigsjson.SyntaxErrorOffset(err); ok {
		return field.Invalid(path, field.OmitValueType{},
			fmt.Sprintf("invalid JSON at byte %d: %s", offset, strings.TrimPrefix(err.Error(), "json: ")))
	}
	// A json.Unmarshaler of a field refused its value (for example a
	// malformed duration); its message usually names the value.
	return field.Invalid(path, field.OmitValueType{}, strings.TrimPrefix(err.Error(), "json: "))
}

// strictError turns one unknown or duplicate field reported by
// sigs.k8s.io/json into a field error. The path it reports ("ports[0].name")
// renders the same as a field.Path once appended as one child.
func strictError(path *field.Path, into reflect.Type, err error) *field.Error {
	var fe sigsjson.FieldError
	if !errors.As(err, &fe) {
		return field.Invalid(path, field.OmitValueType{}, err.Error())
	}
	fp := fe.FieldPath()
	parent, key := "", fp
	if i := strings.LastIndexByte(fp, '.'); i >= 0 {
		parent, key = fp[:i], fp[i+1:]
	}
	p := path.Child(fp)
	if strings.HasPrefix(err.Error(), "duplicate field") {
		return field.Duplicate(p, key)
	}
	if known := knownFields(into, parent); len(known) > 0 {
		return field.NotSupported(p, key, known)
	}
	return field.Invalid(p, key, "unknown field")
}

// knownFields lists the JSON keys accepted at parent (a path such as
// "ports[0].env") inside a value of type t, or nil when the path cannot be
// followed (a map key holding a '.', an unusual type).
func knownFields(t reflect.Type, parent string) []string {
	t = derefType(t)
	if parent != "" {
		for seg := range strings.SplitSeq(parent, ".") {
			name, indexes, _ := strings.Cut(seg, "[")
			if t = fieldType(t, name); t == nil {
				return nil
			}
			if indexes != "" {
				for range strings.Count(indexes, "[") + 1 {
					if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
						return nil
					}
					t = derefType(t.Elem())
				}
			}
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := jsonFieldNames(t)
	slices.Sort(names)
	return names
}

// fieldType follows one JSON key from t: a struct field by its json name,
// or a map's element type.
func fieldType(t reflect.Type, key string) reflect.Type {
	switch t.Kind() {
	case reflect.Map:
		return derefType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, inline := jsonName(f)
			switch {
			case inline:
				if ft := fieldType(derefType(f.Type), key); ft != nil {
					return ft
				}
			case name == key:
				return derefType(f.Type)
			}
		}
	}
	return nil
}

// jsonFieldNames lists the JSON keys of struct type t, with embedded
// structs' keys inlined as encoding/json does.
func jsonFieldNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline := jsonName(f)
		switch {
		case inline:
			if ft := derefType(f.Type); ft.Kind() == reflect.Struct {
				names = append(names, jsonFieldNames(ft)...)
			}
		case name != "":
			names = append(names, name)
		}
	}
	return names
}

// jsonName returns the JSON key of struct field f, or inline for an
// embedded struct without a name of its own. An ignored or unexported
// field has neither.
func jsonName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ = strings.Cut(tag, ",")
	if f.Anonymous && name == "" && derefType(f.Type).Kind() == reflect.Struct {
		return "", true
	}
	if !f.IsExported() {
		return "", false
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}

func derefType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonTypeName names, for people writing JSON or YAML, what a Go type
// decodes from.
func jsonTypeName(t reflect.Type) string {
	t = derefType(t)
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	default:
		return "a " + strconv.Quote(t.String())
	}
}
