package agent

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/fake"
	"github.com/agoraproject/agora/internal/protocol"
)

// restartable runs an agent that a test stops and starts again on the
// same work directory and address, as a restarted agent process would be.
type restartable struct {
	t    *testing.T
	cfg  Config
	a    *Agent
	stop func() error
}

func newRestartable(t *testing.T, cfg Config) *restartable {
	t.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	cfg.ListenAddr, cfg.Hostname, cfg.Logger = "127.0.0.1:0", "agent.test", testLogger()
	cfg.Resources = "cpus:4;mem:4096;disk:10240;ports:[31000-32000]"
	cfg.RegistrationBackoff = 10 * time.Millisecond
	r := &restartable{t: t, cfg: cfg}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs the agent; the first run picks the address every later run
// listens on (executors reconnect to it).
func (r *restartable) start() error {
	a, err := New(r.cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r.a = a
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return after cancel")
		}
	}
	r.t.Cleanup(func() {
		if err := r.stop(); err != nil {
			r.t.Errorf("Run: %v", err)
		}
	})
	if a.Addr() == "" {
		return errors.New("agent did not listen")
	}
	r.cfg.ListenAddr = a.Addr()
	return nil
}

// restart stops the agent and starts a new one with cont, the
// containerizer the new process would have, and the config changes of
// tweak.
func (r *restartable) restart(cont containerizer.Containerizer, tweak func(*Config)) {
	r.t.Helper()
	if err := r.stop(); err != nil {
		r.t.Fatalf("stopping the agent: %v", err)
	}
	r.cfg.Containerizer = cont
	if tweak != nil {
		tweak(&r.cfg)
	}
	if err := r.start(); err != nil {
		r.t.Fatal(err)
	}
}

func subscribedTask(t *testing.T, sub *protocol.AgentCall_Subscribe, id string) *mesos.Task {
	t.Helper()
	for _, task := range sub.GetTasks() {
		if task.GetTaskId().GetValue() == id {
			return task
		}
	}
	t.Fatalf("re-subscription lacks task %s: %v", id, sub.GetTasks())
	return nil
}

// TestRestartKeepsRunningExecutorAndItsUnacknowledgedUpdate: the agent
// stops while a real executor runs its task and TASK_RUNNING is not yet
// acknowledged. The next agent on the same work directory re-subscribes
// with the same ID and the task, re-sends the same RUNNING, and the
// executor (the same process) is back: it acts on a kill.
func TestRestartKeepsRunningExecutorAndItsUnacknowledgedUpdate(t *testing.T) {
	m := newFakeMaster(t)
	r := newRestartable(t, Config{Masters: []string{m.addr()}, Containerizer: newPosixForTest(t),
		ExecutorCommand: []string{testExecutorPath}})
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "run")))
	starting := m.nextUpdate(wait)
	wantUpdate(t, starting, "t1", mesos.TaskState_TASK_STARTING)
	m.send(ackEvent(starting))
	running := m.nextUpdate(wait)
	wantUpdate(t, running, "t1", mesos.TaskState_TASK_RUNNING)
	before := findExecutor(t, r.a, "fw-1", "t1")
	pid, container := before.pid, before.containerID

	r.restart(newPosixForTest(t), nil)
	sub := m.nextSubscribe(wait).GetSubscribe()
	if sub.GetAgentInfo().GetId().GetValue() != m.agentID {
		t.Fatalf("restarted agent subscribed as %v, want %s", sub.GetAgentInfo().GetId(), m.agentID)
	}
	task := subscribedTask(t, sub, "t1")
	if task.GetState() != mesos.TaskState_TASK_RUNNING || !bytes.Equal(task.GetStatusUpdateUuid(), running.GetStatus().GetUuid()) {
		t.Errorf("re-subscribed task: state %s, update uuid %x; want RUNNING, %x", task.GetState(),
			task.GetStatusUpdateUuid(), running.GetStatus().GetUuid())
	}
	if len(sub.GetFrameworks()) != 1 || !sub.GetFrameworks()[0].GetCheckpoint() {
		t.Errorf("re-subscribed frameworks: %v", sub.GetFrameworks())
	}
	resent := m.nextUpdate(wait)
	if !bytes.Equal(resent.GetStatus().GetUuid(), running.GetStatus().GetUuid()) {
		t.Fatalf("after the restart the agent sent %v, want the unacknowledged RUNNING again", resent.GetStatus())
	}
	after := findExecutor(t, r.a, "fw-1", "t1")
	waitFor(t, "the executor to re-subscribe", func() bool {
		r.a.mu.Lock()
		defer r.a.mu.Unlock()
		return after.state == executorRunning
	})
	if after.pid != pid || after.containerID != container {
		t.Errorf("recovered executor pid %d container %s, want %d %s", after.pid, after.containerID, pid, container)
	}
	m.send(ackEvent(resent))
	m.send(killTaskEvent("fw-1", "t1"))
	killed := m.nextUpdate(wait)
	wantUpdate(t, killed, "t1", mesos.TaskState_TASK_KILLED)
	if killed.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %s, want the re-subscribed executor", killed.GetStatus().GetSource())
	}
}

