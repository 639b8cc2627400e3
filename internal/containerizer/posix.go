package containerizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

const (
	// recoveredPollInterval is how often Posix checks whether an adopted
	// (non-child) process still lives; it cannot wait(2) for it.
	recoveredPollInterval = 500 * time.Millisecond
	// leftoverKillTimeout bounds killing what a container's first process
	// left behind when it exited (a process stuck in the kernel may not
	// die at once).
	leftoverKillTimeout = 30 * time.Second
)

// Posix runs each container as a plain process in its own session, with no
// resource isolation. The first process is the session leader, so the
// container is every process whose session ID is the leader's pid, whatever
// its process group (the command executor puts its task in a group of its
// own). Destroy kills the whole session before it returns. A container
// also ends with its first process: Wait returns at once, and whatever the
// process left in its session is killed within leftoverBatchWindow.
//
// Session IDs are pids, and pids are reused (pid_max may be as low as
// 32768). A session ID stays ours while the leader is unreaped or any
// member lives, so a launched container's leader is reaped only after the
// last kill by its session ID, never before.
type Posix struct {
	log       *slog.Logger
	proc      string // procfs mount point
	leftovers *leftoverSweeper

	mu         sync.Mutex
	containers map[string]*posixContainer
}

type posixContainer struct {
	pid    int
	done   chan struct{} // closed once status is set
	status ExitStatus

	destroyed bool // guarded by Posix.mu

	// adopted is the leader of a recovered container, held by a pidfd
	// where the kernel has them; nil for a container launched here.
	adopted *os.Process

	// sweep serializes killing the session with reaping its leader.
	sweep sync.Mutex
	// settled is set, under sweep, once the leader is reaped (or, adopted,
	// seen gone): from then on its pid may name another session.
	settled bool
}

// NewPosix returns a Posix containerizer that logs to log (slog.Default()
// when nil).
func NewPosix(log *slog.Logger) *Posix {
	if log == nil {
		log = slog.Default()
	}
	return &Posix{
		log:        log,
		proc:       "/proc",
		leftovers:  &leftoverSweeper{proc: "/proc", log: log},
		containers: make(map[string]*posixContainer),
	}
}

// Launch starts spec's process in a new session.
func (p *Posix) Launch(ctx context.Context, spec LaunchSpec) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if spec.ContainerID == "" || len(spec.Argv) == 0 {
		return 0, errors.New("containerizer: launch needs a container ID and an argv")
	}
	cmd, closeFiles, err := p.command(spec)
	if err != nil {
		return 0, err
	}
	c := &posixContainer{done: make(chan struct{})}
	p.mu.Lock()
	if _, dup := p.containers[spec.ContainerID]; dup {
		p.mu.Unlock()
		closeFiles()
		return 0, fmt.Errorf("containerizer: container %s already exists", spec.ContainerID)
	}
	// Until the process exists, Destroy and Usage wait (a pid of 0 would
	// name the kernel's session, or in kill(2) our own process group).
	c.sweep.Lock()
	p.containers[spec.ContainerID] = c
	p.mu.Unlock()

	err = cmd.Start()
	closeFiles()
	if err != nil {
		c.settled = true
		c.sweep.Unlock()
		p.forget(spec.ContainerID)
		p.finish(c, ExitStatus{Message: "launch failed: " + err.Error()})
		return 0, fmt.Errorf("containerizer: starting %q for container %s: %w", spec.Argv[0], spec.ContainerID, err)
	}
	c.pid = cmd.Process.Pid
	c.sweep.Unlock()
	go p.reap(c, cmd)
	return c.pid, nil
}

// command builds the exec.Cmd for spec and opens its output files; the
// returned func closes the parent's copies of them.
func (p *Posix) command(spec LaunchSpec) (*exec.Cmd, func(), error) {
	out, err := OpenOutput(spec)
	if err != nil {
		return nil, nil, err
	}
	path := spec.Path
	if path == "" {
		path = spec.Argv[0]
	}
	cmd := exec.Command(path, spec.Argv[1:]...)
	cmd.Args = spec.Argv
	cmd.Env = spec.Env
	if out.Home != "" {
		cmd.Env = withEnv(cmd.Env, "HOME", out.Home)
	}
	cmd.Dir = spec.Dir
	if cmd.Dir == "" {
		cmd.Dir = spec.Sandbox
	}
	cmd.Stdout, cmd.Stderr = out.Stdout, out.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: out.Credential}
	return cmd, out.Close, nil
}

// withEnv returns env with name set to value, replacing an earlier value.
func withEnv(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// reap ends the container when its first process ends: it learns how
// without reaping the process, ends the container (Wait returns), has the
// leftover sweeper kill whatever the process left in its session, and only
// then reaps it. Until then its pid, the session ID, cannot be reused, so
// neither the sweeper nor Destroy can hit a stranger's session.
func (p *Posix) reap(c *posixContainer, cmd *exec.Cmd) {
	status, err := WaitExited(c.pid)
	if err != nil {
		// Cannot happen to a child of ours. Without the pin, killing by
		// session ID is not safe: just reap.
		p.log.Error("waiting for a container's first process", "pid", c.pid, "err", err)
		status = p.settle(c, cmd)
		p.finish(c, status)
		return
	}
	p.finish(c, status)
	p.leftovers.sweep(c.pid)
	p.settle(c, cmd)
}

// settle reaps the container's first process; its pid is free from then
// on. It returns the wait status, for when waitExited could not tell it.
func (p *Posix) settle(c *posixContainer, cmd *exec.Cmd) ExitStatus {
	c.sweep.Lock()
	defer c.sweep.Unlock()
	err := cmd.Wait()
	c.settled = true
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		return ExitStatus{Known: true, WaitStatus: ws}
	}
	return ExitStatus{Message: fmt.Sprintf("wait failed: %v", err)}
}

