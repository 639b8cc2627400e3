package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/hosted"
)

// Orphan executors. A framework that does not checkpoint leaves nothing
// in meta/, so a restarted agent cannot re-adopt its executors; as in
// Mesos they are killed on recovery. The command executor exits by itself
// when it loses its agent, but a custom executor may not. The agent finds
// them by what it gave them: every executor leads its own session and has
// MESOS_DIRECTORY pointing into this work directory's slaves/. Those not
// re-adopted are destroyed through the containerizer (recovered under a
// name of their own, then destroyed), before the agent serves. The same
// scan finds a checkpointed executor whose pid the agent died before
// writing (recovery.go).

// executorProcs maps the pids of the session leaders running in this work
// directory's sandboxes to their sandbox (MESOS_DIRECTORY).
type executorProcs map[int]string

// scanExecutors finds the executors running in this work directory's
// sandboxes: session leaders with MESOS_DIRECTORY inside slaves/. The
// tasks of an executor host lead sessions with that variable too; they
// are its executors' business, and are skipped.
func (a *Agent) scanExecutors() executorProcs {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		a.log.Warn("cannot list processes to find executors", "err", err)
		return nil
	}
	mark := []byte("MESOS_DIRECTORY=" + a.paths.slavesDir() + string(filepath.Separator))
	self := os.Getpid()
	procs := make(executorProcs)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if sid, err := unix.Getsid(pid); err != nil || sid != pid {
			continue
		}
		if rest, ok := environValue(pid, mark); ok && !hostedTask(pid) {
			procs[pid] = string(mark[len("MESOS_DIRECTORY="):]) + rest
		}
	}
	return procs
}

// environValue is what follows prefix in the first variable of pid's
// environment that starts with it.
func environValue(pid int, prefix []byte) (string, bool) {
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return "", false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if value, ok := bytes.CutPrefix(kv, prefix); ok {
			return string(value), true
		}
	}
	return "", false
}

// hostedTask reports whether pid's parent is an executor host, which
// marks itself with hosted.EnvHost.
func hostedTask(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The parent pid is the second field after the command's closing ")".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 2 {
		return false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return false
	}
	_, ok := environValue(ppid, []byte(hosted.EnvHost+"="))
	return ok
}

// bySandbox finds the executor running in a sandbox (0 if none).
func (p executorProcs) bySandbox(dir string) int {
	for pid, d := range p {
		if d == dir {
			return pid
		}
	}
	return 0
}

// destroyOrphans destroys the executors found that were not re-adopted
// (keep holds the pids that were).
func (a *Agent) destroyOrphans(ctx context.Context, procs executorProcs, keep map[int]bool) {
	var specs []containerizer.RecoverSpec
	for pid := range procs {
		if !keep[pid] {
			specs = append(specs, containerizer.RecoverSpec{ContainerID: "orphan-" + strconv.Itoa(pid), Pid: pid})
		}
	}
	if len(specs) == 0 {
		return
	}
	if err := a.cont.Recover(ctx, specs); err != nil {
		a.log.Error("recovering orphan executors to destroy them", "err", err)
		return
	}
	for _, s := range specs {
		dctx, cancel := context.WithTimeout(ctx, shutdownDestroyTimeout)
		if err := a.cont.Destroy(dctx, s.ContainerID); err != nil {
			a.log.Error("destroying an orphan executor", "pid", s.Pid, "sandbox", procs[s.Pid], "err", err)
		} else {
			a.log.Info("destroyed an executor no checkpoint knows", "pid", s.Pid, "sandbox", procs[s.Pid])
		}
		cancel()
	}
}