// TestExecutorThatDoesNotReregisterIsDestroyed: an executor that stays
// alive but does not re-subscribe to the restarted agent is destroyed
// after executor_reregistration_timeout and its task fails.
func TestExecutorThatDoesNotReregisterIsDestroyed(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	r := newRestartable(t, Config{Masters: []string{m.addr()}, Containerizer: newPosixForTest(t),
		ExecutorCommand: []string{testExecutorPath}, ExecutorReregistrationTimeout: 300 * time.Millisecond})
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "hang")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	container := findExecutor(t, r.a, "fw-1", "t1").containerID
	waitFor(t, "RUNNING acknowledged", func() bool { return r.a.updates.Head("fw-1", "t1") == nil })

	p := newPosixForTest(t)
	start := time.Now()
	r.restart(p, nil)
	m.nextSubscribe(wait)
	failed := m.nextUpdate(wait)
	wantUpdate(t, failed, "t1", mesos.TaskState_TASK_FAILED)
	if st := failed.GetStatus(); st.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT ||
		st.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Errorf("status = %v", st)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("destroyed after %v, before the re-registration timeout", waited)
	}
	st, err := p.Ended(t.Context(), container)
	if err != nil || !st.Destroyed {
		t.Errorf("container after the timeout: %+v, %v", st, err)
	}
}

// TestRecoverCleanupDestroysExecutorsAndStartsAfresh: --recover=cleanup
// kills the previous run's executors and registers as a new agent.
func TestRecoverCleanupDestroysExecutorsAndStartsAfresh(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	r := newRestartable(t, Config{Masters: []string{m.addr()}, Containerizer: newPosixForTest(t),
		ExecutorCommand: []string{testExecutorPath}})
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "run")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	container := findExecutor(t, r.a, "fw-1", "t1").containerID

	p := newPosixForTest(t)
	r.restart(p, func(c *Config) { c.Recover = RecoverCleanup })
	sub := m.nextSubscribe(wait).GetSubscribe()
	if sub.GetAgentInfo().Id != nil || len(sub.GetTasks()) != 0 || len(sub.GetFrameworks()) != 0 {
		t.Errorf("after cleanup the agent subscribed as %v with %d tasks, want a new agent with none",
			sub.GetAgentInfo().GetId(), len(sub.GetTasks()))
	}
	st, err := p.Wait(t.Context(), container)
	if err != nil || !st.Destroyed {
		t.Errorf("previous executor after cleanup: %+v, %v", st, err)
	}
}

// fakeRestart is an agent on the fake containerizer whose executors the
// test plays through the executor API.
type fakeRestart struct {
	*restartable
	m  *fakeMaster
	fc *fake.Containerizer
}

func newFakeRestart(t *testing.T, tweak func(*Config)) *fakeRestart {
	m := newFakeMaster(t)
	cfg := Config{Masters: []string{m.addr()}, Containerizer: fake.New(), ExecutorCommand: []string{"/bin/false"}}
	if tweak != nil {
		tweak(&cfg)
	}
	f := &fakeRestart{m: m, fc: cfg.Containerizer.(*fake.Containerizer)}
	f.restartable = newRestartable(t, cfg)
	m.nextSubscribe(wait)
	return f
}

func (f *fakeRestart) api() executorAPI {
	return executorAPI{f.t, "http://" + f.a.Addr() + "/api/v1/executor"}
}

// restartFake restarts on a new fake containerizer. The test's
// connections to the old agent are dropped, as a restart drops them.
func (f *fakeRestart) restartFake(tweak func(*Config)) {
	f.fc = fake.New()
	f.restart(f.fc, tweak)
	http.DefaultClient.CloseIdleConnections()
}

