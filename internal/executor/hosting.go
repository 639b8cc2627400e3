package executor

import (
	"net/http"
	"os"
)

// Hosting is how an executor runs as a goroutine of an executor host (see
// package executor/host) instead of as a process of its own. There the
// executor's container is the set of its tasks' sessions: each task
// process leads a session of its own, which the host kills to destroy the
// container and reads to sample its usage.
type Hosting struct {
	// Abort, once closed, ends Run at once, the way SIGKILL ends an
	// executor process: no more calls, no waiting for acknowledgements.
	// The host closes it after it has killed the tasks' sessions.
	Abort <-chan struct{}
	// Started is called with each task process's pid, once it runs.
	Started func(pid int)
	// Exited is called when a task process has exited, before it is
	// reaped: its pid, the session's ID, cannot be reused until Exited
	// returns, so the host may still kill what is left of the session.
	Exited func(pid int)
	// Output, when set, opens the executor's stdout and stderr for one
	// command task, which owns them (they are closed once it started);
	// Config.Stdout and Stderr are then not used. A host with hundreds of
	// executors waiting for acknowledgements keeps no output files open
	// for them, and every fork of a task closes that many fewer.
	Output func() (stdout, stderr *os.File, err error)
	// Calls, when set, carries the calls to the agent, and Streams the
	// event streams; the host's executors share them. Streams should keep
	// no idle connections: a stream's connection is never reused, and a
	// pool shared by streams would gain nothing.
	Calls, Streams http.RoundTripper
}

func (h *Hosting) started(pid int) {
	if h != nil && h.Started != nil {
		h.Started(pid)
	}
}

func (h *Hosting) exited(pid int) {
	if h != nil && h.Exited != nil {
		h.Exited(pid)
	}
}

func (h *Hosting) abort() <-chan struct{} {
	if h == nil {
		return nil
	}
	return h.Abort
}

func (h *Hosting) output() func() (stdout, stderr *os.File, err error) {
	if h == nil {
		return nil
	}
	return h.Output
}
