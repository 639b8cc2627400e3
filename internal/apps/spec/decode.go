package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
)

// Fields is the set of top-level keys a request body gave, for the rules
// that depend on presence (rollback bodies, deprecated fields, defaults
// that only apply when a key is absent).
type Fields map[string]json.RawMessage

// Has reports whether key was given (even as null).
func (f Fields) Has(key string) bool {
	_, ok := f[key]
	return ok
}

// OnlyHas reports whether the given keys are the only ones present.
func (f Fields) OnlyHas(keys ...string) bool {
	n := 0
	for _, k := range keys {
		if f.Has(k) {
			n++
		}
	}
	return n == len(f)
}

// DecodeApp decodes one app from body, starting from Marathon's defaults
// so absent fields keep them. Use Normalize afterwards.
func DecodeApp(body []byte) (marathon.App, Fields, error) {
	fields, err := decodeFields(body)
	if err != nil {
		return marathon.App{}, nil, err
	}
	app := Defaults()
	if err := strictUnmarshal(body, &app); err != nil {
		return marathon.App{}, nil, err
	}
	if err := decodeChecks(&app, fields); err != nil {
		return marathon.App{}, nil, err
	}
	return app, fields, nil
}

// DecodeApps decodes a JSON array of apps (PUT/PATCH /v2/apps).
func DecodeApps(body []byte) ([]json.RawMessage, error) {
	var raws []json.RawMessage
	if err := strictUnmarshal(body, &raws); err != nil {
		return nil, err
	}
	return raws, nil
}

// MergeApp applies a partial update: every top-level key of body replaces
// the same key of existing (reference: partialUpdate). Deprecated keys
// displace their replacements. The Fields returned are the merged app's.
func MergeApp(existing marathon.App, body []byte) (marathon.App, Fields, error) {
	fields, err := decodeFields(body)
	if err != nil {
		return marathon.App{}, nil, err
	}
	base, err := json.Marshal(existing)
	if err != nil {
		return marathon.App{}, nil, err
	}
	merged := map[string]json.RawMessage{}
	if err := json.Unmarshal(base, &merged); err != nil {
		return marathon.App{}, nil, err
	}
	for _, pair := range [][2]string{{"ports", "portDefinitions"}, {"uris", "fetch"}, {"ipAddress", "networks"}} {
		if fields.Has(pair[0]) && !fields.Has(pair[1]) {
			delete(merged, pair[1])
		}
	}
	if fields.Has("cmd") && !fields.Has("args") {
		delete(merged, "args")
	}
	if fields.Has("args") && !fields.Has("cmd") {
		delete(merged, "cmd")
	}
	for k, v := range fields {
		merged[k] = v
	}
	if existing.PortDefinitions != nil && len(existing.PortDefinitions) == 0 && !fields.Has("portDefinitions") && !fields.Has("ports") {
		merged["portDefinitions"] = json.RawMessage("[]")
	}
	delete(merged, "version")
	delete(merged, "versionInfo")
	out, err := json.Marshal(merged)
	if err != nil {
		return marathon.App{}, nil, err
	}
	return DecodeApp(out)
}

func decodeFields(body []byte) (Fields, error) {
	var fields Fields
	if err := strictUnmarshal(body, &fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, &Malformed{Details: []marathon.ErrorDetail{{Path: "/", Errors: []string{"error.expected.jsobject"}}}}
	}
	return fields, nil
}

// strictUnmarshal decodes JSON, turning decoder errors into *Malformed
// with the offending field's path and Play-style error names.
func strictUnmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return malformed(err)
	}
	if dec.More() {
		return &Malformed{Details: []marathon.ErrorDetail{{Path: "/", Errors: []string{"error.expected.eof"}}}}
	}
	return nil
}

func malformed(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		path := "/" + strings.ReplaceAll(typeErr.Field, ".", "/")
		return &Malformed{Details: []marathon.ErrorDetail{{Path: path, Errors: []string{expected(typeErr.Type)}}}}
	}
	return &Malformed{Details: []marathon.ErrorDetail{{Path: "/", Errors: []string{err.Error()}}}}
}

// expected names the JSON type a Go type wants the way Play JSON does.
func expected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "error.expected.jsstring"
	case reflect.Bool:
		return "error.expected.jsboolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "error.expected.jsnumber"
	case reflect.Slice, reflect.Array:
		return "error.expected.jsarray"
	default:
		return "error.expected.jsobject"
	}
}
