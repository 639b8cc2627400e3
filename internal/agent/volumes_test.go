package agent

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/agoraproject/agora/api/v1/agent"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// reservedDisk is size MB of disk dynamically reserved to role.
func reservedDisk(size float64, role string) *mesos.Resource {
	r := scalarResource("disk", size, nil)
	r.Reservations = []*mesos.Resource_ReservationInfo{{
		Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role), Principal: proto.String("ops"),
	}}
	return r
}

// volumeResource is a persistent volume on reserved disk, linked at
// container path "data".
func volumeResource(size float64, role, id string) *mesos.Resource {
	v := reservedDisk(size, role)
	v.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id), Principal: proto.String("ops")},
		Volume:      &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()},
	}
	return v
}

func checkpointEvent(rs ...*mesos.Resource) *protocol.AgentEvent {
	return &protocol.AgentEvent{Type: protocol.AgentEvent_CHECKPOINT_RESOURCES.Enum(),
		CheckpointResources: &protocol.AgentEvent_CheckpointResources{Resources: rs}}
}

// TestCheckpointedResourcesAndVolumes: CHECKPOINT_RESOURCES is written to
// meta/resources, makes the volume's directory, counts in the total
// (GET_AGENT, /state), is linked into the sandbox of a task using the
// volume, is reported after a restart, and a destroyed volume's directory
// is left to GC.
func TestCheckpointedResourcesAndVolumes(t *testing.T) {
	f := newFakeRestart(t, nil)
	vol := volumeResource(512, "db/pg", "pv-1")
	f.m.send(checkpointEvent(reservedDisk(256, "db/pg"), vol))
	volumeDir := filepath.Join(f.cfg.WorkDir, "volumes", "roles", "db", "pg", "pv-1")
	waitFor(t, "the volume's directory", func() bool { _, err := os.Stat(volumeDir); return err == nil })
	if _, err := os.Stat(f.a.paths.resourcesStateFile()); err != nil {
		t.Fatalf("checkpoint file: %v", err)
	}

	resp := operatorCall(t, f.a, wire.Protobuf, &agentpb.Call{Type: agentpb.Call_GET_AGENT.Enum()})
	total := resources.MustFromProto(resp.GetGetAgent().GetAgentInfo().GetResources())
	if got := total.ReservedTo("db/pg").Scalar("disk"); got != resources.ScalarFromFloat(768) {
		t.Errorf("disk reserved to db/pg in GET_AGENT = %v, want 768", got)
	}
	if got := total.Scalar("disk"); got != resources.ScalarFromFloat(10240) {
		t.Errorf("total disk = %v, want the 10240 of --resources", got)
	}
	if got := f.a.state().ReservedResources["db/pg"]["disk"]; got != 768.0 {
		t.Errorf("/state reserved_resources[db/pg].disk = %v", got)
	}

	task := commandTask("t1", "x")
	task.Resources = append(task.Resources, vol)
	f.m.send(runTaskEvent(testFramework("fw"), task))
	spec := nextLaunch(t, f.fc)
	link := filepath.Join(spec.Sandbox, "data")
	if target, err := os.Readlink(link); err != nil || target != volumeDir {
		t.Fatalf("sandbox link %s -> %q (%v), want %s", link, target, err, volumeDir)
	}
	must(t, os.WriteFile(filepath.Join(link, "kept"), []byte("survives"), 0o644))

	f.restartFake(nil)
	sub := f.m.nextSubscribe(wait).GetSubscribe()
	if got := sub.GetCheckpointedResources(); len(got) != 2 || !hasPersistence(got, "pv-1") {
		t.Fatalf("re-subscription's checkpointed resources: %v", got)
	}
	f.m.send(checkpointEvent(reservedDisk(768, "db/pg")))
	waitFor(t, "the destroyed volume scheduled for GC", func() bool {
		f.a.gc.mu.Lock()
		defer f.a.gc.mu.Unlock()
		_, ok := f.a.gc.paths[volumeDir]
		return ok
	})
	if data, err := os.ReadFile(filepath.Join(volumeDir, "kept")); err != nil || string(data) != "survives" {
		t.Errorf("volume contents after DESTROY: %q, %v (removed only by GC)", data, err)
	}
}

func hasPersistence(rs []*mesos.Resource, id string) bool {
	for _, r := range rs {
		if r.GetDisk().GetPersistence().GetId() == id {
			return true
		}
	}
	return false
}

// TestVolumeLinkStaysInTheSandbox: a volume given to a running executor
// is linked into a sandbox its tasks may have changed; a symlink planted
// there does not lead the agent to make the link elsewhere.
func TestVolumeLinkStaysInTheSandbox(t *testing.T) {
	dir := t.TempDir()
	sandbox, elsewhere := filepath.Join(dir, "sandbox"), filepath.Join(dir, "elsewhere")
	if err := errors.Join(os.Mkdir(sandbox, 0o755), os.Mkdir(elsewhere, 0o755)); err != nil {
		t.Fatal(err)
	}
	a := &Agent{log: slog.New(slog.DiscardHandler), paths: layout{workDir: filepath.Join(dir, "work")}}
	ex := &executor{id: "e1", directory: sandbox}
	vol := volumeResource(64, "db", "pv-1")
	vol.Disk.Volume.ContainerPath = proto.String("etc/data")

	if err := os.Symlink(elsewhere, filepath.Join(sandbox, "etc")); err != nil {
		t.Fatal(err)
	}
	if err := a.exposeVolume(ex, vol); err == nil {
		t.Error("linked the volume through a symlink out of the sandbox")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("the directory outside the sandbox got %d entries", len(entries))
	}

	os.Remove(filepath.Join(sandbox, "etc"))
	if err := a.exposeVolume(ex, vol); err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(filepath.Join(sandbox, "etc", "data"))
	if want, _ := a.volumeDir(vol); err != nil || target != want {
		t.Fatalf("volume link -> %q (%v), want %q", target, err, want)
	}
	if err := a.exposeVolume(ex, vol); err != nil {
		t.Errorf("linking the same volume again: %v", err)
	}
}