func customExecutorTask(fw *mesos.FrameworkInfo, eid, tid string) *protocol.AgentEvent {
	task := commandTask(tid, "")
	task.Command = nil
	return &protocol.AgentEvent{Type: protocol.AgentEvent_RUN_TASK.Enum(), RunTask: &protocol.AgentEvent_RunTask{
		Framework: fw, Task: task,
		Executor: &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String(eid)},
			Command: &mesos.CommandInfo{Value: proto.String("./executor")}},
	}}
}

// TestRestartAfterRebootEndsTheTasks: with another boot ID in the
// checkpoint the executors died with the host: nothing is adopted, a
// command task fails and a custom executor's task is lost (TASK_GONE for
// a partition-aware framework).
func TestRestartAfterRebootEndsTheTasks(t *testing.T) {
	f := newFakeRestart(t, nil)
	f.m.setAutoAck(true)
	plain, aware := testFramework("plain"), testFramework("aware")
	aware.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	f.m.send(runTaskEvent(plain, commandTask("cmd", "x")))
	f.m.send(customExecutorTask(plain, "custom", "lost"))
	f.m.send(customExecutorTask(aware, "custom", "gone"))
	for range 3 {
		nextLaunch(t, f.fc)
	}
	waitFor(t, "three checkpointed runs", func() bool { return countFiles(t, f.cfg.WorkDir, "forked.pid") == 3 })

	must(t, f.stop())
	must(t, os.WriteFile(f.a.paths.bootIDFile(), []byte("a-previous-boot"), 0o600))
	f.restartFake(nil)
	f.m.nextSubscribe(wait)
	want := map[string]mesos.TaskState{"cmd": mesos.TaskState_TASK_FAILED, "lost": mesos.TaskState_TASK_LOST,
		"gone": mesos.TaskState_TASK_GONE}
	for range want {
		u := f.m.nextUpdate(wait)
		id := u.GetStatus().GetTaskId().GetValue()
		wantUpdate(t, u, id, want[id])
		if !strings.Contains(u.GetStatus().GetMessage(), "reboot") {
			t.Errorf("%s: message %q does not tell of the reboot", id, u.GetStatus().GetMessage())
		}
	}
	if n := len(f.fc.Specs()); n != 0 {
		t.Errorf("%d containers adopted after a reboot, want none", n)
	}
}

// TestResubscribedExecutorReplaysAndLosesUndelivered: a recovered custom
// executor re-subscribes replaying one update the agent has and one it
// lacks, and reporting one of its two STAGING tasks; the agent
// acknowledges both updates, forwards the new one after the old one, and
// reports the unreported STAGING task lost (never delivered).
func TestResubscribedExecutorReplaysAndLosesUndelivered(t *testing.T) {
	f := newFakeRestart(t, nil)
	fw := testFramework("fw")
	f.m.send(customExecutorTask(fw, "ex", "t1"))
	nextLaunch(t, f.fc)
	api := f.api()
	stream := api.call(wire.Protobuf, subscribeCall("fw", "ex"))
	if stream.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE = %d", stream.StatusCode)
	}
	f.m.send(customExecutorTask(fw, "ex", "t2"))
	f.m.send(customExecutorTask(fw, "ex", "t3"))
	ex := findExecutor(t, f.a, "fw", "ex")
	waitFor(t, "three delivered tasks", func() bool {
		f.a.mu.Lock()
		defer f.a.mu.Unlock()
		return len(ex.launched) == 3
	})
	old := bytes.Repeat([]byte{1}, 16)
	wantStatus(t, api.call(wire.Protobuf, updateCall("fw", "ex", "t1", mesos.TaskState_TASK_RUNNING, old)), 202, "")
	head := f.m.nextUpdate(wait)
	wantUpdate(t, head, "t1", mesos.TaskState_TASK_RUNNING)

	f.restartFake(nil)
	resub := subscribeCall("fw", "ex")
	newer := bytes.Repeat([]byte{2}, 16)
	resub.Subscribe.UnacknowledgedUpdates = []*executorpb.Call_Update{
		updateCall("fw", "ex", "t1", mesos.TaskState_TASK_RUNNING, old).GetUpdate(),
		updateCall("fw", "ex", "t1", mesos.TaskState_TASK_FINISHED, newer).GetUpdate(),
	}
	resub.Subscribe.UnacknowledgedTasks = []*mesos.TaskInfo{commandTask("t2", "")}
	events := readEvents(t, f.api().call(wire.Protobuf, resub))
	if ev := <-events; ev.GetType() != executorpb.Event_SUBSCRIBED {
		t.Fatalf("first event %s", ev.GetType())
	}
	for _, uuid := range [][]byte{old, newer} {
		ev := <-events
		if ev.GetType() != executorpb.Event_ACKNOWLEDGED || !bytes.Equal(ev.GetAcknowledged().GetUuid(), uuid) {
			t.Fatalf("event %v, want ACKNOWLEDGED %x", ev, uuid)
		}
	}
	f.m.nextSubscribe(wait)
	lost := nextUpdateOf(f.m, "t3")
	wantUpdate(t, lost, "t3", mesos.TaskState_TASK_LOST)
	if lost.GetStatus().GetReason() != mesos.TaskStatus_REASON_AGENT_RESTARTED {
		t.Errorf("reason = %s", lost.GetStatus().GetReason())
	}
	resent := nextUpdateOf(f.m, "t1")
	if !bytes.Equal(resent.GetStatus().GetUuid(), old) || resent.GetLatestState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("after the restart: %v (latest %s), want the old RUNNING leading to FINISHED", resent.GetStatus(), resent.GetLatestState())
	}
	f.m.send(ackEvent(resent))
	if next := nextUpdateOf(f.m, "t1"); !bytes.Equal(next.GetStatus().GetUuid(), newer) {
		t.Fatalf("next update %v, want the replayed FINISHED", next.GetStatus())
	}
	if f.fc.Running(ex.containerID) != true {
		t.Errorf("a custom executor with a task left was stopped")
	}
}

