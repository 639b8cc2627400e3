package agent

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/fake"
	"github.com/agoraproject/agora/internal/protocol"
)

// fakeAgent starts an agent with the fake containerizer.
func fakeAgent(t testing.TB, m *fakeMaster, tweak func(*Config)) (*Agent, *fake.Containerizer) {
	t.Helper()
	fc := fake.New()
	cfg := Config{Masters: []string{m.addr()}, Containerizer: fc, ExecutorCommand: []string{"/bin/false"}}
	if tweak != nil {
		tweak(&cfg)
	}
	return startAgent(t, cfg), fc
}

func nextLaunch(t testing.TB, fc *fake.Containerizer) containerizer.LaunchSpec {
	t.Helper()
	select {
	case spec := <-fc.Launched():
		return spec
	case <-time.After(wait):
		t.Fatal("no container launched")
		return containerizer.LaunchSpec{}
	}
}

func TestSubscribeFollowsRedirectAndSkipsMastersWithoutLeader(t *testing.T) {
	m := newFakeMaster(t)
	noLeader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	}))
	t.Cleanup(noLeader.Close)
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+m.addr()+agentAPIPath)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	t.Cleanup(follower.Close)
	m.setAutoAck(true)
	a, fc := fakeAgent(t, m, func(c *Config) {
		c.Masters = []string{noLeader.Listener.Addr().String(), follower.Listener.Addr().String()}
	})
	sub := m.nextSubscribe(wait)
	if sub.GetSubscribe().GetAgentInfo().GetHostname() != "agent.test" {
		t.Errorf("SUBSCRIBE body lost on redirect: %v", sub)
	}
	// Calls go to the leader the redirect named.
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	nextLaunch(t, fc)
	m.send(killTaskEvent("fw", "t1"))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_KILLED)
	if a.ID() != m.agentID {
		t.Errorf("agent ID %q", a.ID())
	}
}

func TestPingIsAnsweredWithPong(t *testing.T) {
	m := newFakeMaster(t)
	fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(&protocol.AgentEvent{Type: protocol.AgentEvent_PING.Enum(),
		Ping: &protocol.AgentEvent_Ping{Sequence: proto.Uint64(42)}})
	pong := m.nextCallOf(protocol.AgentCall_PONG, wait)
	if pong.GetPong().GetSequence() != 42 || pong.GetAgentId().GetValue() != m.agentID {
		t.Errorf("PONG = %v", pong)
	}
}

func TestSilentMasterIsDroppedAfterFivePingIntervals(t *testing.T) {
	m := newFakeMaster(t)
	m.ping = 0.02 // 5 intervals = 100 ms of silence
	start := time.Now()
	fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.nextSubscribe(wait)
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("re-subscribed after %v, before 5 ping intervals", elapsed)
	}
}

func TestStaleStreamAnswerMakesTheAgentResubscribe(t *testing.T) {
	m := newFakeMaster(t)
	_, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.mu.Lock()
	m.dropNext = true
	m.mu.Unlock()
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	nextLaunch(t, fc)
	m.send(killTaskEvent("fw", "t1")) // its TASK_KILLED gets a 403
	again := m.nextSubscribe(wait).GetSubscribe()
	if again.GetAgentInfo().GetId().GetValue() != m.agentID {
		t.Errorf("re-subscription without the agent ID: %v", again.GetAgentInfo())
	}
	// The unacknowledged update is sent again on the new stream.
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_KILLED)
}

func TestCommandExecutorLaunchSpec(t *testing.T) {
	m := newFakeMaster(t)
	a, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	fw := testFramework("fw")
	m.send(runTaskEvent(fw, commandTask("t1", "echo hello; sleep 100")))
	spec := nextLaunch(t, fc)
	if len(spec.Argv) != 1 || spec.Argv[0] != "/bin/false" {
		t.Errorf("argv = %q, want the executor command", spec.Argv)
	}
	env := map[string]string{}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"MESOS_FRAMEWORK_ID":                   "fw",
		"MESOS_EXECUTOR_ID":                    "t1",
		"MESOS_DIRECTORY":                      spec.Sandbox,
		"MESOS_SANDBOX":                        spec.Sandbox,
		"MESOS_AGENT_ENDPOINT":                 a.Addr(),
		"MESOS_SLAVE_ID":                       m.agentID,
		"MESOS_SLAVE_PID":                      "slave(1)@" + a.Addr(),
		"MESOS_CHECKPOINT":                     "1",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
		"MESOS_HTTP_COMMAND_EXECUTOR":          "1",
		"MESOS_RECOVERY_TIMEOUT":               "15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX":       "2secs",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	wantDir := a.paths.sandbox(m.agentID, "fw", "t1", spec.ContainerID)
	if spec.Sandbox != wantDir || spec.Stdout != wantDir+"/stdout" || spec.Stderr != wantDir+"/stderr" {
		t.Errorf("sandbox %q stdout %q, want %q", spec.Sandbox, spec.Stdout, wantDir)
	}
	if scalarSum(spec.Resources, "cpus") != 0.6 || scalarSum(spec.Resources, "mem") != 96 {
		t.Errorf("executor resources = %v, want task + 0.1 cpus + 32 MB", spec.Resources)
	}
	ex := findExecutor(t, a, "fw", "t1")
	if got := ex.info.GetName(); got != "Command Executor (Task: t1) (Command: sh -c 'echo hello; ...')" {
		t.Errorf("executor name = %q", got)
	}
	if ex.info.GetSource() != "t1" {
		t.Errorf("executor source = %q", ex.info.GetSource())
	}
}

