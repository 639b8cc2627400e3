package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/agent"
	"github.com/agoraproject/agora/internal/containerizer/docker"
	"github.com/agoraproject/agora/internal/containerizer/image/imagetest"
	"github.com/agoraproject/agora/internal/schedtest"
)

// dockerImage is the image the Docker tests load into the engine.
const dockerImage = "agora-e2e/docker-busybox:1"

// requireDocker connects to the local Docker Engine; without one the test
// is skipped loudly, except under CI=true where it fails.
func requireDocker(t testing.TB) *docker.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := docker.Connect(ctx, agent.DefaultDockerSocket)
	if err == nil {
		t.Cleanup(func() { e.Close() })
		return e
	}
	if os.Getenv("CI") == "true" {
		if _, statErr := os.Stat(agent.DefaultDockerSocket); statErr == nil {
			t.Fatalf("CI=true and a Docker socket exists, but the engine does not answer: %v", err)
		}
	}
	t.Skipf("SKIPPING DOCKER TEST: no Docker Engine answers at %s (%v)", agent.DefaultDockerSocket, err)
	return nil
}

// loadBusybox loads the busybox test image into the engine and removes it
// at cleanup.
func loadBusybox(t testing.TB, e *docker.Engine) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "busybox.tar")
	imagetest.WriteDockerSave(t, src, dockerImage, imagetest.BusyboxImage(t))
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Load(ctx, f); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.RemoveImage(ctx, dockerImage); err != nil {
			t.Errorf("removing the test image: %v", err)
		}
	})
}

func dockerContainer() *mesos.ContainerInfo {
	return &mesos.ContainerInfo{
		Type:   mesos.ContainerInfo_DOCKER.Enum(),
		Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String(dockerImage)},
	}
}

// dockerCluster is a master and one agent with the docker containerizer,
// the test image loaded into the engine, and the agent's containers
// removed at cleanup.
func dockerCluster(t *testing.T) (*cluster, *docker.Engine) {
	t.Helper()
	e := requireDocker(t)
	loadBusybox(t, e)
	workDir := t.TempDir()
	t.Cleanup(func() {
		// The agent stops before its containers do (they outlive it by
		// design); remove what it left.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.RemoveUnder(ctx, workDir); err != nil {
			t.Errorf("removing the test's containers: %v", err)
		}
	})
	c := startCluster(t)
	c.agents = append(c.agents, c.startAgent(t, "agent1", "127.0.0.2", workDir, "--containerizers=docker,mesos"))
	return c, e
}

// TestDockerTaskRunsIsKilledWithGraceAndLogsToTheSandbox: a DOCKER task
// from an image the test loaded runs, its stdout lands in the sandbox, a
// kill gives it SIGTERM and the grace period before SIGKILL, and its
// container is removed.
func TestDockerTaskRunsIsKilledWithGraceAndLogsToTheSandbox(t *testing.T) {
	c, e := dockerCluster(t)
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("docker"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := withMem(schedtest.CommandTask("boxed", offer,
		`trap 'echo got-TERM' TERM; echo hello-from-docker in $MESOS_SANDBOX; while :; do sleep 0.05; done`), 64)
	task.Container = dockerContainer()
	const grace = 1500 * time.Millisecond
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	s.Launch(offer, task)
	running := waitForState(t, s, "boxed", mesos.TaskState_TASK_RUNNING)
	name := docker.ContainerName(running.GetContainerStatus().GetContainerId().GetValue())
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readSandboxFile(t, offer, s.FrameworkID, "boxed", "stdout"), "hello-from-docker in /mnt/mesos/sandbox") {
		if time.Now().After(deadline) {
			t.Fatalf("no task output in the sandbox; stdout %q, stderr:\n%s", readSandboxFile(t, offer, s.FrameworkID, "boxed", "stdout"),
				readSandboxFile(t, offer, s.FrameworkID, "boxed", "stderr"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	killed := time.Now()
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("boxed")}, AgentId: offer.GetAgentId()}})
	waitForState(t, s, "boxed", mesos.TaskState_TASK_KILLED)
	if took := time.Since(killed); took < grace || took > grace+10*time.Second {
		t.Fatalf("TASK_KILLED %v after the kill, want just after the %v grace period", took, grace)
	}
	if out := readSandboxFile(t, offer, s.FrameworkID, "boxed", "stdout"); !strings.Contains(out, "got-TERM") {
		t.Errorf("the container never saw SIGTERM:\n%q\nstderr: %s", out, readSandboxFile(t, offer, s.FrameworkID, "boxed", "stderr"))
	}
	waitUntil(t, "container "+name+" removed", 20*time.Second, func() bool { return !e.Exists(context.Background(), name) })
}

