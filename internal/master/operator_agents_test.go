package master

import (
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	allocatorpb "github.com/agoraproject/agora/api/v1/allocator"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/schedtest"
)

func agentCall(t masterpb.Call_Type, id string) *masterpb.Call {
	c := &masterpb.Call{Type: t.Enum()}
	switch t {
	case masterpb.Call_DEACTIVATE_AGENT:
		c.DeactivateAgent = &masterpb.Call_DeactivateAgent{AgentId: agentIDOf(id)}
	case masterpb.Call_REACTIVATE_AGENT:
		c.ReactivateAgent = &masterpb.Call_ReactivateAgent{AgentId: agentIDOf(id)}
	case masterpb.Call_MARK_AGENT_GONE:
		c.MarkAgentGone = &masterpb.Call_MarkAgentGone{AgentId: agentIDOf(id)}
	}
	return c
}

func drainCall(id string, maxGrace time.Duration, markGone bool) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: &masterpb.Call_DrainAgent{
		AgentId: agentIDOf(id), MaxGracePeriod: durationpb.New(maxGrace), MarkGone: proto.Bool(markGone)}}
}

// runningTask starts a framework (partition-aware if asked) with one
// RUNNING task on the agent, its update acknowledged.
func runningTask(t *testing.T, m *Master, agent *fakeAgent, taskID string, partitionAware bool, grace time.Duration) *schedtest.Scheduler {
	t.Helper()
	info := frameworkInfo("fw-" + taskID)
	if partitionAware {
		info.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	}
	s := subscribe(t, m, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := commandTask(taskID, offer, "sleep 600")
	if grace > 0 {
		task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	}
	accept(s, offer, 3600, launchOp(task))
	agent.next(protocol.AgentEvent_RUN_TASK)
	agent.update(s.FrameworkID, taskID, mesos.TaskState_TASK_RUNNING)
	s.Ack(s.NextUpdate())
	agent.next(protocol.AgentEvent_ACKNOWLEDGE)
	return s
}

// agentEntryOf reads an agent's GET_AGENTS entry (nil if not listed).
func agentEntryOf(t *testing.T, m *Master, id string) *masterpb.Response_GetAgents_Agent {
	t.Helper()
	resp := mustCall(t, m, wire.Protobuf, http.StatusOK, getCall(masterpb.Call_GET_AGENTS))
	for _, a := range resp.GetGetAgents().GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() == id {
			return a
		}
	}
	return nil
}

