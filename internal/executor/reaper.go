package executor

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// When the executor is PID 1 of its container's pid namespace (the linux
// containerizer runs the command executor so), every orphan of the
// container becomes its child, and a zombie nobody reaps holds a pid
// forever. reapOrphans reaps those, but never a process the executor
// waits for itself (tasks and command probes): those are started through
// startTracked, under the same lock the reaper holds while it reaps.

// orphanSweepInterval bounds how long a zombie waits when a SIGCHLD was
// coalesced with another.
const orphanSweepInterval = 5 * time.Second

var tracked = struct {
	sync.Mutex
	pids map[int]bool
}{pids: make(map[int]bool)}

// startTracked starts cmd and records its pid as one the executor reaps
// itself; untrack forgets it once reaped.
func startTracked(cmd *exec.Cmd) error {
	tracked.Lock()
	defer tracked.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	tracked.pids[cmd.Process.Pid] = true
	return nil
}

func untrack(pid int) {
	tracked.Lock()
	delete(tracked.pids, pid)
	tracked.Unlock()
}

// reapOrphans reaps zombie children that are not tracked, on every SIGCHLD
// and every orphanSweepInterval, until ctx ends.
func reapOrphans(ctx context.Context, log *slog.Logger) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	tick := time.NewTicker(orphanSweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		case <-tick.C:
		}
		if n := reapUntracked(); n > 0 {
			log.Debug("reaped orphans", "count", n)
		}
	}
}

func reapUntracked() int {
	tracked.Lock()
	defer tracked.Unlock()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self, n := os.Getpid(), 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || tracked.pids[pid] || !zombieChildOf(pid, self) {
			continue
		}
		var ws syscall.WaitStatus
		if got, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid {
			n++
		}
	}
	return n
}

// zombieChildOf reports whether pid is a zombie whose parent is ppid.
func zombieChildOf(pid, ppid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(s[i+1:])
	return len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(ppid)
}
