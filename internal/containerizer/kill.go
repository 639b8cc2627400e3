package containerizer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Pauses between the rounds of killSession.
const (
	killPauseMin = time.Millisecond
	killPauseMax = 50 * time.Millisecond
)

// killSession SIGKILLs every live process of session sid, round after
// round, until a round finds none: a process may fork between the listing
// and its kill, and its child is caught by the next round. It gives up when
// ctx ends. The caller guarantees that sid still names the container's
// session (its leader is not reaped).
func killSession(ctx context.Context, procRoot string, sid int) error {
	pause := killPauseMin
	for {
		members, err := liveSessionMembers(procRoot, sid)
		if err != nil {
			return fmt.Errorf("listing session %d: %w", sid, err)
		}
		if len(members) == 0 {
			return nil
		}
		for _, pid := range members {
			killMember(pid, sid)
		}
		if !sleepCtx(ctx, pause) {
			return fmt.Errorf("%d processes of session %d still alive: %w", len(members), sid, ctx.Err())
		}
		pause = min(2*pause, killPauseMax)
	}
}

// killMember SIGKILLs pid if it is still in session sid. The process handle
// is taken first (a pidfd, where the kernel has them) and the session
// checked after, so the signal cannot reach a process that took over a
// pid freed meanwhile.
func killMember(pid, sid int) {
	proc, err := os.FindProcess(pid)
	if err != nil {
		return
	}
	defer proc.Release()
	if s, err := unix.Getsid(pid); err != nil || s != sid {
		return
	}
	proc.Kill()
}

// siginfo_t, as waitid(2) fills it for a child: 128 bytes, si_signo,
// si_errno and si_code as ints, then a union aligned for pointers whose
// SIGCHLD member starts with si_pid, si_uid, si_status. (MIPS orders the
// first ints differently; Agora does not run there.) golang.org/x/sys/unix
// has the type but no names for these fields.
const (
	siginfoSize = 128
	siCodeAt    = 8
	siStatusAt  = 2*4 + 4*(3+unsafe.Sizeof(uintptr(0))/8) // union + pid + uid
)

// si_code values of a SIGCHLD for a child that ended.
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// WaitExited blocks until child process pid has exited and returns how,
// leaving it unreaped: until it is reaped its pid, which is also its
// process group's and (for a session leader) its session's ID, cannot
// name another process.
func WaitExited(pid int) (ExitStatus, error) {
	var info [siginfoSize]byte
	for {
		err := unix.Waitid(unix.P_PID, pid, (*unix.Siginfo)(unsafe.Pointer(&info)), unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return ExitStatus{}, err
		}
		code := int32(binary.NativeEndian.Uint32(info[siCodeAt:]))
		status := int32(binary.NativeEndian.Uint32(info[siStatusAt:]))
		return childExitStatus(code, status), nil
	}
}

// childExitStatus is the wait(2) status that a SIGCHLD's si_code and
// si_status describe.
func childExitStatus(code, status int32) ExitStatus {
	switch code {
	case cldExited:
		return ExitStatus{Known: true, WaitStatus: syscall.WaitStatus(status&0xff) << 8}
	case cldKilled:
		return ExitStatus{Known: true, WaitStatus: syscall.WaitStatus(status & 0x7f)}
	case cldDumped:
		return ExitStatus{Known: true, WaitStatus: syscall.WaitStatus(status&0x7f | 0x80)}
	}
	return ExitStatus{Message: fmt.Sprintf("ended with si_code %d, status %d", code, status)}
}

// siginfoFits fails to compile if unix.Siginfo is not siginfoSize bytes.
var _ [siginfoSize - unsafe.Sizeof(unix.Siginfo{})]byte
var _ [unsafe.Sizeof(unix.Siginfo{}) - siginfoSize]byte

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// KillSession SIGKILLs every process of session sid until none is left, or
// ctx ends. The caller guarantees that sid still names the session it
// means: its leader is alive or an unreaped child.
func KillSession(ctx context.Context, sid int) error {
	return killSession(ctx, "/proc", sid)
}

// KillSandboxProcesses SIGKILLs, round after round until a round finds
// none (or ctx ends), every live process whose environment has
// MESOS_DIRECTORY set to one of sandboxes: what executors and their tasks
// left behind once nothing else can name them (their host died). A
// process inherits the variable, so descendants are found too.
func KillSandboxProcesses(ctx context.Context, sandboxes []string) error {
	marks := make(map[string]bool, len(sandboxes))
	for _, s := range sandboxes {
		if s != "" {
			marks["MESOS_DIRECTORY="+s] = true
		}
	}
	if len(marks) == 0 {
		return nil
	}
	self := os.Getpid()
	pause := killPauseMin
	for {
		found := 0
		err := forEachPid("/proc", func(pid int) {
			if pid == self {
				return
			}
			// The handle is taken before the check (a pidfd, where the
			// kernel has them), so the signal reaches the process checked.
			proc, err := os.FindProcess(pid)
			if err != nil {
				return
			}
			if hasEnvEntry(pid, marks) {
				found++
				proc.Kill()
			}
			proc.Release()
		})
		if err != nil || found == 0 {
			return err
		}
		if !sleepCtx(ctx, pause) {
			return fmt.Errorf("%d processes of dead executors still alive: %w", found, ctx.Err())
		}
		pause = min(2*pause, killPauseMax)
	}
}

// hasEnvEntry reports whether one of pid's environment entries is in
// entries. Zombies (an empty environment) have none.
func hasEnvEntry(pid int, entries map[string]bool) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if entries[string(kv)] {
			return true
		}
	}
	return false
}