// waitAgent waits, up to waitFor, until cond holds for the agent's entry.
func waitAgent(t *testing.T, m *Master, id string, what string, cond func(*masterpb.Response_GetAgents_Agent) bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond(agentEntryOf(t, m, id)) {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s: not %s within %s: %v", id, what, waitFor, agentEntryOf(t, m, id))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDrainAgent: DRAIN_AGENT deactivates the agent and kills its task
// with the grace period capped; once the kill is acknowledged the agent is
// DRAINED; REACTIVATE_AGENT ends it. With mark_gone the drained agent is
// then gone.
func TestDrainAgent(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "drain.example", "cpus:2;mem:1024")
	s := runningTask(t, m, agent, "drained-task", false, 30*time.Second)
	mustCall(t, m, wire.JSON, http.StatusOK, drainCall(agent.id, 2*time.Second, false))
	kill := agent.next(protocol.AgentEvent_KILL_TASK).GetKillTask()
	if kill.GetTaskId().GetValue() != "drained-task" || kill.GetKillPolicy().GetGracePeriod().GetNanoseconds() != int64(2*time.Second) {
		t.Fatalf("KILL_TASK %v, want the task with a 2s grace period", kill)
	}
	entry := agentEntryOf(t, m, agent.id)
	if entry.GetDrainInfo().GetState() != mesos.DrainState_DRAINING || !entry.GetDeactivated() || entry.GetActive() {
		t.Fatalf("draining agent entry %v", entry)
	}
	agent.update(s.FrameworkID, "drained-task", mesos.TaskState_TASK_KILLED)
	s.Ack(s.NextUpdate())
	waitAgent(t, m, agent.id, "DRAINED", func(a *masterpb.Response_GetAgents_Agent) bool {
		return a.GetDrainInfo().GetState() == mesos.DrainState_DRAINED
	})
	if _, ok := s.NextWithin(200*time.Millisecond, sched.Event_OFFERS); ok {
		t.Fatal("a drained agent was offered")
	}
	mustCall(t, m, wire.Protobuf, http.StatusOK, agentCall(masterpb.Call_REACTIVATE_AGENT, agent.id))
	if e := agentEntryOf(t, m, agent.id); e.DrainInfo != nil || e.GetDeactivated() {
		t.Fatalf("after REACTIVATE_AGENT: %v", e)
	}
	s.MustCall(&sched.Call{Type: sched.Call_REVIVE.Enum()})
	s.Next(sched.Event_OFFERS)

	mustCall(t, m, wire.Protobuf, http.StatusOK, drainCall(agent.id, 0, true))
	if ev := agent.next(protocol.AgentEvent_SHUTDOWN); ev.GetShutdown().GetMessage() == "" {
		t.Fatalf("SHUTDOWN %v", ev)
	}
	waitAgent(t, m, agent.id, "gone", func(a *masterpb.Response_GetAgents_Agent) bool { return a == nil })
	mustCall(t, m, wire.JSON, http.StatusBadRequest, drainCall("no-such-agent", 0, false))
}

// TestMarkAgentGone: the agent's tasks end TASK_GONE_BY_OPERATOR (TASK_LOST
// for a framework that is not partition-aware), the agent is told to shut
// down and may not come back; marking it again is fine, an unknown agent
// is 404.
func TestMarkAgentGone(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "gone.example", "cpus:2;mem:1024")
	aware := runningTask(t, m, agent, "aware-task", true, 0)
	plain := runningTask(t, m, agent, "plain-task", false, 0)
	sub := subscribeOperator(t, m, wire.JSON)
	sub.next()
	mustCall(t, m, wire.JSON, http.StatusOK, agentCall(masterpb.Call_MARK_AGENT_GONE, agent.id))
	for _, c := range []struct {
		s    *schedtest.Scheduler
		want mesos.TaskState
	}{{aware, mesos.TaskState_TASK_GONE_BY_OPERATOR}, {plain, mesos.TaskState_TASK_LOST}} {
		st := c.s.NextUpdate()
		if st.GetState() != c.want || st.GetReason() != mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR {
			t.Errorf("update %s %s, want %s", st.GetState(), st.GetReason(), c.want)
		}
	}
	agent.next(protocol.AgentEvent_SHUTDOWN)
	if ev := sub.nextOf(masterpb.Event_AGENT_REMOVED); ev.GetAgentRemoved().GetAgentId().GetValue() != agent.id {
		t.Fatalf("AGENT_REMOVED %v", ev.Event)
	}
	mustCall(t, m, wire.Protobuf, http.StatusOK, agentCall(masterpb.Call_MARK_AGENT_GONE, agent.id))
	mustCall(t, m, wire.Protobuf, http.StatusNotFound, agentCall(masterpb.Call_MARK_AGENT_GONE, "no-such-agent"))
	if agentEntryOf(t, m, agent.id) != nil {
		t.Fatal("a gone agent is listed")
	}
}

// TestDeactivateAgent: a deactivated agent's offers are rescinded and it
// is offered again once reactivated; both calls are idempotent.
func TestDeactivateAgent(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "deact.example", "cpus:2;mem:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("deact"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	for range 2 {
		mustCall(t, m, wire.JSON, http.StatusOK, agentCall(masterpb.Call_DEACTIVATE_AGENT, agent.id))
	}
	if got := s.Next(sched.Event_RESCIND).GetRescind().GetOfferId().GetValue(); got != offer.GetId().GetValue() {
		t.Fatalf("rescinded %s", got)
	}
	if e := agentEntryOf(t, m, agent.id); e.GetActive() || !e.GetDeactivated() {
		t.Fatalf("deactivated entry %v", e)
	}
	if _, ok := s.NextWithin(200*time.Millisecond, sched.Event_OFFERS); ok {
		t.Fatal("a deactivated agent was offered")
	}
	for range 2 {
		mustCall(t, m, wire.Protobuf, http.StatusOK, agentCall(masterpb.Call_REACTIVATE_AGENT, agent.id))
	}
	s.Next(sched.Event_OFFERS)
	mustCall(t, m, wire.JSON, http.StatusBadRequest, agentCall(masterpb.Call_DEACTIVATE_AGENT, "no-such-agent"))
}

