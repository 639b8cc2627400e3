package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/agent"
	"github.com/agoraproject/agora/internal/apps"
	"github.com/agoraproject/agora/internal/apps/store"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/registry"
)

// Binaries built for this test run.
var agoraBin, testappBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agora-apps-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	agoraBin, testappBin = filepath.Join(dir, "agora"), filepath.Join(dir, "testapp")
	for out, pkg := range map[string]string{agoraBin: "github.com/agoraproject/agora/cmd/agora", testappBin: "github.com/agoraproject/agora/internal/apps/e2e/testdata/testapp"} {
		build := exec.Command("go", "build", "-o", out, pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// quietLogger logs warnings and errors only, to the test log on failure.
func quietLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu sync.Mutex
	t  testing.TB
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// cluster is an in-process master and agents.
type cluster struct {
	master string
	agents []*agent.Agent
}

// startCluster starts a master on 127.0.0.1 and one real agent (posix
// containerizer, `agora executor`) per IP. All is stopped at cleanup.
func startCluster(t testing.TB, agentIPs ...string) *cluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reg, err := registry.Open(registry.Config{BindAddr: "127.0.0.1:0", DataDir: t.TempDir(), Bootstrap: true, Logger: quietLogger(t),
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	m, err := master.New(master.Config{ListenAddr: "127.0.0.1:0", WorkDir: t.TempDir(), AllocationInterval: 50 * time.Millisecond,
		Registry: reg, Logger: quietLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	c := &cluster{master: m.Addr()}
	for _, ip := range agentIPs {
		workDir := t.TempDir()
		a, err := agent.New(agent.Config{WorkDir: workDir, Masters: []string{m.Addr()}, ListenAddr: ip + ":0", Hostname: ip,
			Resources: "cpus:8;mem:8192;disk:4096;ports:[31000-31200]", ExecutorCommand: []string{agoraBin, "executor"},
			RegistrationBackoff: 10 * time.Millisecond, Logger: quietLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { a.Run(ctx) })
		<-a.Ready()
		c.agents = append(c.agents, a)
		t.Cleanup(func() { killLeftovers(workDir) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return c
}

// leftovers kills every process an agent started under workDir.
func killLeftovers(workDir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := strings.CutPrefix(string(kv), "MESOS_DIRECTORY="); ok && strings.HasPrefix(v, workDir) {
				syscall.Kill(-pid, syscall.SIGKILL)
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

// appsServer is a running apps framework and its API.
type appsServer struct {
	t      testing.TB
	fw     *apps.Framework
	url    string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startApps runs a Framework on st against the cluster, serving its API
// on an httptest server. tweak may change the config.
func startApps(t testing.TB, c *cluster, st apps.Store, tweak func(*apps.Config)) *appsServer {
	t.Helper()
	cfg := apps.Config{Masters: []string{c.master}, Store: st, Hostname: "127.0.0.1", Logger: quietLogger(t),
		MinReviveInterval: 100 * time.Millisecond, ReviveInterval: 2 * time.Second, UnusedOfferRefuse: 500 * time.Millisecond,
		TickInterval: 50 * time.Millisecond, MaxInstancesPerOffer: 20}
	if tweak != nil {
		tweak(&cfg)
	}
	fw, err := apps.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fw.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	s := &appsServer{t: t, fw: fw, url: srv.URL, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- fw.Run(ctx) }()
	t.Cleanup(func() { s.stop(); srv.Close() })
	// Run starts in its goroutine: until it has, the API answers 503.
	waitFor(t, "the apps framework to lead", 30*time.Second, func() bool {
		return s.call("GET", "/v2/leader", nil, nil) == http.StatusOK
	})
	return s
}

// stop stops the framework and waits for Run to return.
func (s *appsServer) stop() { s.once.Do(s.stopOnce) }

func (s *appsServer) stopOnce() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		s.t.Errorf("Framework.Run did not return within 10 s of cancel; goroutines:\n%s", b.String())
	}
}

func memStore() apps.Store { return store.NewMem() }

// call makes an API request and decodes a JSON answer into out (if not
// nil); it returns the status code.
func (s *appsServer) call(method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: decoding %q: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// app fetches an app with its tasks.
func (s *appsServer) app(id string) marathon.AppInfo {
	s.t.Helper()
	var r marathon.AppResponse
	if code := s.call("GET", "/v2/apps"+id, nil, &r); code != http.StatusOK {
		s.t.Fatalf("GET app %s: %d", id, code)
	}
	return r.App
}

// waitFor polls cond every 50 ms until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holdsFor checks cond every 50 ms for d and fails the first time it
// does not hold.
func holdsFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
	}
}

// deployed waits until no deployment is running.
func (s *appsServer) deployed(timeout time.Duration) {
	s.t.Helper()
	waitFor(s.t, "deployments to finish", timeout, func() bool {
		var ds []marathon.Deployment
		s.call("GET", "/v2/deployments", nil, &ds)
		return len(ds) == 0
	})
}

// eventLog collects /v2/events frames.
type eventLog struct {
	mu     sync.Mutex
	events []streamedEvent
}

type streamedEvent struct {
	Type string
	Data map[string]any
}

// subscribe opens /v2/events and collects frames until cleanup.
func (s *appsServer) subscribe() *eventLog {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v2/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	log := &eventLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		var typ string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				typ = strings.TrimSpace(strings.TrimPrefix(line, "event: "))
			case strings.HasPrefix(line, "data: "):
				var data map[string]any
				json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &data)
				log.mu.Lock()
				log.events = append(log.events, streamedEvent{typ, data})
				log.mu.Unlock()
			}
		}
	}()
	s.t.Cleanup(func() { cancel(); <-done })
	return log
}

// of returns the collected events of a type.
func (l *eventLog) of(typ string) []streamedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []streamedEvent
	for _, e := range l.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