// readEvents decodes an executor event stream in the background.
func readEvents(t *testing.T, resp *http.Response) <-chan *executorpb.Event {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE = %d", resp.StatusCode)
	}
	out := make(chan *executorpb.Event, 64)
	go func() {
		r := recordio.NewReader(resp.Body, 0)
		for {
			rec, err := r.ReadRecord()
			if err != nil {
				return
			}
			ev := &executorpb.Event{}
			if proto.Unmarshal(rec, ev) == nil {
				out <- ev
			}
		}
	}()
	return out
}

// TestStrictRecoveryRefusesABrokenCheckpoint: a framework.info that cannot
// be read fails the start under --strict, and is skipped and counted
// without it.
func TestStrictRecoveryRefusesABrokenCheckpoint(t *testing.T) {
	f := newFakeRestart(t, nil)
	f.m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	nextLaunch(t, f.fc)
	waitFor(t, "a checkpointed run", func() bool { return countFiles(t, f.cfg.WorkDir, "forked.pid") == 1 })
	must(t, f.stop())
	must(t, os.WriteFile(f.a.paths.frameworkInfoFile(f.m.agentID, "fw"), []byte("\xff\xff not a message"), 0o600))

	f.cfg.Containerizer = fake.New()
	a, err := New(f.cfg)
	must(t, err)
	if err := a.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "framework fw") {
		t.Fatalf("Run with a broken checkpoint = %v, want a recovery error naming the framework", err)
	}
	f.restartFake(func(c *Config) { c.NonStrict = true })
	f.m.nextSubscribe(wait)
	if got := f.a.metricsSnapshot()["slave/recovery_errors"]; got != 1 {
		t.Errorf("slave/recovery_errors = %v, want 1", got)
	}
}

