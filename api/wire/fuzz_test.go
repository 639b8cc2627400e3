package wire

import (
	"strings"
	"testing"
)

// FuzzNegotiate: any Accept header gets an answer without a panic, and the
// answer agrees with the rules: an acceptable JSON wins, a header that
// names neither type nor a wildcard accepts nothing.
func FuzzNegotiate(f *testing.F) {
	for _, seed := range []string{"", "application/json", "application/x-protobuf", "*/*", "application/*;q=0",
		"application/json;q=0, application/x-protobuf", "text/html, */*;q=0.1", "application/json;q=abc", ",,;;"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		e, ok := Negotiate(accept)
		if !ok {
			return
		}
		if e != JSON && e != Protobuf {
			t.Fatalf("Negotiate(%q) = %v", accept, e)
		}
		if strings.TrimSpace(accept) != "" && !strings.Contains(accept, "/") {
			t.Fatalf("Negotiate(%q) accepted a header that names no media type", accept)
		}
	})
}

// FuzzParseContentType: only the two exact media types are accepted.
func FuzzParseContentType(f *testing.F) {
	for _, seed := range []string{MediaJSON, MediaProtobuf, "application/json; charset=utf-8", "APPLICATION/JSON", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		e, ok := ParseContentType(ct)
		if ok != (ct == MediaJSON || ct == MediaProtobuf) {
			t.Fatalf("ParseContentType(%q) ok = %v", ct, ok)
		}
		if ok && e.ContentType() != ct {
			t.Fatalf("ParseContentType(%q) = %v", ct, e)
		}
	})
}
