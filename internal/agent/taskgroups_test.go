package agent

import (
	"testing"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
)

func runTaskGroupEvent(exType mesos.ExecutorInfo_Type, tasks ...*mesos.TaskInfo) *protocol.AgentEvent {
	return &protocol.AgentEvent{Type: protocol.AgentEvent_RUN_TASK_GROUP.Enum(),
		RunTaskGroup: &protocol.AgentEvent_RunTaskGroup{
			Framework: testFramework("fw"),
			Executor: &mesos.ExecutorInfo{Type: exType.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String("default")},
				Resources: []*mesos.Resource{scalarResource("cpus", 0.1, nil), scalarResource("mem", 32, nil)}},
			TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks},
		}}
}

func TestTaskGroupWithoutADefaultExecutorIsRefused(t *testing.T) {
	m := newFakeMaster(t)
	_, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskGroupEvent(mesos.ExecutorInfo_CUSTOM, commandTask("g1", "x"), commandTask("g2", "x")))
	for _, id := range []string{"g1", "g2"} {
		u := m.nextUpdate(wait)
		wantUpdate(t, u, id, mesos.TaskState_TASK_ERROR)
		if u.GetStatus().GetReason() != mesos.TaskStatus_REASON_TASK_GROUP_INVALID {
			t.Errorf("reason %s", u.GetStatus().GetReason())
		}
	}
	if n := len(fc.Specs()); n != 0 {
		t.Errorf("%d containers launched for a refused group", n)
	}
}

// TestTaskGroupRunsInOneBuiltinContainer: the group's tasks share one
// container, of the built-in executor, sized for the executor and every
// task.
func TestTaskGroupRunsInOneBuiltinContainer(t *testing.T) {
	m := newFakeMaster(t)
	a, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskGroupEvent(mesos.ExecutorInfo_DEFAULT, commandTask("g1", "x"), commandTask("g2", "x")))
	spec := nextLaunch(t, fc)
	if !spec.BuiltinExecutor || len(spec.Argv) == 0 || spec.Argv[0] != "/bin/false" {
		t.Fatalf("spec: builtin %v argv %v, want the built-in executor", spec.BuiltinExecutor, spec.Argv)
	}
	cpus, mem := 0.0, 0.0
	for _, r := range spec.Resources {
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	if cpus < 1.09 || cpus > 1.11 || mem != 160 {
		t.Fatalf("container resources cpus %v mem %v, want 1.1 and 160", cpus, mem)
	}
	a.mu.Lock()
	ex := a.frameworks["fw"].executors["default"]
	queued := len(ex.queued)
	a.mu.Unlock()
	if queued != 2 {
		t.Fatalf("%d tasks queued for the executor, want 2", queued)
	}
}

func TestLaunchEventsGroupTheTasksOfAGroup(t *testing.T) {
	g := &mesos.TaskGroupInfo{}
	single := &task{info: commandTask("s", "x")}
	a, b := &task{info: commandTask("a", "x"), group: g}, &task{info: commandTask("b", "x"), group: g}
	evs := launchEvents([]*task{single, a, b})
	if len(evs) != 2 || evs[0].GetType() != executorpb.Event_LAUNCH || evs[1].GetType() != executorpb.Event_LAUNCH_GROUP ||
		len(evs[1].GetLaunchGroup().GetTaskGroup().GetTasks()) != 2 {
		t.Fatalf("events %v", evs)
	}
}
