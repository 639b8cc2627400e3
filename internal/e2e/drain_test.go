package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/client/operator"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestDrainAgent drains a real agent through the operator API: a task that
// ignores SIGTERM and asks for a 60 s grace period is killed within the
// 1 s max_grace_period; once its TASK_KILLED is acknowledged the agent is
// DRAINED, and with mark_gone it is then gone: operator subscribers see
// AGENT_REMOVED and the agent process, told to shut down, exits.
func TestDrainAgent(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op := operator.New(c.master)
	events, err := op.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()

	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("drained"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := schedtest.CommandTask("stubborn", offer, "trap '' TERM; sleep 600")
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(60 * time.Second))}}
	s.Launch(offer, task)
	waitForState(t, s, "stubborn", mesos.TaskState_TASK_RUNNING)

	agentID := offer.GetAgentId().GetValue()
	start := time.Now()
	if err := op.DrainAgent(ctx, agentID, time.Second, true); err != nil {
		t.Fatal(err)
	}
	waitForState(t, s, "stubborn", mesos.TaskState_TASK_KILLED)
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("TASK_KILLED %s after DRAIN_AGENT: the 1 s max_grace_period did not cap the 60 s grace", took)
	}
	for {
		ev, err := events.Next()
		if err != nil {
			t.Fatalf("operator event stream: %v", err)
		}
		if ev.GetType() == masterpb.Event_AGENT_REMOVED && ev.GetAgentRemoved().GetAgentId().GetValue() == agentID {
			break
		}
	}
	select {
	case <-c.agents[0].proc.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the drained, gone agent did not shut down")
	}
	agents, err := op.GetAgents(ctx)
	if err != nil || len(agents.GetAgents()) != 0 {
		t.Fatalf("GET_AGENTS after the agent is gone: %v %v", agents, err)
	}
	// The executor host leaves once idle and unwatched.
	waitUntil(t, "the drained agent's processes gone", 10*time.Second, func() bool {
		return len(leftoverExecutors(c.agents[0].workDir)) == 0
	})
}
