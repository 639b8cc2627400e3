package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// Checkpointed resources and persistent volumes. The master sends
// CHECKPOINT_RESOURCES with the complete set of the agent's dynamic
// reservations and persistent volumes whenever it changes (operator calls
// and offer operations). The agent
//
//   - writes the set atomically to meta/resources/resources_and_operations.state
//     (binary protobuf; its field 1, repeated Resource, is also Mesos'
//     ResourceState.resources) before acting on it, reads it back at every
//     start (whatever --recover says: reservations and volumes outlive
//     even a change of agent ID), and reports it in every SUBSCRIBE;
//   - creates <work_dir>/volumes/roles/<role>/<persistence_id> for every
//     volume (role = the volume's reservation role; "a/b" nests), and
//     schedules the directory of a destroyed volume for GC (gc_delay
//     leaves an operator time to rescue its data);
//   - links a volume into the sandbox of a task whose resources hold it,
//     at <sandbox>/<volume.container_path>: a symlink, which GC of the
//     sandbox removes without touching the volume. Posix isolation cannot
//     make a symlink read-only: mode RO is logged, not enforced;
//   - counts the set in its total (/state, GET_AGENT): each checkpointed
//     resource replaces the plain resource it was made from, as the master
//     computes it.

func (l layout) resourcesStateFile() string {
	return filepath.Join(l.metaDir(), "resources", "resources_and_operations.state")
}

func (l layout) volumesDir() string { return filepath.Join(l.workDir, "volumes", "roles") }

// loadCheckpointedResources reads the set checkpointed before a restart.
func (a *Agent) loadCheckpointedResources() error {
	state := &protocol.AgentEvent_CheckpointResources{}
	err := readMessage(a.paths.resourcesStateFile(), state)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpointed resources: %w", err)
	}
	if _, err := resources.FromProto(state.GetResources()); err != nil {
		return fmt.Errorf("checkpointed resources in %s: %w", a.paths.resourcesStateFile(), err)
	}
	a.mu.Lock()
	a.checkpointed = state.GetResources()
	a.mu.Unlock()
	a.syncVolumes(nil, state.GetResources())
	return nil
}

// checkpointResources handles CHECKPOINT_RESOURCES: the set is written
// before anything else changes. A set that cannot be written is not
// taken (the next re-registration reports the previous one).
func (a *Agent) checkpointResources(cr *protocol.AgentEvent_CheckpointResources) {
	if _, err := resources.FromProto(cr.GetResources()); err != nil {
		a.log.Error("ignoring invalid checkpointed resources from the master", "err", err)
		return
	}
	if err := writeMessage(a.paths.resourcesStateFile(), cr); err != nil {
		a.log.Error("checkpointing resources", "err", err)
		return
	}
	a.mu.Lock()
	old := a.checkpointed
	a.checkpointed = cr.GetResources()
	a.mu.Unlock()
	a.syncVolumes(old, cr.GetResources())
	a.log.Info("checkpointed resources", "resources", mustResources(cr.GetResources()).String())
}

// syncVolumes creates the directories of the volumes in cur and schedules
// those only in old for GC.
func (a *Agent) syncVolumes(old, cur []*mesos.Resource) {
	kept := make(map[string]bool)
	for _, r := range cur {
		dir, ok := a.volumeDir(r)
		if !ok {
			continue
		}
		kept[dir] = true
		a.gc.unschedule(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			a.log.Error("creating a persistent volume", "path", dir, "err", err)
		}
	}
	now := time.Now()
	for _, r := range old {
		if dir, ok := a.volumeDir(r); ok && !kept[dir] {
			a.log.Info("persistent volume destroyed; its directory is left to GC", "path", dir)
			a.gc.schedule(dir, now)
		}
	}
}