// countFiles counts the files named name under dir.
func countFiles(t *testing.T, dir, name string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// nextUpdateOf waits for the next UPDATE of a task; other calls are held.
// (After a re-subscription the heads of all streams go out at once, in no
// particular order.)
func nextUpdateOf(m *fakeMaster, task string) *protocol.AgentCall_Update {
	m.t.Helper()
	return m.nextMatching(func(c *protocol.AgentCall) bool {
		return c.GetType() == protocol.AgentCall_UPDATE && c.GetUpdate().GetStatus().GetTaskId().GetValue() == task
	}, "update of "+task, wait).GetUpdate()
}

// TestNonCheckpointingExecutorIsKilledOnRecovery: an executor of a
// framework that does not checkpoint, still alive after the agent
// stopped, is destroyed by the next agent; the restarted agent does not
// report its task.
func TestNonCheckpointingExecutorIsKilledOnRecovery(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	first := newPosixForTest(t)
	r := newRestartable(t, Config{Masters: []string{m.addr()}, Containerizer: first,
		ExecutorCommand: []string{testExecutorPath}})
	m.nextSubscribe(wait)
	fw := testFramework("fw")
	fw.Checkpoint = proto.Bool(false)
	m.send(runTaskEvent(fw, commandTask("t1", "hang")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	container := findExecutor(t, r.a, "fw", "t1").containerID

	r.restart(newPosixForTest(t), nil)
	sub := m.nextSubscribe(wait).GetSubscribe()
	if len(sub.GetTasks()) != 0 {
		t.Errorf("restarted agent reports %v", sub.GetTasks())
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	st, err := first.Wait(ctx, container)
	if err != nil || !st.Known || !st.WaitStatus.Signaled() || st.WaitStatus.Signal() != syscall.SIGKILL {
		t.Errorf("the orphan executor: %+v, %v; want killed", st, err)
	}
}

// TestRestartFindsAnExecutorWhosePidWasNotCheckpointed: the agent died
// after launching an executor but before writing its forked.pid and its
// task's task.info (the executor already reported on the task). The next
// agent finds the executor by its sandbox, re-adopts it and the task, and
// checkpoints what was missing.
func TestRestartFindsAnExecutorWhosePidWasNotCheckpointed(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	r := newRestartable(t, Config{Masters: []string{m.addr()}, Containerizer: newPosixForTest(t),
		ExecutorCommand: []string{testExecutorPath}})
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "run")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	ex := findExecutor(t, r.a, "fw", "t1")
	waitFor(t, "RUNNING acknowledged", func() bool { return r.a.updates.Head("fw", "t1") == nil })
	must(t, r.stop())
	must(t, os.Remove(forkedPidFile(ex.metaRun)))
	must(t, os.Remove(taskInfoFile(ex.metaRun, "t1")))

	r.restart(newPosixForTest(t), nil)
	sub := m.nextSubscribe(wait).GetSubscribe()
	if task := subscribedTask(t, sub, "t1"); task.GetState() != mesos.TaskState_TASK_RUNNING ||
		scalarSum(task.GetResources(), "cpus") != 0.5 {
		t.Errorf("re-subscribed task %v, want RUNNING with its 0.5 cpus", task)
	}
	if pid := readPid(forkedPidFile(ex.metaRun)); pid != ex.pid {
		t.Errorf("forked.pid after recovery = %d, want %d", pid, ex.pid)
	}
	m.send(killTaskEvent("fw", "t1"))
	killed := m.nextUpdate(wait)
	wantUpdate(t, killed, "t1", mesos.TaskState_TASK_KILLED)
	if killed.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %s, want the re-adopted executor", killed.GetStatus().GetSource())
	}
}

// TestRecoveredContainerRoutesByTheLaunchedContainerInfo: recovery hands a
// checkpointed executor to the containerizer that launched it: a command
// task's own ContainerInfo (a DOCKER task goes back to the docker
// containerizer), a custom executor's ContainerInfo, or none (MESOS).
func TestRecoveredContainerRoutesByTheLaunchedContainerInfo(t *testing.T) {
	docker := &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(),
		Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("busybox")}}
	dockerTask := commandTask("t1", "sleep 600")
	dockerTask.Container = docker
	commandExecutor := commandExecutorInfo(testFramework("fw-1"), dockerTask, []string{"agora", "executor"})
	if got := recoveredContainer(commandExecutor, []*task{{info: dockerTask}}); got.GetType() != mesos.ContainerInfo_DOCKER {
		t.Errorf("command task in DOCKER: recovered as %v", got)
	}
	if got := recoveredContainer(commandExecutor, nil); got != nil {
		t.Errorf("command executor without its task: recovered as %v, want MESOS", got)
	}
	custom := &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("custom")},
		Command: &mesos.CommandInfo{Value: proto.String("./exec")}, Container: docker}
	if got := recoveredContainer(custom, []*task{{info: commandTask("t2", "x")}}); got.GetType() != mesos.ContainerInfo_DOCKER {
		t.Errorf("custom executor in DOCKER: recovered as %v", got)
	}
}