// TestOperatorTeardown removes a framework: its task is killed and it is a
// completed framework; an unknown one is 400.
func TestOperatorTeardown(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "td.example", "cpus:2;mem:1024")
	s := runningTask(t, m, agent, "td-task", false, 0)
	call := &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
		Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}}}
	mustCall(t, m, wire.JSON, http.StatusOK, call)
	if sf := agent.next(protocol.AgentEvent_SHUTDOWN_FRAMEWORK); sf.GetShutdownFramework().GetFrameworkId().GetValue() != s.FrameworkID {
		t.Fatalf("SHUTDOWN_FRAMEWORK %v", sf)
	}
	resp := mustCall(t, m, wire.Protobuf, http.StatusOK, getCall(masterpb.Call_GET_FRAMEWORKS))
	if f := resp.GetGetFrameworks(); len(f.GetFrameworks()) != 0 || len(f.GetCompletedFrameworks()) != 1 {
		t.Fatalf("GET_FRAMEWORKS after TEARDOWN: %v", f)
	}
	mustCall(t, m, wire.Protobuf, http.StatusBadRequest, call)
}

// TestMaintenance: a schedule covering an agent's machine makes the
// framework running there get an inverse offer and its offers carry the
// unavailability; its answer is the machine's status. START_MAINTENANCE
// shuts the agent down and keeps it out; STOP_MAINTENANCE lets it back.
func TestMaintenance(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "m1.example", "cpus:2;mem:1024")
	s := runningTask(t, m, agent, "maint-task", true, 0)
	machine := &mesos.MachineID{Hostname: proto.String("m1.example"), Ip: proto.String("127.0.0.1")}
	mustCall(t, m, wire.JSON, http.StatusOK, scheduleCall(window(600, machine)))
	mustCall(t, m, wire.JSON, http.StatusBadRequest, scheduleCall(window(600, machine), window(60, machine)))

	io := s.Next(sched.Event_INVERSE_OFFERS).GetInverseOffers().GetInverseOffers()[0]
	if io.GetAgentId().GetValue() != agent.id || io.GetUnavailability().GetDuration().GetNanoseconds() != 600e9 {
		t.Fatalf("inverse offer %v", io)
	}
	s.MustCall(&sched.Call{Type: sched.Call_REVIVE.Enum()})
	if o := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]; o.GetUnavailability().GetStart().GetNanoseconds() != 1700000000000000000 {
		t.Fatalf("offer of a draining machine without unavailability: %v", o)
	}
	s.MustCall(&sched.Call{Type: sched.Call_ACCEPT_INVERSE_OFFERS.Enum(),
		AcceptInverseOffers: &sched.Call_AcceptInverseOffers{InverseOfferIds: []*mesos.OfferID{io.GetId()}}})
	status := mustCall(t, m, wire.JSON, http.StatusOK, getCall(masterpb.Call_GET_MAINTENANCE_STATUS)).GetGetMaintenanceStatus().GetStatus()
	draining := status.GetDrainingMachines()
	if len(draining) != 1 || len(draining[0].GetStatuses()) != 1 ||
		draining[0].GetStatuses()[0].GetStatus() != allocatorpb.InverseOfferStatus_ACCEPT {
		t.Fatalf("maintenance status %v", status)
	}

	machines := &masterpb.Call_StartMaintenance{Machines: []*mesos.MachineID{machine}}
	mustCall(t, m, wire.Protobuf, http.StatusOK, &masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(), StartMaintenance: machines})
	agent.next(protocol.AgentEvent_SHUTDOWN)
	if st := s.NextUpdate(); st.GetState() != mesos.TaskState_TASK_GONE_BY_OPERATOR {
		t.Fatalf("task on a machine going down: %s", st.GetState())
	}
	status = mustCall(t, m, wire.JSON, http.StatusOK, getCall(masterpb.Call_GET_MAINTENANCE_STATUS)).GetGetMaintenanceStatus().GetStatus()
	if len(status.GetDownMachines()) != 1 || len(status.GetDrainingMachines()) != 0 {
		t.Fatalf("status after START_MAINTENANCE %v", status)
	}
	refusedAgentSubscribe(t, m, "m1.example")

	mustCall(t, m, wire.Protobuf, http.StatusOK, &masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum(),
		StopMaintenance: &masterpb.Call_StopMaintenance{Machines: []*mesos.MachineID{machine}}})
	left := mustCall(t, m, wire.JSON, http.StatusOK, getCall(masterpb.Call_GET_MAINTENANCE_SCHEDULE)).GetGetMaintenanceSchedule()
	if len(left.GetSchedule().GetWindows()) != 0 {
		t.Fatalf("schedule after STOP_MAINTENANCE %v", left)
	}
	startFakeAgent(t, m, "m1.example", "cpus:2;mem:1024")
}

