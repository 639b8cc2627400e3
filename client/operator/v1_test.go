package operator_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	"github.com/agoraproject/agora/client/operator"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/registry"
)

// startMaster runs a single master on 127.0.0.1 until the test ends.
func startMaster(t *testing.T) string {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := registry.Open(registry.Config{BindAddr: "127.0.0.1:0", DataDir: t.TempDir(), Bootstrap: true, Logger: quiet,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	m, err := master.New(master.Config{ListenAddr: "127.0.0.1:0", Registry: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-m.Leading():
	case <-time.After(10 * time.Second):
		t.Fatal("the master did not lead")
	}
	return m.Addr()
}

// TestCallsAndEvents: calls go to the first master that answers, refusals
// are APIErrors with the master's status, and the event stream starts with
// SUBSCRIBED.
func TestCallsAndEvents(t *testing.T) {
	addr := startMaster(t)
	c := operator.New("127.0.0.1:1", addr) // the first one refuses connections
	ctx := context.Background()
	resp, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_GET_HEALTH.Enum()})
	if err != nil || !resp.GetGetHealth().GetHealthy() {
		t.Fatalf("GET_HEALTH: %v %v", resp, err)
	}
	stream, err := c.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if ev, err := stream.Next(); err != nil || ev.GetType() != masterpb.Event_SUBSCRIBED {
		t.Fatalf("first event %v %v", ev, err)
	}
	if err := c.UpdateWeights(ctx, map[string]float64{"eng": 3}); err != nil {
		t.Fatal(err)
	}
	weights, err := c.GetWeights(ctx)
	if err != nil || len(weights) != 1 || weights[0].GetWeight() != 3 {
		t.Fatalf("GET_WEIGHTS: %v %v", weights, err)
	}
	var apiErr *operator.APIError
	if err := c.Teardown(ctx, "no-such-framework"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("TEARDOWN of an unknown framework: %v", err)
	}
	if err := c.MarkAgentGone(ctx, "no-such-agent"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("MARK_AGENT_GONE of an unknown agent: %v", err)
	}
	if _, err := operator.New().GetState(ctx); err == nil {
		t.Fatal("a client without masters answered")
	}
}

// TestReadFile reads an agent's /files/read: from an offset, the size
// only, and errors.
func TestReadFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("path") != "/frameworks/f/executors/e/runs/latest/stdout":
			http.Error(w, "No such file", http.StatusNotFound)
		case q.Get("offset") == "-1":
			w.Write([]byte(`{"data":"","offset":11}`))
		default:
			w.Write([]byte(`{"data":"world","offset":6}`))
		}
	}))
	defer srv.Close()
	c := operator.New()
	agent := srv.Listener.Addr().String()
	path := operator.SandboxPath("f", "e", "stdout")
	data, next, err := c.ReadFile(context.Background(), agent, path, 6, 0)
	if err != nil || string(data) != "world" || next != 11 {
		t.Fatalf("read at 6: %q %d %v", data, next, err)
	}
	if _, size, err := c.ReadFile(context.Background(), agent, path, -1, 0); err != nil || size != 11 {
		t.Fatalf("size: %d %v", size, err)
	}
	var apiErr *operator.APIError
	if _, _, err := c.ReadFile(context.Background(), agent, "/nope", 0, 0); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("missing file: %v", err)
	}
	if got := operator.AgentAddress("slave(1)@10.0.0.1:5051"); got != "10.0.0.1:5051" {
		t.Fatalf("AgentAddress: %s", got)
	}
}
