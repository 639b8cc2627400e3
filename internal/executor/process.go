package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/agoraproject/agora/internal/containerizer"
)

// processSpec is how to start a task's command.
type processSpec struct {
	path           string
	args           []string // argv, argv[0] included
	env            []string
	dir            string
	chroot         string              // "" = the executor's root
	cred           *syscall.Credential // nil: run as the executor's user
	stdout, stderr *os.File
	// session makes the process lead a new session (inside an executor
	// host, where the session is the task's container) rather than only a
	// new process group inside the executor's session.
	session bool
	// hosting, when set, is told when the process starts and exits.
	hosting *Hosting
}

// process is a task's command: the leader of its own process group, so that
// signals sent to the group reach every descendant that did not leave it.
type process struct {
	cmd     *exec.Cmd
	pid     int
	hosting *Hosting
}

// processExit is how a task's process ended.
type processExit struct {
	t      *task
	status syscall.WaitStatus
	err    error // waiting failed; status is meaningless
}

func startProcess(spec processSpec) (*process, error) {
	cmd := &exec.Cmd{
		Path:   spec.path,
		Args:   spec.args,
		Env:    spec.env,
		Dir:    spec.dir,
		Stdout: spec.stdout,
		Stderr: spec.stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    !spec.session,
			Setsid:     spec.session,
			Chroot:     spec.chroot,
			Credential: spec.cred,
		},
	}
	if spec.session {
		// A task outlives no host: should the host die, the kernel kills
		// the task's leader (its session is then beyond anyone's reach).
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := startTracked(cmd); err != nil {
		return nil, err
	}
	spec.hosting.started(cmd.Process.Pid)
	return &process{cmd: cmd, pid: cmd.Process.Pid, hosting: spec.hosting}, nil
}

// wait blocks until the process exits. Before reaping it, it SIGKILLs what
// is left of its group (and, in an executor host, the host kills what is
// left of its session): while the leader is an unreaped zombie its pid,
// which is the group's and session's ID, cannot be reused, so the signals
// cannot hit a stranger.
func (p *process) wait() processExit {
	if _, err := containerizer.WaitExited(p.pid); err != nil {
		return processExit{err: fmt.Errorf("waiting for task process %d: %w", p.pid, err)}
	}
	_ = p.signalGroup(syscall.SIGKILL)
	p.hosting.exited(p.pid)
	err := p.cmd.Wait()
	untrack(p.pid)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return processExit{err: fmt.Errorf("reaping task process %d: %w", p.pid, err)}
	}
	return processExit{status: p.cmd.ProcessState.Sys().(syscall.WaitStatus)}
}

// signalGroup sends sig to the task's whole process group. A group that is
// already gone is not an error.
func (p *process) signalGroup(sig syscall.Signal) error {
	err := syscall.Kill(-p.pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending %s to process group %d: %w", signalName(sig), p.pid, err)
	}
	return nil
}

// describeExit is the TaskStatus message for a process's end, in the words
// of the Mesos command executor.
func describeExit(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("Command exited with status %d", ws.ExitStatus())
	case ws.Signaled():
		return "Command terminated with signal " + signalName(ws.Signal())
	}
	return fmt.Sprintf("Command ended with wait status %#x", uint32(ws))
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT", syscall.SIGALRM: "SIGALRM", syscall.SIGBUS: "SIGBUS",
	syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT", syscall.SIGFPE: "SIGFPE",
	syscall.SIGHUP: "SIGHUP", syscall.SIGILL: "SIGILL", syscall.SIGINT: "SIGINT",
	syscall.SIGIO: "SIGIO", syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGPROF: "SIGPROF", syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV",
	syscall.SIGSTOP: "SIGSTOP", syscall.SIGSYS: "SIGSYS", syscall.SIGTERM: "SIGTERM",
	syscall.SIGTRAP: "SIGTRAP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGUSR1: "SIGUSR1",
	syscall.SIGUSR2: "SIGUSR2", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGWINCH: "SIGWINCH",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
}

// signalName is a signal's SIGX name, or "signal N" for one without a name.
func signalName(sig syscall.Signal) string {
	if name, ok := signalNames[sig]; ok {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}