// TestDockerTaskWithoutTheDockerContainerizerFails: on an agent without
// --containerizers=docker, a DOCKER task fails with a message saying so.
func TestDockerTaskWithoutTheDockerContainerizerFails(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("no-docker"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := schedtest.CommandTask("boxed", offer, "true")
	task.Container = dockerContainer()
	s.Launch(offer, task)
	st := waitForState(t, s, "boxed", mesos.TaskState_TASK_FAILED)
	if !strings.Contains(st.GetMessage(), "docker containerizer is not enabled") {
		t.Fatalf("message %q", st.GetMessage())
	}
}

// TestDockerTaskSurvivesAgentRestart: kill -9 the agent while a
// checkpointing framework's DOCKER task runs. The restarted agent adopts
// the task's executor, which re-subscribes; the container keeps running,
// reconciliation reports the task RUNNING, and a kill still stops it and
// removes its container.
func TestDockerTaskSurvivesAgentRestart(t *testing.T) {
	c, e := dockerCluster(t)
	ag := c.agents[0]
	s := schedtest.Subscribe(t, c.master, wire.JSON, checkpointingFramework("docker-restart"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := withMem(schedtest.CommandTask("boxed", offer, "while :; do sleep 0.1; done"), 64)
	task.Container = dockerContainer()
	s.Launch(offer, task)
	running := waitForState(t, s, "boxed", mesos.TaskState_TASK_RUNNING)
	name := docker.ContainerName(running.GetContainerStatus().GetContainerId().GetValue())
	waitUntil(t, "container "+name, 20*time.Second, func() bool { return e.Exists(context.Background(), name) })
	id := agentID(ag)

	ag.restart(t, "agent1-restarted")
	waitUntil(t, "the agent registered with the same ID", 20*time.Second, func() bool { return agentID(ag) == id })
	if !e.Exists(context.Background(), name) {
		t.Fatalf("container %s is gone after the agent restart", name)
	}
	s.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{
		Tasks: []*sched.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("boxed")}, AgentId: offer.GetAgentId()}}}})
	for {
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetTaskId().GetValue() == "boxed" && st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
			if st.GetState() != mesos.TaskState_TASK_RUNNING {
				t.Fatalf("reconciled the DOCKER task as %v (%s)", st.GetState(), st.GetMessage())
			}
			break
		}
		if st.GetState().IsTerminal() {
			t.Fatalf("the DOCKER task ended %v after the agent restart: %s", st.GetState(), st.GetMessage())
		}
	}
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("boxed")}, AgentId: offer.GetAgentId()}})
	killed := waitForState(t, s, "boxed", mesos.TaskState_TASK_KILLED)
	if killed.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %v, want the re-subscribed executor", killed.GetSource())
	}
	waitUntil(t, "container "+name+" removed", 20*time.Second, func() bool { return !e.Exists(context.Background(), name) })
}

// TestDockerTaskChecksLookInsideTheContainer: a DOCKER task on a bridge
// network (its loopback is its own, nothing published on the host) is
// checked as Mesos' docker executor checks it: the HTTP health check dials
// the container's own 127.0.0.1, and a COMMAND check runs in the container
// (a file only the container has).
func TestDockerTaskChecksLookInsideTheContainer(t *testing.T) {
	c, _ := dockerCluster(t)
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("docker-checks"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := withMem(schedtest.CommandTask("web", offer,
		`touch /tmp/only-in-the-container; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www`), 64)
	task.Container = dockerContainer()
	task.Container.Docker.Network = mesos.ContainerInfo_DockerInfo_BRIDGE.Enum()
	task.HealthCheck = &mesos.HealthCheck{
		Type:               mesos.HealthCheck_HTTP.Enum(),
		Http:               &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(8080), Path: proto.String("/")},
		DelaySeconds:       proto.Float64(0),
		IntervalSeconds:    proto.Float64(0.5),
		GracePeriodSeconds: proto.Float64(30),
	}
	task.Check = &mesos.CheckInfo{
		Type: mesos.CheckInfo_COMMAND.Enum(),
		Command: &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{
			Shell: proto.Bool(true), Value: proto.String("test -f /tmp/only-in-the-container")}},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(0.5),
	}
	s.Launch(offer, task)
	healthy, checked := false, false
	deadline := time.Now().Add(60 * time.Second)
	for !healthy || !checked {
		if time.Now().After(deadline) {
			t.Fatalf("healthy %v, command check passed %v after 60 s", healthy, checked)
		}
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetState().IsTerminal() {
			t.Fatalf("the task ended %v: %s", st.GetState(), st.GetMessage())
		}
		healthy = healthy || st.GetHealthy()
		if cmd := st.GetCheckStatus().GetCommand(); cmd != nil && cmd.ExitCode != nil && cmd.GetExitCode() == 0 {
			checked = true
		}
	}
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("web")}, AgentId: offer.GetAgentId()}})
	waitForState(t, s, "web", mesos.TaskState_TASK_KILLED)
}

// TestDockerTaskOfAFrameworkUser: a framework whose user is not root runs
// DOCKER tasks as Mesos runs them: the executor as the agent's user (it
// speaks to the Engine), the task as its image says, the sandbox the
// framework user's.
func TestDockerTaskOfAFrameworkUser(t *testing.T) {
	c, _ := dockerCluster(t)
	info := schedtest.FrameworkInfo("docker-nobody")
	info.User = proto.String("nobody")
	s := schedtest.Subscribe(t, c.master, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := withMem(schedtest.CommandTask("boxed", offer, "echo hello-as-$(id -u)"), 64)
	task.Container = dockerContainer()
	s.Launch(offer, task)
	st := waitForState(t, s, "boxed", mesos.TaskState_TASK_FINISHED)
	if out := readSandboxFile(t, offer, s.FrameworkID, "boxed", "stdout"); !strings.Contains(out, "hello-as-0") {
		t.Errorf("stdout %q (%s), want the image's user (root)", out, st.GetMessage())
	}
}
