package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/agoraproject/agora/internal/containerizer"
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
// sandboxes: session leaders with MESOS_DIRECTORY inside slaves/.
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
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.HasPrefix(kv, mark) {
				procs[pid] = string(kv[len("MESOS_DIRECTORY="):])
				break
			}
		}
	}
	return procs
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