// volumeDir is where a persistent volume lives; ok is false for a
// resource that is not a volume, or whose role or ID is not a safe path.
func (a *Agent) volumeDir(r *mesos.Resource) (string, bool) {
	id := r.GetDisk().GetPersistence().GetId()
	if id == "" {
		return "", false
	}
	role := reservationRole(r)
	for _, part := range append(strings.Split(role, "/"), id) {
		if err := validPathID("volume path component", part); err != nil {
			a.log.Error("persistent volume with an unsafe role or ID", "role", role, "persistence_id", id, "err", err)
			return "", false
		}
	}
	return filepath.Join(a.paths.volumesDir(), filepath.FromSlash(role), id), true
}

// reservationRole is the role a resource is reserved to ("*" if none),
// from either reservation format.
func reservationRole(r *mesos.Resource) string {
	one, err := resources.FromProto([]*mesos.Resource{r})
	if err != nil {
		return "*"
	}
	for _, p := range one.ToProto(resources.PostRefinement) {
		if stack := p.GetReservations(); len(stack) > 0 {
			return stack[len(stack)-1].GetRole()
		}
	}
	return "*"
}

// totalResources is the agent's total: its static resources with the
// checkpointed ones applied. A checkpointed resource that does not fit
// the static ones (--resources changed) is left out. Callers hold a.mu.
func (a *Agent) totalResources() resources.Resources {
	total, _ := resources.WithCheckpointed(mustResources(a.resources), mustResources(a.checkpointed))
	return total
}

// exposeVolumes links the persistent volumes among rs into ex's sandbox.
// It reads only what never changes on an executor, so it needs no lock.
func (a *Agent) exposeVolumes(ex *executor, rs []*mesos.Resource) {
	for _, r := range rs {
		if r.GetDisk().GetPersistence() == nil || r.GetDisk().GetVolume() == nil {
			continue
		}
		if err := a.exposeVolume(ex, r); err != nil {
			a.log.Error("exposing a persistent volume", "framework_id", ex.fw.id, "executor_id", ex.id, "err", err)
		}
	}
}

func (a *Agent) exposeVolume(ex *executor, r *mesos.Resource) error {
	id := r.GetDisk().GetPersistence().GetId()
	source, ok := a.volumeDir(r)
	if !ok {
		return fmt.Errorf("volume %q cannot be placed", id)
	}
	containerPath := r.GetDisk().GetVolume().GetContainerPath()
	if !filepath.IsLocal(containerPath) {
		return fmt.Errorf("volume %q: container path %q must be relative and inside the sandbox", id, containerPath)
	}
	if err := os.MkdirAll(source, 0o755); err != nil {
		return fmt.Errorf("volume %q: %w", id, err)
	}
	// The link goes into the sandbox through os.Root: the executor's tasks
	// may already have put links there, and none may lead the agent out.
	// (Not as the user, who may reach the sandbox only through a mount.)
	sandbox, err := os.OpenRoot(ex.directory)
	if err != nil {
		return fmt.Errorf("volume %q: %w", id, err)
	}
	defer sandbox.Close()
	rel := filepath.Clean(containerPath)
	if err := sandbox.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("volume %q: %w", id, err)
	}
	if err := sandbox.Symlink(source, rel); err != nil {
		if existing, rerr := sandbox.Readlink(rel); rerr != nil || existing != source {
			return fmt.Errorf("volume %q: linking %s: %w", id, filepath.Join(ex.directory, rel), err)
		}
	}
	if r.GetDisk().GetVolume().GetMode() == mesos.Volume_RO {
		a.log.Info("read-only volume linked read-write: posix isolation cannot enforce RO",
			"persistence_id", id, "container_path", containerPath)
	}
	cred, err := asuser.Lookup(ex.user)
	if err != nil {
		return fmt.Errorf("volume owner: %w", err)
	}
	return giveEmptyVolume(source, cred)
}

// giveEmptyVolume hands a volume that is still empty to the task's user
// (cred, as Mesos does), when the agent runs as root and the task as
// another user.
func giveEmptyVolume(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != io.EOF {
		return nil // not empty, or unreadable: leave it as it is
	}
	return f.Chown(int(cred.Uid), int(cred.Gid))
}
