package agent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/protocol"
)

const wait = 10 * time.Second

// noUpdateWaiting fails if the master already holds an UPDATE.
func noUpdateWaiting(t *testing.T, m *fakeMaster) {
	t.Helper()
	if m.holdsUpdate() {
		t.Fatal("unexpected update in flight")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func countRecords(path string) (updates, acks int) {
	recs, _ := readUpdateRecords(path)
	for _, r := range recs {
		if r.Update != nil {
			updates++
		} else {
			acks++
		}
	}
	return updates, acks
}

func TestCommandTaskRunsToFinishedWithOrderedAcknowledgedUpdates(t *testing.T) {
	m := newFakeMaster(t)
	a := realAgent(t, m)
	first := m.nextSubscribe(wait)
	if first.GetSubscribe().GetAgentInfo().Id != nil {
		t.Errorf("first SUBSCRIBE carries an agent ID: %v", first.GetSubscribe().GetAgentInfo())
	}
	fw := testFramework("fw-1")
	m.send(runTaskEvent(fw, commandTask("t1", "finish hello sandbox")))

	starting := m.nextUpdate(wait)
	wantUpdate(t, starting, "t1", mesos.TaskState_TASK_STARTING)
	if starting.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("source = %s", starting.GetStatus().GetSource())
	}

	// The executor sent all three updates; all are checkpointed but only
	// the head went to the master.
	ex := findExecutor(t, a, "fw-1", "t1")
	updatesFile := taskUpdatesFile(ex.metaRun, "t1")
	waitFor(t, "three checkpointed updates", func() bool { n, _ := countRecords(updatesFile); return n == 3 })
	noUpdateWaiting(t, m)

	// A lost stream: the agent re-subscribes with its ID and running task,
	// and re-sends the same head.
	m.srv.CloseClientConnections()
	again := m.nextSubscribe(wait).GetSubscribe()
	if again.GetAgentInfo().GetId().GetValue() != m.agentID {
		t.Errorf("re-subscription agent id = %v", again.GetAgentInfo().GetId())
	}
	if len(again.GetFrameworks()) != 1 || len(again.GetTasks()) != 1 ||
		again.GetTasks()[0].GetStatusUpdateState() != mesos.TaskState_TASK_STARTING {
		t.Errorf("re-subscription frameworks=%d tasks=%v", len(again.GetFrameworks()), again.GetTasks())
	}
	resent := m.nextUpdate(wait)
	if !bytes.Equal(resent.GetStatus().GetUuid(), starting.GetStatus().GetUuid()) {
		t.Fatalf("re-sent %v, want the STARTING head again", resent.GetStatus())
	}
	if resent.GetLatestState() != mesos.TaskState_TASK_FINISHED {
		t.Errorf("latest_state = %s, want TASK_FINISHED", resent.GetLatestState())
	}

	m.send(ackEvent(starting))
	running := m.nextUpdate(wait)
	wantUpdate(t, running, "t1", mesos.TaskState_TASK_RUNNING)
	m.send(ackEvent(running))
	finished := m.nextUpdate(wait)
	wantUpdate(t, finished, "t1", mesos.TaskState_TASK_FINISHED)
	m.send(ackEvent(finished))

	// (EXECUTOR_EXITED may have gone out while the stream was down; it is
	// best-effort, and the re-subscription's executor list tells the same.)
	waitFor(t, "three acks checkpointed", func() bool { _, n := countRecords(updatesFile); return n == 3 })
	out, err := os.ReadFile(filepath.Join(ex.directory, "stdout"))
	if err != nil || !strings.Contains(string(out), "hello sandbox\n") {
		t.Errorf("sandbox stdout = %q, %v", out, err)
	}
	waitFor(t, "the framework to complete", func() bool {
		s := a.state()
		return len(s.Frameworks) == 0 && len(s.CompletedFrameworks) == 1
	})
	done := a.state().CompletedFrameworks[0].CompletedExecutors[0]
	if done.ID != "t1" || len(done.CompletedTasks) != 1 || done.CompletedTasks[0].State != "TASK_FINISHED" {
		t.Errorf("completed executor = %+v", done)
	}
	// The containerizer does not keep a record per task for ever.
	if _, err := a.cont.Wait(context.Background(), ex.containerID); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("the ended container is still known: %v", err)
	}
}

func findExecutor(t *testing.T, a *Agent, fid, eid string) *executor {
	t.Helper()
	var ex *executor
	waitFor(t, "executor "+eid, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		if fw := a.frameworks[fid]; fw != nil {
			ex = fw.executors[eid]
		}
		return ex != nil
	})
	return ex
}

func TestKillReachesTheExecutor(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	realAgent(t, m)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "run")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	m.send(killTaskEvent("fw-1", "t1"))
	killed, _ := updateAndExit(m)
	wantUpdate(t, killed, "t1", mesos.TaskState_TASK_KILLED)
	if killed.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %s, want the executor", killed.GetStatus().GetSource())
	}
}

// updateAndExit waits for the next UPDATE and an EXECUTOR_EXITED, which
// may come in any order (EXECUTOR_EXITED does not wait for acks; updates
// do).
func updateAndExit(m *fakeMaster) (*protocol.AgentCall_Update, *protocol.AgentCall_ExecutorExited) {
	m.t.Helper()
	u := m.nextUpdate(wait)
	return u, m.nextCallOf(protocol.AgentCall_EXECUTOR_EXITED, wait).GetExecutorExited()
}

func TestExecutorThatDiesFailsItsTask(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	realAgent(t, m)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "crash")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	// EXECUTOR_EXITED may come before RUNNING, between RUNNING and the
	// agent's TASK_FAILED, or after it: updates wait for acknowledgements.
	failed, exited := updateAndExit(m)
	wantUpdate(t, failed, "t1", mesos.TaskState_TASK_FAILED)
	st := failed.GetStatus()
	if st.GetSource() != mesos.TaskStatus_SOURCE_AGENT || st.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_TERMINATED ||
		!strings.Contains(st.GetMessage(), "exited with status 3") {
		t.Errorf("failure status = %v", st)
	}
	if exited.GetStatus() != 3<<8 {
		t.Errorf("EXECUTOR_EXITED status = %#x, want exit 3", exited.GetStatus())
	}
}

func TestShutdownDestroysExecutorsAndStopsRun(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	p := newPosixForTest(t)
	a, err := New(Config{WorkDir: t.TempDir(), Masters: []string{m.addr()}, ListenAddr: "127.0.0.1:0",
		Resources: "cpus:1;mem:128;disk:128", RegistrationBackoff: time.Millisecond,
		Containerizer: p, ExecutorCommand: []string{testExecutorPath}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(t.Context()) }()
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "run")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	ex := findExecutor(t, a, "fw-1", "t1")
	m.send(&protocol.AgentEvent{Type: protocol.AgentEvent_SHUTDOWN.Enum(),
		Shutdown: &protocol.AgentEvent_Shutdown{Message: proto.String("removed")}})
	select {
	case err := <-done:
		if !errors.Is(err, ErrShutdown) {
			t.Fatalf("Run = %v, want ErrShutdown", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after SHUTDOWN")
	}
	st, err := p.Ended(t.Context(), ex.containerID)
	if err != nil || !st.Destroyed {
		t.Errorf("container after SHUTDOWN: %+v, %v", st, err)
	}
}
