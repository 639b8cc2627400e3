package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestCustomExecutor: a task with an ExecutorInfo runs its executor (a Go
// program built here) which subscribes to the agent over protobuf, gets the
// LAUNCH, and reports updates that reach the scheduler.
func TestCustomExecutor(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "customexecutor")
	build := exec.Command("go", "build", "-o", bin, "./testdata/customexecutor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the custom executor: %v\n%s", err, out)
	}
	c := startCluster(t, "127.0.0.2")
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("custom"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := &mesos.TaskInfo{
		Name:      proto.String("custom-task"),
		TaskId:    &mesos.TaskID{Value: proto.String("custom-task")},
		AgentId:   offer.GetAgentId(),
		Resources: []*mesos.Resource{schedtest.Scalar("cpus", 0.1), schedtest.Scalar("mem", 32)},
		Data:      []byte("hi"),
		Executor: &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String("my-executor")},
			Name:       proto.String("my executor"),
			Command:    &mesos.CommandInfo{Value: proto.String(bin), Shell: proto.Bool(false), Arguments: []string{bin}},
			Resources:  []*mesos.Resource{schedtest.Scalar("cpus", 0.1), schedtest.Scalar("mem", 32)},
		},
	}
	s.Launch(offer, task)
	for _, want := range []mesos.TaskState{mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
		st := s.NextUpdate()
		if st.GetState() != want || st.GetExecutorId().GetValue() != "my-executor" {
			t.Fatalf("got %v from %v (%s), want %v", st.GetState(), st.GetExecutorId(), st.GetMessage(), want)
		}
		if st.GetMessage() != "custom executor says hi" {
			t.Errorf("message %q: the task's data did not reach the executor", st.GetMessage())
		}
		s.Ack(st)
	}
}
