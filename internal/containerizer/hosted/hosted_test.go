package hosted

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/executor/host"
)

// fakeHost serves the host protocol on a work directory's socket: /watch
// lists running containers and ends with protocol (0: a host from before
// versions), then sends what is put on ends; /launch is counted.
type fakeHost struct {
	launches atomic.Int32
	ends     chan host.WatchLine
	closed   chan struct{} // a watcher went away
}

func startFakeHost(t *testing.T, workDir string, protocol int, running ...string) *fakeHost {
	t.Helper()
	f := &fakeHost{ends: make(chan host.WatchLine, 4), closed: make(chan struct{}, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /watch", func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		for _, id := range running {
			enc.Encode(host.WatchLine{ContainerID: id, Sandbox: "/nonexistent/" + id})
		}
		enc.Encode(host.WatchLine{Synced: true, Protocol: protocol})
		w.(http.Flusher).Flush()
		for {
			select {
			case line := <-f.ends:
				enc.Encode(line)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				f.closed <- struct{}{}
				return
			}
		}
	})
	mux.HandleFunc("POST /launch", func(w http.ResponseWriter, r *http.Request) {
		f.launches.Add(1)
		json.NewEncoder(w).Encode(host.LaunchResponse{Pid: 1})
	})
	mux.HandleFunc("POST /forget", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	ln, err := net.Listen("unix", host.SocketName(workDir))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fakeHost) watcherLeft(t *testing.T) {
	t.Helper()
	select {
	case <-f.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent kept watching the outdated host")
	}
}

func newContainerizer(t *testing.T) (*Containerizer, string) {
	workDir := t.TempDir()
	return New(Config{WorkDir: workDir, Command: []string{"/nonexistent/agora", "executor"},
		Logger: slog.New(slog.DiscardHandler)}), workDir
}

// TestOutdatedHostGetsNoLaunch: an idle host of another protocol version
// is not given the executor (ErrUnavailable, for the Composite to launch
// it as a process) and is not watched, so that it idles out.
func TestOutdatedHostGetsNoLaunch(t *testing.T) {
	h, workDir := newContainerizer(t)
	f := startFakeHost(t, workDir, 0)
	_, err := h.Launch(context.Background(), containerizer.LaunchSpec{ContainerID: "e1", Sandbox: t.TempDir()})
	if !errors.Is(err, containerizer.ErrUnavailable) {
		t.Fatalf("Launch on an outdated host: %v, want ErrUnavailable", err)
	}
	if n := f.launches.Load(); n != 0 {
		t.Fatalf("the outdated host got %d launches", n)
	}
	f.watcherLeft(t)
}

// TestOutdatedHostKeepsItsExecutorsUntilTheyEnd: an agent adopting the
// executors of an outdated host watches them to their end, launches none
// there meanwhile, and lets the host go after the last.
func TestOutdatedHostKeepsItsExecutorsUntilTheyEnd(t *testing.T) {
	h, workDir := newContainerizer(t)
	f := startFakeHost(t, workDir, 0, "old-1")
	rest, err := h.Adopt(context.Background(), []containerizer.RecoverSpec{{ContainerID: "old-1"}, {ContainerID: "process-1"}})
	if err != nil || len(rest) != 1 || rest[0].ContainerID != "process-1" {
		t.Fatalf("Adopt = %v, %v; want process-1 left for the Mesos containerizer", rest, err)
	}
	if _, err := h.Launch(context.Background(), containerizer.LaunchSpec{ContainerID: "e2", Sandbox: t.TempDir()}); !errors.Is(err, containerizer.ErrUnavailable) {
		t.Fatalf("Launch on an outdated host: %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Wait(ctx, "old-1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the adopted executor ended early: %v", err)
	}
	f.ends <- host.WatchLine{ContainerID: "old-1", Ended: &host.Status{}}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := h.Wait(ctx, "old-1"); err != nil || st.WaitStatus.ExitStatus() != 0 {
		t.Fatalf("Wait(old-1) = %v, %v; want its end as the host reported it", st, err)
	}
	f.watcherLeft(t)
}

// TestCurrentHostGetsTheLaunch: a host of this version is used as ever.
func TestCurrentHostGetsTheLaunch(t *testing.T) {
	h, workDir := newContainerizer(t)
	f := startFakeHost(t, workDir, host.Protocol)
	if _, err := h.Launch(context.Background(), containerizer.LaunchSpec{ContainerID: "e1", Sandbox: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if n := f.launches.Load(); n != 1 {
		t.Fatalf("the host got %d launches, want 1", n)
	}
}
