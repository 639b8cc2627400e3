package apihttp

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestRecoverTurnsPanicInto500(t *testing.T) {
	var logs bytes.Buffer
	h := Recover(slog.New(slog.NewTextHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "handler panic") || !strings.Contains(logs.String(), "path=/x") {
		t.Fatalf("panic not logged: %q", logs.String())
	}
}

func TestDecodeLadder(t *testing.T) {
	big := bytes.Repeat([]byte("a"), MaxBodyBytes+1)
	cases := []struct {
		name   string
		method string
		ctype  string
		body   []byte
		code   int
	}{
		{"method", http.MethodGet, "application/json", []byte(`{}`), 405},
		{"no type", http.MethodPost, "", []byte(`{}`), 400},
		{"charset", http.MethodPost, "application/json; charset=utf-8", []byte(`{}`), 415},
		{"too large", http.MethodPost, "application/json", big, 413},
		{"bad json", http.MethodPost, "application/json", []byte(`{`), 400},
		{"missing required", http.MethodPost, "application/json", []byte(`{}`), 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", bytes.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			_, err := Decode(r, &mesos.FrameworkID{})
			rec := httptest.NewRecorder()
			WriteError(rec, err)
			if rec.Code != tc.code {
				t.Fatalf("got %d (%v), want %d", rec.Code, err, tc.code)
			}
		})
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"value":"x"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/x-protobuf")
	var id mesos.FrameworkID
	req, err := Decode(r, &id)
	if err != nil || id.GetValue() != "x" || req.Accept.ContentType() != "application/x-protobuf" || !req.AcceptOK {
		t.Fatalf("decode: %v %v %+v", err, &id, req)
	}
}

func TestOutboxKeepsOrderAndDrainsAfterClose(t *testing.T) {
	o := NewOutbox[int]()
	for i := range 5 {
		o.Put(i)
	}
	o.Close("bye")
	if o.Put(9) {
		t.Fatal("Put after Close succeeded")
	}
	items, closed := o.Take(nil)
	if !closed || len(items) != 5 || items[0] != 0 || items[4] != 4 {
		t.Fatalf("Take = %v, %v", items, closed)
	}
	if o.Reason() != "bye" {
		t.Fatalf("reason %q", o.Reason())
	}
	select {
	case <-o.Closed():
	default:
		t.Fatal("Closed not closed")
	}
}
