package e2e

import (
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestAgentUnreachableAndBack: an agent that stops answering pings (SIGSTOP)
// is marked unreachable — partition-aware frameworks see TASK_UNREACHABLE,
// others TASK_LOST, both get FAILURE — and when it comes back (SIGCONT) it
// re-registers and its tasks are announced RUNNING again.
func TestAgentUnreachableAndBack(t *testing.T) {
	c := startClusterWith(t, []string{"--agent_ping_timeout=300ms", "--max_agent_ping_timeouts=3"}, "127.0.0.2")
	aware := schedtest.FrameworkInfo("aware")
	aware.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	pa := schedtest.Subscribe(t, c.master, wire.JSON, aware)
	offer := pa.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	pa.Launch(offer, shortTask("pa-task", offer, "sleep 600"), shortTask("pa-task-2", offer, "sleep 600"))
	waitForAll(t, pa, mesos.TaskState_TASK_RUNNING, "pa-task", "pa-task-2")

	plain := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("plain"))
	offer2 := plain.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	plain.Launch(offer2, shortTask("plain-task", offer2, "sleep 600"))
	waitForState(t, plain, "plain-task", mesos.TaskState_TASK_RUNNING)

	agent := c.agents[0].proc.cmd.Process.Pid
	syscall.Kill(agent, syscall.SIGSTOP)
	t.Cleanup(func() { syscall.Kill(agent, syscall.SIGCONT) })

	for _, tc := range []struct {
		s    *schedtest.Scheduler
		task string
		want mesos.TaskState
	}{{pa, "pa-task", mesos.TaskState_TASK_UNREACHABLE}, {plain, "plain-task", mesos.TaskState_TASK_LOST}} {
		st := waitForStatus(t, tc.s, tc.task)
		if st.GetState() != tc.want || st.GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED || st.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
			t.Fatalf("%s: %v %v %v, want %v REASON_AGENT_REMOVED from the master", tc.task, st.GetState(), st.GetReason(), st.GetSource(), tc.want)
		}
		if tc.want == mesos.TaskState_TASK_UNREACHABLE && st.UnreachableTime == nil {
			t.Errorf("TASK_UNREACHABLE without unreachable_time")
		}
		if f := tc.s.Next(sched.Event_FAILURE).GetFailure(); f.GetAgentId().GetValue() != offer.GetAgentId().GetValue() {
			t.Errorf("FAILURE for agent %v", f.GetAgentId())
		}
	}
	state, _ := getJSON("http://" + c.master + "/master/state")
	if state["unreachable_slaves"] != 1.0 {
		t.Errorf("unreachable_slaves = %v", state["unreachable_slaves"])
	}

	syscall.Kill(agent, syscall.SIGCONT)
	back := waitForStatus(t, pa, "pa-task")
	if back.GetState() != mesos.TaskState_TASK_RUNNING || back.GetReason() != mesos.TaskStatus_REASON_AGENT_REREGISTERED {
		t.Fatalf("after the agent returned: %v %v", back.GetState(), back.GetReason())
	}
	pa.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{
		Tasks: []*sched.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: proto.String("pa-task-2")}}}}})
	for {
		st := pa.NextUpdate()
		if st.GetTaskId().GetValue() == "pa-task-2" && st.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION {
			if st.GetState() != mesos.TaskState_TASK_RUNNING {
				t.Fatalf("reconciled pa-task-2 as %v", st.GetState())
			}
			break
		}
	}
}

// waitForStatus returns the next update for a task, acknowledging all.
func waitForStatus(t *testing.T, s *schedtest.Scheduler, taskID string) *mesos.TaskStatus {
	t.Helper()
	for {
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetTaskId().GetValue() == taskID {
			return st
		}
	}
}
