package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func TestGracePeriodIgnoresEarlyFailures(t *testing.T) {
	var s State
	p := Policy{GracePeriod: 10 * time.Second, MaxConsecutiveFailures: 3}
	if out := s.Record(p, false, "refused", sec(5), t0); !out.Ignored || s.HasResult() {
		t.Errorf("failure inside grace: %+v, state %+v", out, s)
	}
	if out := s.Record(p, false, "refused", sec(11), t0); out.Ignored || s.ConsecutiveFailures != 1 {
		t.Errorf("failure after grace: %+v, state %+v", out, s)
	}
}

func TestFirstSuccessEndsTheGracePeriod(t *testing.T) {
	var s State
	p := Policy{GracePeriod: time.Hour, MaxConsecutiveFailures: 3}
	if out := s.Record(p, true, "", sec(1), t0); !out.Flipped || !s.Alive() {
		t.Errorf("first success: %+v alive=%v", out, s.Alive())
	}
	if out := s.Record(p, false, "500", sec(2), t0); out.Ignored || !out.Flipped || s.Alive() {
		t.Errorf("failure after first success inside grace: %+v alive=%v", out, s.Alive())
	}
}

// TestKillOnTheFailureAfterMax: with max 3, the 4th consecutive failure
// kills (the count before it is 3).
func TestKillOnTheFailureAfterMax(t *testing.T) {
	var s State
	p := Policy{MaxConsecutiveFailures: 3}
	for i := 1; i <= 4; i++ {
		out := s.Record(p, false, "down", sec(i), t0)
		if out.Kill != (i == 4) {
			t.Errorf("failure %d: kill=%v", i, out.Kill)
		}
	}
	if out := s.Record(p, true, "", sec(5), t0); out.Kill || s.ConsecutiveFailures != 0 {
		t.Errorf("success did not reset: %+v", s)
	}
	never := Policy{MaxConsecutiveFailures: 0}
	var n State
	for i := 1; i <= 10; i++ {
		if n.Record(never, false, "down", sec(i), t0).Kill {
			t.Fatal("maxConsecutiveFailures 0 killed")
		}
	}
}

func TestProbes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusOK)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	p := NewProber()
	ctx := context.Background()
	for path, healthy := range map[string]bool{"/ok": true, "/redirect": true, "/bad": false} {
		err := p.Probe(ctx, Target{Protocol: "HTTP", Addr: addr, Path: path, Timeout: 2 * time.Second})
		if (err == nil) != healthy {
			t.Errorf("HTTP %s: %v, want healthy=%v", path, err, healthy)
		}
	}
	if err := p.Probe(ctx, Target{Protocol: "TCP", Addr: addr, Timeout: 2 * time.Second}); err != nil {
		t.Errorf("TCP to a listener: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if err := p.Probe(ctx, Target{Protocol: "TCP", Addr: closed, Timeout: 2 * time.Second}); err == nil {
		t.Error("TCP to a closed port is healthy")
	}
}