// refusedAgentSubscribe checks that an agent subscribing from hostname is
// told to shut down at once.
func refusedAgentSubscribe(t *testing.T, m *Master, hostname string) {
	t.Helper()
	a := &fakeAgent{t: t, m: m, events: make(chan *protocol.AgentEvent, 16)}
	call := &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: &protocol.AgentCall_Subscribe{
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String(hostname), Resources: schedtestScalars("cpus", 1)}}}
	body, _ := proto.Marshal(call)
	a.resp = post(t, m, "/agora/v1/agent", body, map[string]string{"Content-Type": wire.MediaProtobuf, "Accept": wire.MediaProtobuf})
	t.Cleanup(func() { a.resp.Body.Close() })
	go a.read()
	a.next(protocol.AgentEvent_SHUTDOWN)
}

// TestLoggingLevelAndFiles: SET_LOGGING_LEVEL changes the level for its
// duration; without a log file every path is 404; bad calls are 400.
func TestLoggingLevelAndFiles(t *testing.T) {
	m := startMaster(t, nil)
	set := func(level uint32, d time.Duration) *masterpb.Call {
		return &masterpb.Call{Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &masterpb.Call_SetLoggingLevel{
			Level: proto.Uint32(level), Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(d))}}}
	}
	mustCall(t, m, wire.JSON, http.StatusOK, set(2, time.Hour))
	if got := mustCall(t, m, wire.Protobuf, http.StatusOK, getCall(masterpb.Call_GET_LOGGING_LEVEL)).GetGetLoggingLevel().GetLevel(); got != 2 {
		t.Fatalf("level %d after SET_LOGGING_LEVEL 2", got)
	}
	mustCall(t, m, wire.Protobuf, http.StatusOK, set(1, 50*time.Millisecond))
	deadline := time.Now().Add(waitFor)
	for mustCall(t, m, wire.JSON, http.StatusOK, getCall(masterpb.Call_GET_LOGGING_LEVEL)).GetGetLoggingLevel().GetLevel() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the logging level did not revert")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustCall(t, m, wire.JSON, http.StatusBadRequest, set(1, 0))
	mustCall(t, m, wire.JSON, http.StatusBadRequest, getCall(masterpb.Call_SET_LOGGING_LEVEL))
	mustCall(t, m, wire.JSON, http.StatusNotFound, &masterpb.Call{Type: masterpb.Call_LIST_FILES.Enum(),
		ListFiles: &masterpb.Call_ListFiles{Path: proto.String("/master/log")}})
	mustCall(t, m, wire.Protobuf, http.StatusNotFound, &masterpb.Call{Type: masterpb.Call_READ_FILE.Enum(),
		ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/etc/passwd"), Offset: proto.Uint64(0)}})
}