func TestExecutorThatNeverSubscribesTimesOut(t *testing.T) {
	m := newFakeMaster(t)
	_, fc := fakeAgent(t, m, func(c *Config) { c.ExecutorRegistrationTimeout = 30 * time.Millisecond })
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	spec := nextLaunch(t, fc)
	failed := m.nextUpdate(wait)
	wantUpdate(t, failed, "t1", mesos.TaskState_TASK_FAILED)
	if failed.GetStatus().GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT {
		t.Errorf("reason = %s", failed.GetStatus().GetReason())
	}
	if fc.Running(spec.ContainerID) {
		t.Error("container still running after the registration timeout")
	}
	m.nextCallOf(protocol.AgentCall_EXECUTOR_EXITED, wait)
}

func TestKillOfAQueuedTaskKillsItAndItsExecutor(t *testing.T) {
	m := newFakeMaster(t)
	_, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	spec := nextLaunch(t, fc)
	m.send(killTaskEvent("fw", "t1"))
	killed := m.nextUpdate(wait)
	wantUpdate(t, killed, "t1", mesos.TaskState_TASK_KILLED)
	if st := killed.GetStatus(); st.GetReason() != mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH ||
		st.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Errorf("status = %v", st)
	}
	m.nextCallOf(protocol.AgentCall_EXECUTOR_EXITED, wait)
	if fc.Running(spec.ContainerID) {
		t.Error("executor of the killed task still runs")
	}
}

func TestKillOfAnUnknownTaskAnswersLost(t *testing.T) {
	m := newFakeMaster(t)
	fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(killTaskEvent("fw", "ghost"))
	lost := m.nextUpdate(wait)
	wantUpdate(t, lost, "ghost", mesos.TaskState_TASK_LOST)
	if lost.GetStatus().GetMessage() != "Attempted to kill an unknown task" {
		t.Errorf("message = %q", lost.GetStatus().GetMessage())
	}
	// It is retried like any update until acknowledged.
	m.send(ackEvent(lost))
}

func TestTaskWithAnUnsafeIDIsRefused(t *testing.T) {
	m := newFakeMaster(t)
	_, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("../../escape", "x")))
	wantUpdate(t, m.nextUpdate(wait), "../../escape", mesos.TaskState_TASK_ERROR)
	if n := len(fc.Specs()); n != 0 {
		t.Errorf("%d containers launched for a refused task", n)
	}
}

func TestCustomExecutorGetsItsCommandAndEnvironment(t *testing.T) {
	m := newFakeMaster(t)
	_, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	exInfo := &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("custom")},
		Command: &mesos.CommandInfo{Value: proto.String("./my-executor --flag"),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String("FOO"), Value: proto.String("bar")}}}},
	}
	t1 := commandTask("t1", "")
	t1.Command = nil
	m.send(&protocol.AgentEvent{Type: protocol.AgentEvent_RUN_TASK.Enum(),
		RunTask: &protocol.AgentEvent_RunTask{Framework: testFramework("fw"), Executor: exInfo, Task: t1}})
	spec := nextLaunch(t, fc)
	if strings.Join(spec.Argv, " ") != "/bin/sh -c ./my-executor --flag" {
		t.Errorf("argv = %q", spec.Argv)
	}
	if !containsString(spec.Env, "FOO=bar") || containsString(spec.Env, "MESOS_HTTP_COMMAND_EXECUTOR=1") {
		t.Errorf("env lacks FOO=bar or marks a custom executor as the command executor")
	}
	// A second task for the same executor does not launch a new container.
	t2 := proto.CloneOf(t1)
	t2.TaskId.Value = proto.String("t2")
	m.send(&protocol.AgentEvent{Type: protocol.AgentEvent_RUN_TASK.Enum(),
		RunTask: &protocol.AgentEvent_RunTask{Framework: testFramework("fw"), Executor: exInfo, Task: t2}})
	m.send(killTaskEvent("fw", "t2")) // queued: killed at once
	wantUpdate(t, m.nextUpdate(wait), "t2", mesos.TaskState_TASK_KILLED)
	if n := len(fc.Specs()); n != 1 {
		t.Errorf("%d containers, want 1", n)
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestShutdownFrameworkDestroysItsExecutors(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	spec := nextLaunch(t, fc)
	m.send(&protocol.AgentEvent{Type: protocol.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
		ShutdownFramework: &protocol.AgentEvent_ShutdownFramework{FrameworkId: &mesos.FrameworkID{Value: proto.String("fw")}}})
	killed := m.nextUpdate(wait)
	wantUpdate(t, killed, "t1", mesos.TaskState_TASK_KILLED)
	if killed.GetStatus().GetReason() != mesos.TaskStatus_REASON_FRAMEWORK_REMOVED {
		t.Errorf("reason = %s", killed.GetStatus().GetReason())
	}
	if fc.Running(spec.ContainerID) {
		t.Error("container survived SHUTDOWN_FRAMEWORK")
	}
	waitFor(t, "the framework to complete", func() bool {
		s := a.state()
		return len(s.Frameworks) == 0 && len(s.CompletedFrameworks) == 1
	})
}

func TestLaunchFailureFailsTheTask(t *testing.T) {
	m := newFakeMaster(t)
	a, fc := fakeAgent(t, m, nil)
	fc.SetLaunchError(errors.New("no such binary"))
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	failed := m.nextUpdate(wait)
	wantUpdate(t, failed, "t1", mesos.TaskState_TASK_FAILED)
	if st := failed.GetStatus(); st.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED ||
		!strings.Contains(st.GetMessage(), "no such binary") {
		t.Errorf("status = %v", st)
	}
	if got := a.metricsSnapshot()["slave/container_launch_errors"]; got != 1 {
		t.Errorf("container_launch_errors = %v", got)
	}
}
