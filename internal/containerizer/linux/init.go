package linux

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Descriptors the launcher hands the init, after stdin, stdout and stderr.
const (
	syncFD  = 3 // the configuration arrives here once the init is in its cgroups
	errorFD = 4 // setup errors go back here; closed (empty) on success
)

// forwardedSignals are passed on to the first process by the init.
var forwardedSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH, syscall.SIGCONT}

// Init is the container's init: `agora container-init` runs it as PID 1
// of the container's new pid, mount, UTS and IPC namespaces. It waits for
// its configuration on the sync pipe (the launcher sends it only after
// placing the init in the container's cgroups, so everything started from
// here is held to the limits from its first instruction), prepares the
// mounts and hostname, then either execs the first process (a built-in
// executor, which does an init's work itself) or starts it and stays PID 1:
// it forwards signals to it, reaps every orphan, and exits with its status.
// It returns the exit code.
func Init() int {
	// Neither pipe may leak into the processes the init starts: the
	// launcher reads the error pipe until every writer is gone.
	unix.CloseOnExec(syncFD)
	unix.CloseOnExec(errorFD)
	errs := os.NewFile(errorFD, "errors")
	cfg, err := readInitConfig(os.NewFile(syncFD, "sync"))
	if err == nil {
		err = setupContainer(cfg)
	}
	if err == nil {
		err = resolveProgram(cfg)
	}
	if err != nil {
		return fail(errs, err)
	}
	if cfg.ExecDirect {
		return fail(errs, execFirst(cfg))
	}
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, append([]os.Signal{syscall.SIGCHLD}, forwardedSignals...)...)
	child, err := startFirst(cfg)
	if err != nil {
		return fail(errs, err)
	}
	errs.Close()
	return supervise(child, signals)
}

// resolveProgram finds a program named without a path in the PATH of its
// environment, once the container's root is in place.
func resolveProgram(cfg *initConfig) error {
	if strings.Contains(cfg.Path, "/") {
		return nil
	}
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			os.Setenv("PATH", v)
		}
	}
	p, err := exec.LookPath(cfg.Path)
	if err != nil {
		return fmt.Errorf("finding %s: %w", cfg.Path, err)
	}
	cfg.Path = p
	return nil
}

// fail reports err to the launcher and returns the init's exit code.
func fail(errs *os.File, err error) int {
	fmt.Fprintf(errs, "%v", err)
	fmt.Fprintf(os.Stderr, "agora container-init: %v\n", err)
	return 127
}

// execFirst replaces the init with the first process; it returns only if
// that failed.
func execFirst(cfg *initConfig) error {
	if err := os.Chdir(cfg.Dir); err != nil {
		return fmt.Errorf("entering %s: %w", cfg.Dir, err)
	}
	if err := switchUser(cfg.User); err != nil {
		return err
	}
	err := unix.Exec(cfg.Path, cfg.Argv, cfg.Env)
	return fmt.Errorf("starting %s: %w", cfg.Path, err)
}

// switchUser drops to the configured user, groups first.
func switchUser(u *credential) error {
	if u == nil {
		return nil
	}
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setting groups: %w", err)
	}
	if err := syscall.Setgid(int(u.Gid)); err != nil {
		return fmt.Errorf("setting gid %d: %w", u.Gid, err)
	}
	if err := syscall.Setuid(int(u.Uid)); err != nil {
		return fmt.Errorf("setting uid %d: %w", u.Uid, err)
	}
	return nil
}

func startFirst(cfg *initConfig) (*os.Process, error) {
	cmd := &exec.Cmd{Path: cfg.Path, Args: cfg.Argv, Env: cfg.Env, Dir: cfg.Dir,
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, SysProcAttr: &syscall.SysProcAttr{}}
	if u := cfg.User; u != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.Uid, Gid: u.Gid, Groups: u.Groups}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Path, err)
	}
	return cmd.Process, nil
}

// supervise forwards signals to the first process and reaps every child
// until the first process is reaped; its exit status becomes the init's
// (128+N for a signal).
func supervise(child *os.Process, signals <-chan os.Signal) int {
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			child.Signal(sig)
			continue
		}
		if code, done := reapAll(child.Pid); done {
			return code
		}
	}
	return 1
}

// reapAll reaps every exited child; done is set once first is among them.
func reapAll(first int) (code int, done bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return code, done
		}
		if pid == first {
			done = true
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
}
