package docker

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func dockerTask(cmd *mesos.CommandInfo, d *mesos.ContainerInfo_DockerInfo, volumes ...*mesos.Volume) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		TaskId:    &mesos.TaskID{Value: proto.String("t")},
		Command:   cmd,
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: d, Volumes: volumes},
		Resources: []*mesos.Resource{
			{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.5)}},
			{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(64)}},
		},
	}
}

// TestTaskRunSpec is the mapping of a DOCKER task onto the Engine's
// container: Mesos' command rules, network, ports, volumes, parameters,
// limits, and the name.
func TestTaskRunSpec(t *testing.T) {
	d := &mesos.ContainerInfo_DockerInfo{
		Image:      proto.String("busybox:1"),
		Network:    mesos.ContainerInfo_DockerInfo_BRIDGE.Enum(),
		Privileged: proto.Bool(true),
		PortMappings: []*mesos.ContainerInfo_DockerInfo_PortMapping{
			{HostPort: proto.Uint32(31000), ContainerPort: proto.Uint32(80), Protocol: proto.String("tcp")}},
		Parameters: []*mesos.Parameter{{Key: proto.String("label"), Value: proto.String("team=infra")}},
	}
	vol := &mesos.Volume{HostPath: proto.String("data"), ContainerPath: proto.String("/data"), Mode: mesos.Volume_RO.Enum()}
	spec, err := TaskRunSpec(dockerTask(&mesos.CommandInfo{Value: proto.String("echo hi")}, d, vol),
		TaskRun{ContainerID: "c1", Sandbox: "/sb"})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Name != "mesos-c1" || spec.Image != "busybox:1" || spec.Network != "bridge" || !spec.Privileged {
		t.Errorf("spec %+v", spec)
	}
	if !slices.Equal(spec.Entrypoint, []string{"/bin/sh", "-c"}) || !slices.Equal(spec.Cmd, []string{"echo hi"}) {
		t.Errorf("shell command: entrypoint %v cmd %v", spec.Entrypoint, spec.Cmd)
	}
	if !slices.Equal(spec.Binds, []string{"/sb:/mnt/mesos/sandbox", "/sb/data:/data:ro"}) {
		t.Errorf("binds %v", spec.Binds)
	}
	if len(spec.Ports) != 1 || spec.Ports[0].HostPort != 31000 || spec.Labels["team"] != "infra" {
		t.Errorf("ports %v labels %v", spec.Ports, spec.Labels)
	}
	if spec.CPUShares != 512 || spec.MemoryBytes != 64<<20 {
		t.Errorf("limits: %d shares, %d bytes", spec.CPUShares, spec.MemoryBytes)
	}
	if !slices.Contains(spec.Env, "MESOS_SANDBOX=/mnt/mesos/sandbox") {
		t.Errorf("env %v", spec.Env)
	}

	noShell := &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/app"), Arguments: []string{"--port", "80"}}
	spec, _ = TaskRunSpec(dockerTask(noShell, &mesos.ContainerInfo_DockerInfo{Image: proto.String("x")}), TaskRun{ContainerID: "c2"})
	if spec.Entrypoint != nil || !slices.Equal(spec.Cmd, []string{"/app", "--port", "80"}) || spec.Network != "host" {
		t.Errorf("shell=false: entrypoint %v cmd %v network %s", spec.Entrypoint, spec.Cmd, spec.Network)
	}
	bad := &mesos.ContainerInfo_DockerInfo{Image: proto.String("x"), Parameters: []*mesos.Parameter{{Key: proto.String("cap-add"), Value: proto.String("ALL")}}}
	if _, err := TaskRunSpec(dockerTask(noShell, bad), TaskRun{ContainerID: "c3"}); err == nil {
		t.Errorf("an unsupported parameter was accepted")
	}
}
