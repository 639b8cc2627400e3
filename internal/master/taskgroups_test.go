package master

import (
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/schedtest"
)

func defaultExecutor(id string) *mesos.ExecutorInfo {
	return &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String(id)},
		Resources:  []*mesos.Resource{schedtest.Scalar("cpus", 0.1), schedtest.Scalar("mem", 32), schedtest.Scalar("disk", 10)},
	}
}

func launchGroup(s *schedtest.Scheduler, offer *mesos.Offer, ex *mesos.ExecutorInfo, tasks ...*mesos.TaskInfo) {
	s.MustCall(&sched.Call{
		Type: sched.Call_ACCEPT.Enum(),
		Accept: &sched.Call_Accept{
			OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{{
				Type:        mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
				LaunchGroup: &mesos.Offer_Operation_LaunchGroup{Executor: ex, TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks}},
			}},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)},
		},
	})
}

func offeredCPUs(o *mesos.Offer) float64 {
	total := 0.0
	for _, r := range o.GetResources() {
		if r.GetName() == "cpus" {
			total += r.GetScalar().GetValue()
		}
	}
	return math.Round(total*1000) / 1000
}

// TestLaunchGroupSendsOneRunTaskGroupAndChargesTheExecutorOnce: a group
// reaches the agent as one RUN_TASK_GROUP; a second group on the same
// executor is charged its tasks only.
func TestLaunchGroupSendsOneRunTaskGroupAndChargesTheExecutorOnce(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "agent1", "cpus:1;mem:1024;disk:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("groups"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	launchGroup(s, offer, defaultExecutor("default"), commandTask("a", offer, "true"), commandTask("b", offer, "true"))
	ev := agent.next(protocol.AgentEvent_RUN_TASK_GROUP).GetRunTaskGroup()
	if n := len(ev.GetTaskGroup().GetTasks()); n != 2 || ev.GetExecutor().GetType() != mesos.ExecutorInfo_DEFAULT ||
		ev.GetExecutor().GetFrameworkId().GetValue() == "" {
		t.Fatalf("RUN_TASK_GROUP %v", ev)
	}
	offer = s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	if got := offeredCPUs(offer); got != 0.7 {
		t.Fatalf("offered %v cpus after the first group, want 0.7 (executor 0.1 + 2 × 0.1)", got)
	}
	launchGroup(s, offer, defaultExecutor("default"), commandTask("c", offer, "true"))
	agent.next(protocol.AgentEvent_RUN_TASK_GROUP)
	offer = s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	if got := offeredCPUs(offer); got != 0.6 {
		t.Fatalf("offered %v cpus after the second group, want 0.6 (the executor charged once)", got)
	}
}

// TestInvalidTaskGroupsFailWhole: one bad task or a bad executor fails
// every task of the group with REASON_TASK_GROUP_INVALID.
func TestInvalidTaskGroupsFailWhole(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "agent1", "cpus:1;mem:1024;disk:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("bad-groups"))
	cases := map[string]func(*mesos.ExecutorInfo, *mesos.TaskInfo){
		"custom executor": func(ex *mesos.ExecutorInfo, _ *mesos.TaskInfo) { ex.Type = mesos.ExecutorInfo_CUSTOM.Enum() },
		"no disk":         func(ex *mesos.ExecutorInfo, _ *mesos.TaskInfo) { ex.Resources = ex.Resources[:2] },
		"docker task": func(_ *mesos.ExecutorInfo, ti *mesos.TaskInfo) {
			ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("x")}}
		},
		"task with executor": func(_ *mesos.ExecutorInfo, ti *mesos.TaskInfo) { ti.Executor = defaultExecutor("x") },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
			ex, good, bad := defaultExecutor("d-"+name), commandTask("good-"+name, offer, "true"), commandTask("bad-"+name, offer, "true")
			spoil(ex, bad)
			launchGroup(s, offer, ex, good, bad)
			for range 2 {
				st := s.Next(sched.Event_UPDATE).GetUpdate().GetStatus()
				if st.GetState() != mesos.TaskState_TASK_ERROR || st.GetReason() != mesos.TaskStatus_REASON_TASK_GROUP_INVALID {
					t.Fatalf("update %v", st)
				}
			}
		})
	}
}
