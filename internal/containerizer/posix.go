package containerizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// recoveredPollInterval is how often Posix checks whether an adopted
// (non-child) process still lives; it cannot wait(2) for it.
const recoveredPollInterval = 500 * time.Millisecond

// Posix runs each container as a plain process in its own session and
// process group, with no resource isolation. The first process is the
// session leader, so the whole container is "every process whose session
// is the leader's pid", and Destroy signals the process group.
type Posix struct {
	log  *slog.Logger
	proc string // procfs mount point

	mu         sync.Mutex
	containers map[string]*posixContainer
}

type posixContainer struct {
	pid    int
	done   chan struct{} // closed once status is set
	status ExitStatus

	destroyed bool // guarded by Posix.mu
}

// NewPosix returns a Posix containerizer that logs to log (slog.Default()
// when nil).
func NewPosix(log *slog.Logger) *Posix {
	if log == nil {
		log = slog.Default()
	}
	return &Posix{log: log, proc: "/proc", containers: make(map[string]*posixContainer)}
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
	p.containers[spec.ContainerID] = c
	p.mu.Unlock()

	err = cmd.Start()
	closeFiles()
	if err != nil {
		p.forget(spec.ContainerID)
		return 0, fmt.Errorf("containerizer: starting %q for container %s: %w", spec.Argv[0], spec.ContainerID, err)
	}
	c.pid = cmd.Process.Pid
	go p.reap(c, cmd)
	return c.pid, nil
}

// command builds the exec.Cmd for spec and opens its output files; the
// returned func closes the parent's copies of them.
func (p *Posix) command(spec LaunchSpec) (*exec.Cmd, func(), error) {
	cred, home, err := credentialFor(spec.User)
	if err != nil {
		return nil, nil, err
	}
	stdout, err := openOutput(spec.Stdout, cred)
	if err != nil {
		return nil, nil, err
	}
	stderr, err := openOutput(spec.Stderr, cred)
	if err != nil {
		stdout.Close()
		return nil, nil, err
	}
	if cred != nil {
		if err := os.Chown(spec.Sandbox, int(cred.Uid), int(cred.Gid)); err != nil {
			stdout.Close()
			stderr.Close()
			return nil, nil, fmt.Errorf("containerizer: giving sandbox to user %q: %w", spec.User, err)
		}
	}
	path := spec.Path
	if path == "" {
		path = spec.Argv[0]
	}
	cmd := exec.Command(path, spec.Argv[1:]...)
	cmd.Args = spec.Argv
	cmd.Env = spec.Env
	if home != "" {
		cmd.Env = withEnv(cmd.Env, "HOME", home)
	}
	cmd.Dir = spec.Dir
	if cmd.Dir == "" {
		cmd.Dir = spec.Sandbox
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	return cmd, func() { stdout.Close(); stderr.Close() }, nil
}

// openOutput opens a stdout/stderr file for appending, owned by cred's user
// when it is set.
func openOutput(path string, cred *syscall.Credential) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containerizer: opening %s: %w", path, err)
	}
	if cred != nil {
		if err := f.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			f.Close()
			return nil, fmt.Errorf("containerizer: chown %s: %w", path, err)
		}
	}
	return f, nil
}

// credentialFor returns the credential and home directory to run as name;
// nil when name is empty or is the agent's own user.
func credentialFor(name string) (*syscall.Credential, string, error) {
	if name == "" {
		return nil, "", nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", fmt.Errorf("containerizer: unknown user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, "", fmt.Errorf("containerizer: user %q has a non-numeric id: %w", name, err)
	}
	if int(uid) == os.Geteuid() {
		return nil, u.HomeDir, nil
	}
	if os.Geteuid() != 0 {
		return nil, "", fmt.Errorf("containerizer: running as user %q needs root", name)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	groups, _ := u.GroupIds()
	for _, g := range groups {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, u.HomeDir, nil
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

// reap waits for the container's first process, records its status, and
// kills whatever it left behind in its process group.
func (p *Posix) reap(c *posixContainer, cmd *exec.Cmd) {
	err := cmd.Wait()
	status := ExitStatus{Known: true}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		status.WaitStatus = ws
	} else if err != nil {
		status = ExitStatus{Message: fmt.Sprintf("wait failed: %v", err)}
	}
	syscall.Kill(-c.pid, syscall.SIGKILL)
	p.finish(c, status)
}

func (p *Posix) finish(c *posixContainer, status ExitStatus) {
	p.mu.Lock()
	status.Destroyed = c.destroyed
	c.status = status
	p.mu.Unlock()
	close(c.done)
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
	select {
	case <-c.done:
		return c.status, nil
	case <-ctx.Done():
		return ExitStatus{}, ctx.Err()
	}
}

// Destroy SIGKILLs the container's process group and waits for its end.
func (p *Posix) Destroy(ctx context.Context, containerID string) error {
	c, err := p.container(containerID)
	if err != nil {
		return err
	}
	p.mu.Lock()
	ended := isClosed(c.done)
	if !ended {
		c.destroyed = true
		syscall.Kill(-c.pid, syscall.SIGKILL)
		syscall.Kill(c.pid, syscall.SIGKILL)
	}
	p.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("containerizer: destroying %s: %w", containerID, ctx.Err())
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Usage sums /proc statistics over the container's processes (those in the
// leader's session).
func (p *Posix) Usage(containerID string) (*mesos.ResourceStatistics, error) {
	c, err := p.container(containerID)
	if err != nil {
		return nil, err
	}
	if isClosed(c.done) {
		return nil, fmt.Errorf("containerizer: container %s has ended", containerID)
	}
	sample, err := sessionUsage(p.proc, c.pid)
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
		if !p.leadsSession(spec.Pid) {
			p.log.Info("recovered container is gone", "container_id", spec.ContainerID, "pid", spec.Pid)
			p.finish(c, ExitStatus{Message: "container ended while the agent was down"})
			continue
		}
		go p.watchAdopted(c)
	}
	return nil
}

// leadsSession reports whether pid is alive (not a zombie) and leads its own
// session, as every container's first process does; a reused pid does not.
func (p *Posix) leadsSession(pid int) bool {
	st, err := readProcStat(p.proc, pid)
	return err == nil && st.state != 'Z' && st.session == pid
}

// watchAdopted polls a process that is not our child until it is gone.
func (p *Posix) watchAdopted(c *posixContainer) {
	t := time.NewTicker(recoveredPollInterval)
	defer t.Stop()
	for range t.C {
		if !p.leadsSession(c.pid) {
			p.finish(c, ExitStatus{Message: "recovered container ended; exit status unknown"})
			return
		}
	}
}