func (p *Posix) finish(c *posixContainer, status ExitStatus) {
	p.mu.Lock()
	status.Destroyed = c.destroyed
	c.status = status
	p.mu.Unlock()
	close(c.done)
}

// Forget drops an ended container.
func (p *Posix) Forget(containerID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.containers[containerID]; ok && Ended(c.done) {
		delete(p.containers, containerID)
	}
}

func (p *Posix) forget(containerID string) {
	p.mu.Lock()
	delete(p.containers, containerID)
	p.mu.Unlock()
}

func (p *Posix) container(containerID string) (*posixContainer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.containers[containerID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownContainer, containerID)
	}
	return c, nil
}

// Wait blocks until the container ends or ctx is done.
func (p *Posix) Wait(ctx context.Context, containerID string) (ExitStatus, error) {
	c, err := p.container(containerID)
	if err != nil {
		return ExitStatus{}, err
	}
	return AwaitEnd(ctx, c.done, &c.status)
}

// Destroy SIGKILLs every process of the container's session, until none is
// left, and waits for the container's end.
func (p *Posix) Destroy(ctx context.Context, containerID string) error {
	c, err := p.container(containerID)
	if err != nil {
		return err
	}
	p.mu.Lock()
	if !Ended(c.done) {
		c.destroyed = true
	}
	p.mu.Unlock()
	if err := p.killContainer(ctx, c); err != nil {
		return fmt.Errorf("containerizer: destroying %s: %w", containerID, err)
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("containerizer: destroying %s: %w", containerID, ctx.Err())
	}
}

// killContainer kills the container's session unless its leader is
// settled (then the session is already empty, and its ID may be another's).
func (p *Posix) killContainer(ctx context.Context, c *posixContainer) error {
	c.sweep.Lock()
	defer c.sweep.Unlock()
	if c.settled {
		return nil
	}
	if c.adopted != nil && c.adopted.Signal(syscall.Signal(0)) != nil {
		// Not our child: once it is gone nothing pins its pid, and a
		// session with that ID may be a stranger's. What it left behind
		// (if anything) is beyond reach.
		c.settled = true
		return nil
	}
	return killSession(ctx, p.proc, c.pid)
}

// Usage sums /proc statistics over the container's processes (those in the
// leader's session).
func (p *Posix) Usage(containerID string) (*mesos.ResourceStatistics, error) {
	c, err := p.container(containerID)
	if err != nil {
		return nil, err
	}
	c.sweep.Lock()
	sid := c.pid
	c.sweep.Unlock()
	if Ended(c.done) || sid == 0 {
		return nil, fmt.Errorf("containerizer: container %s has ended", containerID)
	}
	sample, err := sessionUsage(p.proc, sid)
	if err != nil {
		return nil, fmt.Errorf("containerizer: usage of %s: %w", containerID, err)
	}
	return sample.statistics(time.Now()), nil
}

// Recover adopts the listed containers whose process still leads its
// session; the others are recorded as ended with an unknown status.
func (p *Posix) Recover(ctx context.Context, known []RecoverSpec) error {
	for _, spec := range known {
		c := &posixContainer{pid: spec.Pid, done: make(chan struct{})}
		p.mu.Lock()
		if _, dup := p.containers[spec.ContainerID]; dup {
			p.mu.Unlock()
			return fmt.Errorf("containerizer: recovering %s: already known", spec.ContainerID)
		}
		p.containers[spec.ContainerID] = c
		p.mu.Unlock()
		c.sweep.Lock()
		c.adopted = p.adopt(spec.Pid)
		c.settled = c.adopted == nil
		c.sweep.Unlock()
		if c.settled {
			p.log.Info("recovered container is gone", "container_id", spec.ContainerID, "pid", spec.Pid)
			p.finish(c, ExitStatus{Message: "container ended while the agent was down"})
			continue
		}
		go p.watchAdopted(c)
	}
	return nil
}

// adopt returns a handle on pid if it is a live session leader, as every
// container's first process is (a reused pid is not). The handle is taken
// before the check, so it names the process checked.
func (p *Posix) adopt(pid int) *os.Process {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if !p.leadsSession(pid) {
		proc.Release()
		return nil
	}
	return proc
}

// leadsSession reports whether pid is alive (not a zombie) and leads its own
// session.
func (p *Posix) leadsSession(pid int) bool {
	st, err := readProcStat(p.proc, pid)
	return err == nil && st.state != 'Z' && st.session == pid
}

// watchAdopted polls a process that is not our child until it is gone.
func (p *Posix) watchAdopted(c *posixContainer) {
	t := time.NewTicker(recoveredPollInterval)
	defer t.Stop()
	for range t.C {
		if c.adopted.Signal(syscall.Signal(0)) == nil && p.leadsSession(c.pid) {
			continue
		}
		c.sweep.Lock()
		c.settled = true
		c.sweep.Unlock()
		c.adopted.Release()
		p.finish(c, ExitStatus{Message: "recovered container ended; exit status unknown"})
		return
	}
}
