package e2e

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// checkpointingFramework is a framework whose executors survive an agent
// restart.
func checkpointingFramework(name string) *mesos.FrameworkInfo {
	info := schedtest.FrameworkInfo(name)
	info.Checkpoint = proto.Bool(true)
	return info
}

// agentID is the ID an agent's /state reports ("" before it registered).
func agentID(a *agentProc) string {
	state, ok := getJSON("http://" + a.addr + "/state")
	if !ok {
		return ""
	}
	id, _ := state["id"].(string)
	return id
}

// restart kill -9s an agent (its executors live in their own sessions,
// outside its process group) and starts it again with extra flags.
func (a *agentProc) restart(t *testing.T, name string, extra ...string) {
	t.Helper()
	a.proc.stop(syscall.SIGKILL, 5*time.Second)
	a.proc = startAgora(t, name, append(slices.Clone(a.args), extra...)...)
	waitUntil(t, name+" /health", 10*time.Second, func() bool { return httpOK("http://" + a.addr + "/health") })
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	rest := stat[bytes.LastIndexByte(stat, ')')+1:]
	return len(rest) > 1 && rest[1] == 'Z'
}

// alive reports whether every pid is a live process.
func alive(pids []int) bool {
	for _, pid := range pids {
		if syscall.Kill(pid, 0) != nil || zombie(pid) {
			return false
		}
	}
	return len(pids) > 0
}

// TestAgentRestartKeepsTasks: kill -9 the agent while a checkpointing
// framework's tasks run and one task's TASK_RUNNING is not acknowledged
// (the framework holds the ack back). The restarted agent has the same
// ID; the executors and tasks are the same processes; the pending update
// is delivered again (same uuid) and its ack is taken; the re-subscribed
// executor carries out a kill.
func TestAgentRestartKeepsTasks(t *testing.T) {
	for _, mode := range executorModes {
		t.Run(mode.name, func(t *testing.T) { testAgentRestartKeepsTasks(t, startClusterIn(t, mode.agentFlags)) })
	}
}

func testAgentRestartKeepsTasks(t *testing.T, c *cluster) {
	ag := c.agents[0]
	s := schedtest.Subscribe(t, c.master, wire.JSON, checkpointingFramework("restart"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, schedtest.CommandTask("held", offer, "sleep 600"), schedtest.CommandTask("acked", offer, "sleep 600"))
	var held *mesos.TaskStatus
	for running := 0; running < 2; {
		st := s.NextUpdate()
		if st.GetState() == mesos.TaskState_TASK_RUNNING {
			running++
			if st.GetTaskId().GetValue() == "held" {
				held = st
				continue // no ACK
			}
		}
		if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %v: %s", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage())
		}
		s.Ack(st)
	}
	id := agentID(ag)
	before := tasksStarted(t, ag, 2)

	ag.restart(t, "agent1-restarted")
	if after := agentID(ag); after != "" && after != id {
		t.Fatalf("restarted agent has ID %q, want %q", after, id)
	}
	again := waitForUUID(t, s, held.GetUuid())
	if again.GetState() != mesos.TaskState_TASK_RUNNING || again.GetTaskId().GetValue() != "held" {
		t.Fatalf("pending update after the restart: %v", again)
	}
	s.Ack(again)
	waitUntil(t, "the agent registered with the same ID", 10*time.Second, func() bool { return agentID(ag) == id })
	if after := leftoverExecutors(ag.workDir); !slices.Equal(after, before) || !alive(after) {
		t.Fatalf("processes after the restart: %v, want the same %v alive", after, before)
	}

	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("held")}, AgentId: offer.GetAgentId()}})
	killed := waitForState(t, s, "held", mesos.TaskState_TASK_KILLED)
	if killed.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %v, want the re-subscribed executor", killed.GetSource())
	}
	s.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{
		Tasks: []*sched.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("acked")}, AgentId: offer.GetAgentId()}}}})
	for {
		st := s.NextUpdate()
		if st.GetTaskId().GetValue() == "acked" && st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
			if st.GetState() != mesos.TaskState_TASK_RUNNING {
				t.Fatalf("reconciled the surviving task as %v", st.GetState())
			}
			break
		}
		s.Ack(st)
	}
}

// tasksStarted waits until n `sleep` tasks run under the agent (the
// executor reports TASK_RUNNING once the shell is started, which may not
// have started sleep yet) and returns the agent's processes.
func tasksStarted(t *testing.T, a *agentProc, n int) []int {
	t.Helper()
	var pids []int
	waitUntil(t, strconv.Itoa(n)+" tasks running", 10*time.Second, func() bool {
		pids = leftoverExecutors(a.workDir)
		sleeps := 0
		for _, pid := range pids {
			if cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); bytes.HasPrefix(cmd, []byte("sleep\x00")) {
				sleeps++
			}
		}
		return sleeps == n
	})
	return pids
}

// waitForUUID returns the next update carrying uuid, acknowledging the
// others.
func waitForUUID(t *testing.T, s *schedtest.Scheduler, uuid []byte) *mesos.TaskStatus {
	t.Helper()
	for {
		st := s.NextUpdate()
		if bytes.Equal(st.GetUuid(), uuid) {
			return st
		}
		s.Ack(st)
	}
}

// TestAgentRestartWithCleanup: an agent restarted with --recover=cleanup
// kills the previous run's executors and tasks, and registers as a new
// agent.
func TestAgentRestartWithCleanup(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	ag := c.agents[0]
	s := schedtest.Subscribe(t, c.master, wire.JSON, checkpointingFramework("cleanup"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, schedtest.CommandTask("doomed", offer, "sleep 600"))
	waitForState(t, s, "doomed", mesos.TaskState_TASK_RUNNING)
	id := agentID(ag)
	before := tasksStarted(t, ag, 1)

	ag.restart(t, "agent1-cleanup", "--recover=cleanup")
	host := executorHostPid(ag.workDir) // it serves the new agent too
	waitUntil(t, "the previous executor and task gone", 10*time.Second, func() bool {
		for _, pid := range before {
			if pid != host && syscall.Kill(pid, 0) == nil && !zombie(pid) {
				return false
			}
		}
		return true
	})
	waitUntil(t, "registered as a new agent", 10*time.Second, func() bool {
		now := agentID(ag)
		return now != "" && now != id
	})
}
