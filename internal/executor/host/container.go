package host

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/executor"
)

// sessionKillTimeout bounds killing a task session's processes (one stuck
// in the kernel may take a while to die).
const sessionKillTimeout = 30 * time.Second

// container is one hosted executor and its tasks' sessions.
type container struct {
	id      string
	sandbox string
	abort   chan struct{} // closed by destroy: Run returns at once
	done    chan struct{} // closed when Run has returned; status is set

	mu        sync.Mutex   // serializes session kills with the tasks' starts and reaps
	sessions  map[int]bool // the live task sessions (their leaders are unreaped)
	destroyed bool
	status    Status // set before done is closed
}

func newContainer(id, sandbox string) *container {
	return &container{id: id, sandbox: sandbox, abort: make(chan struct{}), done: make(chan struct{}), sessions: make(map[int]bool)}
}

// hosting is the executor's view of c: what the host shares, and c's hooks.
func (c *container) hosting(shared *executor.Hosting) *executor.Hosting {
	h := *shared
	h.Abort = c.abort
	h.Started = c.started
	h.Exited = c.exited
	return &h
}

// started records a task's session; one that starts while the container
// is being destroyed is killed at once.
func (c *container) started(pid int) {
	c.mu.Lock()
	if c.destroyed {
		c.mu.Unlock()
		syscall.Kill(-pid, syscall.SIGKILL)
		return
	}
	c.sessions[pid] = true
	c.mu.Unlock()
}

// exited kills what the task left in its session: its leader is not
// reaped yet, so the session's ID still names it.
func (c *container) exited(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sessions[pid] {
		delete(c.sessions, pid)
		ctx, cancel := context.WithTimeout(context.Background(), sessionKillTimeout)
		defer cancel()
		containerizer.KillSession(ctx, pid)
	}
}

// destroy kills every task session, then aborts the executor and waits
// for it to return.
func (c *container) destroy(ctx context.Context, log *slog.Logger) Status {
	c.mu.Lock()
	c.destroyed = true
	for sid := range c.sessions {
		if err := containerizer.KillSession(ctx, sid); err != nil {
			log.Error("destroying a task session", "container_id", c.id, "sid", sid, "err", err)
		}
	}
	c.mu.Unlock()
	select {
	case <-c.abort:
	default:
		close(c.abort)
	}
	<-c.done
	return c.status
}

// sessionList lists the live task sessions, whose leaders stay pinned
// (unreaped) until the returned func is called.
func (c *container) sessionList() ([]int, func()) {
	c.mu.Lock()
	sids := make([]int, 0, len(c.sessions))
	for sid := range c.sessions {
		sids = append(sids, sid)
	}
	return sids, c.mu.Unlock
}

// statusOf is how Run's result reads as an exit status: 0, or 1 with the
// error, as `agora executor` exits.
func statusOf(err error, destroyed bool) Status {
	if destroyed {
		return Status{WaitStatus: uint32(syscall.SIGKILL), Destroyed: true, Message: "destroyed"}
	}
	if err != nil {
		return Status{WaitStatus: 1 << 8, Message: err.Error()}
	}
	return Status{}
}

// executorConfig is the hosted executor's configuration, from the
// launch's environment.
func executorConfig(req LaunchRequest) (executor.Config, error) {
	env := make(map[string]string, len(req.Env))
	for _, kv := range req.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	cfg, err := executor.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return cfg, err
	}
	cfg.Environ = req.Env
	if cfg.TaskUser == "" {
		cfg.TaskUser = req.User
	}
	return cfg, nil
}

// logTo is a hosted executor's logger: text lines appended to its
// sandbox's stderr (path; nowhere when ""), as an executor process's own
// stderr would be, opened as the sandbox's user (cred; nil: the host's).
func logTo(path string, cred *syscall.Credential, level slog.Level) *slog.Logger {
	var w io.Writer = io.Discard
	if path != "" {
		w = &appendingFile{path: path, cred: cred}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// appendingFile appends each Write to the file at its path, opened for
// that write only: an executor logs a few lines in its life, and holds no
// file open in between. slog writes a record in one Write. The file is in
// a sandbox the task's processes may change, so it is opened as the
// sandbox's user (package asuser).
type appendingFile struct {
	path string
	cred *syscall.Credential
}

func (a *appendingFile) Write(b []byte) (int, error) {
	var f *os.File
	err := asuser.Do(a.cred, func() (err error) {
		f, err = containerizer.OpenAppend(a.path)
		return err
	})
	if err != nil {
		return 0, err
	}
	n, err := f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
