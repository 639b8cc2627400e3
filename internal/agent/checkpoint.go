package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
)

// Checkpoint files hold binary protobuf messages (slave.info: AgentInfo,
// framework.info: FrameworkInfo, executor.info: ExecutorInfo, task.info:
// TaskInfo), the decimal pid (forked.pid), or the boot ID. Files that may
// be rewritten are replaced whole (temporary file, rename) so a reader sees
// the old or the new content; files of a new run are written once, in
// place. Recovery (a later step) reads them back; see paths.go for the
// layout.
//
// As in Mesos, only frameworks with checkpoint=true are checkpointed: their
// executors are meant to survive an agent restart. For the others the agent
// writes no meta/ files and acknowledges status updates without a disk
// write.
//
// Cost: creating an inode is the expensive part, so a run creates the
// fewest the layout allows (a sandbox: three directories, runs/latest,
// stdout, stderr), with no extra stat or rename, and writes its checkpoint
// after the launch, while the executor starts. On the reference VM's ext4,
// which has no journal, the inode allocator skips every recently deleted
// inode of the block group (ext4's recently_deleted), so after a burst of
// deletions (a test's cleanup, sandbox GC) each creation costs 0.15-0.6 ms
// of kernel CPU, against ~5-15 µs on tmpfs.

// bootIDPath is where Linux exposes the current boot's ID.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

// readBootID returns this boot's ID ("" where the kernel has none).
func readBootID() string {
	data, err := os.ReadFile(bootIDPath)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func (a *Agent) checkpointBootID() error {
	if err := writeFileAtomic(a.paths.bootIDFile(), []byte(readBootID())); err != nil {
		return fmt.Errorf("agent: checkpointing boot id: %w", err)
	}
	return nil
}

// checkpointAgentInfo writes slave.info and points meta/slaves/latest at it.
func (a *Agent) checkpointAgentInfo(info *mesos.AgentInfo) error {
	id := info.GetId().GetValue()
	if err := writeMessage(a.paths.agentInfoFile(id), info); err != nil {
		return err
	}
	return replaceSymlink(id, a.paths.metaLatestAgent())
}

// checkpointFramework writes framework.info of a checkpointing framework.
// Callers hold a.mu.
func (a *Agent) checkpointFramework(fw *framework) error {
	if !fw.info.GetCheckpoint() {
		return nil
	}
	return writeMessage(a.paths.frameworkInfoFile(a.agentID, fw.id), fw.info)
}

// prepareSandbox creates the sandbox, points runs/latest at it and makes
// it visible to /files. It runs on the executor's goroutine, before launch.
func (a *Agent) prepareSandbox(ex *executor) error {
	if err := makeRunDir(ex.directory); err != nil {
		return fmt.Errorf("creating sandbox: %w", err)
	}
	// The sandbox is its user's from the start, as in Mesos: the fetcher
	// writes into it as that user. A user unknown here is left to the
	// fetcher and the containerizer to refuse, with their reasons.
	if cred, err := asuser.Lookup(ex.user); err == nil && cred != nil {
		if err := os.Chown(ex.directory, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("giving the sandbox to user %q: %w", ex.user, err)
		}
	}
	latest := filepath.Join(filepath.Dir(ex.directory), "latest")
	if err := linkLatest(ex.containerID, latest); err != nil {
		return fmt.Errorf("linking latest run: %w", err)
	}
	a.files.attachRun(ex.fw.id, ex.id, ex.directory, latest)
	// The executor's own volumes (a command executor's are its task's)
	// are in place before it starts.
	a.exposeVolumes(ex, ex.info.GetResources())
	return nil
}

// makeRunDir creates a run directory, executors/<id>/runs/<container_id>,
// with one mkdir(2) per level below executors/: os.MkdirAll would first
// stat each level, and for a new executor every one of them is new. The
// framework's first executor falls back to MkdirAll.
func makeRunDir(dir string) error {
	runs := filepath.Dir(dir)
	for _, d := range []string{filepath.Dir(runs), runs, dir} {
		err := os.Mkdir(d, 0o755)
		switch {
		case err == nil || errors.Is(err, fs.ErrExist):
		case errors.Is(err, fs.ErrNotExist):
			return os.MkdirAll(dir, 0o755)
		default:
			return err
		}
	}
	return nil
}

// linkLatest points runs/latest at a new run: one symlink(2) for a new
// executor, an atomic replacement when the executor ID ran here before.
func linkLatest(target, link string) error {
	err := os.Symlink(target, link)
	if errors.Is(err, fs.ErrExist) {
		return replaceSymlink(target, link)
	}
	return err
}

// checkpointRun writes a new run's checkpoint: executor.info, the first
// task's task.info and an empty task.updates, and forked.pid. It runs on
// the executor's goroutine right after the launch. An agent that dies
// before it finishes leaves an executor its successor does not know; that
// executor fails to re-subscribe and exits, and its task is reported lost.
func (a *Agent) checkpointRun(ex *executor, executorInfoFile string, first *mesos.TaskInfo, pid int) error {
	if ex.metaRun == "" {
		return nil
	}
	tid := first.GetTaskId().GetValue()
	if err := writeNewMessage(executorInfoFile, ex.info); err != nil {
		return err
	}
	if err := writeNewMessage(taskInfoFile(ex.metaRun, tid), first); err != nil {
		return err
	}
	if err := touch(taskUpdatesFile(ex.metaRun, tid)); err != nil {
		return err
	}
	return writeNewFile(forkedPidFile(ex.metaRun), []byte(strconv.Itoa(pid)))
}

// writeNewMessage writes a protobuf message to a new file.
func writeNewMessage(path string, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return writeNewFile(path, data)
}

// writeNewFile writes a file in place (no temporary), creating its
// directory when needed.
func writeNewFile(path string, data []byte) error {
	err := os.WriteFile(path, data, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("checkpointing %s: %w", path, err)
	}
	return nil
}

// writeMessage checkpoints a protobuf message at path.
func writeMessage(path string, m proto.Message) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, creating the directory when needed.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(tmp, data, 0o600)
		}
	}
	if err != nil {
		return fmt.Errorf("checkpointing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("checkpointing %s: %w", path, err)
	}
	return nil
}

// touch creates an empty file if there is none (an executor may already
// have had an update appended to it).
func touch(path string) error {
	f, err := openAppend(path)
	if err != nil {
		return fmt.Errorf("checkpointing %s: %w", path, err)
	}
	return f.Close()
}

// replaceSymlink makes link point at target (relative), replacing any old
// link atomically.
func replaceSymlink(target, link string) error {
	tmp := link + ".tmp"
	os.Remove(tmp)
	err := os.Symlink(target, tmp)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(link), 0o755); err == nil {
			err = os.Symlink(target, tmp)
		}
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, link)
}
