package master

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/schedtest"
)

func TestSchedulerRequestLadder(t *testing.T) {
	m := startMaster(t, nil)
	s := subscribe(t, m, wire.JSON, frameworkInfo("ladder"))
	subscribeBody := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x"}}}`
	reviveBody := `{"type":"REVIVE","framework_id":{"value":"` + s.FrameworkID + `"}}`

	cases := []struct {
		name     string
		method   string
		body     string
		headers  map[string]string
		wantCode int
		wantText string
	}{
		{"GET", http.MethodGet, "", nil, 405, "Expecting 'POST'"},
		{"no content type", http.MethodPost, subscribeBody, nil, 400, "Content-Type"},
		{"charset is not JSON", http.MethodPost, subscribeBody,
			map[string]string{"Content-Type": "application/json; charset=utf-8"}, 415, "application/json"},
		{"text/plain", http.MethodPost, subscribeBody, map[string]string{"Content-Type": "text/plain"}, 415, ""},
		{"malformed JSON", http.MethodPost, `{"type":`, map[string]string{"Content-Type": "application/json"}, 400, "Failed to parse"},
		{"missing required user", http.MethodPost, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}`,
			map[string]string{"Content-Type": "application/json"}, 400, "user"},
		{"subscribe without payload", http.MethodPost, `{"type":"SUBSCRIBE"}`,
			map[string]string{"Content-Type": "application/json"}, 400, "'subscribe'"},
		{"not acceptable", http.MethodPost, subscribeBody,
			map[string]string{"Content-Type": "application/json", "Accept": "text/html"}, 406, ""},
		{"subscribe with stream id", http.MethodPost, subscribeBody,
			map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": "x"}, 400, "Mesos-Stream-Id"},
		{"call without stream id", http.MethodPost, reviveBody, map[string]string{"Content-Type": "application/json"}, 400, "Mesos-Stream-Id"},
		{"call with wrong stream id", http.MethodPost, reviveBody,
			map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": "not-it"}, 400, "stream ID"},
		{"unknown framework", http.MethodPost, `{"type":"REVIVE","framework_id":{"value":"nope"}}`,
			map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": s.StreamID}, 400, "Framework cannot be found"},
		{"call without framework id", http.MethodPost, `{"type":"REVIVE"}`,
			map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": s.StreamID}, 400, "framework_id"},
		{"unknown call type", http.MethodPost, `{"type":"UNKNOWN","framework_id":{"value":"x"}}`,
			map[string]string{"Content-Type": "application/json"}, 501, ""},
		{"call without type", http.MethodPost, `{"framework_id":{"value":"x"}}`,
			map[string]string{"Content-Type": "application/json"}, 400, "Expecting 'type' to be present"},
		{"accepted", http.MethodPost, reviveBody,
			map[string]string{"Content-Type": "application/json", "Mesos-Stream-Id": s.StreamID}, 202, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, m.url("/api/v1/scheduler"), strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, resp)
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.wantCode, body)
			}
			if !strings.Contains(body, tc.wantText) {
				t.Errorf("body %q does not mention %q", body, tc.wantText)
			}
		})
	}
}

func TestSubscribeStreamHeaders(t *testing.T) {
	m := startMaster(t, nil)
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			s := subscribe(t, m, enc, frameworkInfo("headers"))
			if got := s.Resp.Header.Get("Content-Type"); got != enc.ContentType() {
				t.Errorf("Content-Type %q, want %q", got, enc.ContentType())
			}
			if len(s.StreamID) == 0 || len(s.StreamID) > 128 {
				t.Errorf("Mesos-Stream-Id %q", s.StreamID)
			}
			if s.Resp.ContentLength != -1 || len(s.Resp.TransferEncoding) == 0 || s.Resp.TransferEncoding[0] != "chunked" {
				t.Errorf("stream must be chunked without length: length %d, encoding %v", s.Resp.ContentLength, s.Resp.TransferEncoding)
			}
			// The first HEARTBEAT follows SUBSCRIBED at once.
			s.Next(sched.Event_HEARTBEAT)
		})
	}
}

func TestDefaultAcceptIsJSON(t *testing.T) {
	m := startMaster(t, nil)
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"x"}}}`
	resp := post(t, m, "/api/v1/scheduler", []byte(body), map[string]string{"Content-Type": "application/x-protobuf"})
	defer resp.Body.Close()
	// A JSON body with a protobuf Content-Type does not parse.
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp2 := post(t, m, "/api/v1/scheduler", []byte(body), map[string]string{"Content-Type": "application/json"})
	defer resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK || resp2.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q", resp2.StatusCode, resp2.Header.Get("Content-Type"))
	}
}

func TestLaunchUpdateAcknowledgeFlow(t *testing.T) {
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t, nil)
			agent := startFakeAgent(t, m, "agent1", "cpus:2;mem:1024;disk:1024;ports:[31000-31009]")
			s := subscribe(t, m, enc, frameworkInfo("flow"))
			offers := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()
			if len(offers) != 1 || offers[0].GetAgentId().GetValue() != agent.id {
				t.Fatalf("offers %v", offers)
			}
			if offers[0].AllocationInfo != nil || offers[0].GetResources()[0].AllocationInfo != nil {
				t.Errorf("non-MULTI_ROLE framework got allocation_info: %v", offers[0])
			}
			s.Launch(offers[0], commandTask("t1", offers[0], "echo hello"))

			run := agent.next(protocol.AgentEvent_RUN_TASK).GetRunTask()
			if run.GetTask().GetTaskId().GetValue() != "t1" {
				t.Fatalf("RUN_TASK for %v", run.GetTask().GetTaskId())
			}
			if got := run.GetTask().GetResources()[0].GetAllocationInfo().GetRole(); got != "*" {
				t.Errorf("master did not fill allocation_info: role %q", got)
			}
			for _, state := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
				sent := agent.update(s.FrameworkID, "t1", state)
				got := s.Next(sched.Event_UPDATE).GetUpdate().GetStatus()
				if got.GetState() != state || string(got.GetUuid()) != string(sent.GetUuid()) {
					t.Fatalf("UPDATE %v uuid %x, want %v %x", got.GetState(), got.GetUuid(), state, sent.GetUuid())
				}
				s.Ack(got)
				ack := agent.next(protocol.AgentEvent_ACKNOWLEDGE).GetAcknowledge()
				if string(ack.GetUuid()) != string(sent.GetUuid()) || ack.GetTaskId().GetValue() != "t1" {
					t.Fatalf("ACKNOWLEDGE %v", ack)
				}
			}
			snap, err := m.Snapshot(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			fw := snap.Frameworks[0]
			if len(fw.Tasks) != 0 || len(fw.CompletedTasks) != 1 || fw.CompletedTasks[0].State != mesos.TaskState_TASK_FINISHED {
				t.Fatalf("tasks %v, completed %v", fw.Tasks, fw.CompletedTasks)
			}
			if !snap.Agents[0].Used.IsEmpty() {
				t.Errorf("finished task still uses %s", snap.Agents[0].Used.String())
			}
		})
	}
}

func TestInvalidTaskGetsTaskError(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "agent1", "cpus:1;mem:256")
	s := subscribe(t, m, wire.JSON, frameworkInfo("invalid"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]

	tooBig := commandTask("big", offer, "true")
	tooBig.Resources[0].Scalar.Value = proto.Float64(8)
	noCommand := commandTask("nocmd", offer, "true")
	noCommand.Command = nil
	badID := commandTask("a/b", offer, "true")
	noValue := commandTask("novalue", offer, "true")
	noValue.Command = &mesos.CommandInfo{Shell: proto.Bool(false)}
	s.Launch(offer, tooBig, noCommand, badID, noValue)
	for range 4 {
		st := s.Next(sched.Event_UPDATE).GetUpdate().GetStatus()
		if st.GetState() != mesos.TaskState_TASK_ERROR || st.GetReason() != mesos.TaskStatus_REASON_TASK_INVALID ||
			st.GetSource() != mesos.TaskStatus_SOURCE_MASTER || st.Uuid != nil {
			t.Fatalf("got %v", st)
		}
		if st.GetMessage() == "" {
			t.Errorf("TASK_ERROR without a message")
		}
	}
}

func TestAcceptRescindedOfferLosesTasks(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "agent1", "cpus:1;mem:256")
	for _, aware := range []bool{false, true} {
		info := frameworkInfo("stale")
		want := mesos.TaskState_TASK_LOST
		if aware {
			info.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
			want = mesos.TaskState_TASK_DROPPED
		}
		s := subscribe(t, m, wire.JSON, info)
		offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
		s.MustCall(&sched.Call{Type: sched.Call_DECLINE.Enum(), Decline: &sched.Call_Decline{
			OfferIds: []*mesos.OfferID{offer.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)}}})
		s.Launch(offer, commandTask("late", offer, "true"))
		st := s.Next(sched.Event_UPDATE).GetUpdate().GetStatus()
		if st.GetState() != want || st.GetReason() != mesos.TaskStatus_REASON_INVALID_OFFERS {
			t.Fatalf("partition aware %v: got %v", aware, st)
		}
		s.MustCall(&sched.Call{Type: sched.Call_TEARDOWN.Enum()})
	}
}

func TestDeclineFilterHidesAgent(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "agent1", "cpus:1;mem:256")
	s := subscribe(t, m, wire.JSON, frameworkInfo("decline"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	const refuse = time.Second
	declined := time.Now()
	s.MustCall(&sched.Call{Type: sched.Call_DECLINE.Enum(), Decline: &sched.Call_Decline{
		OfferIds: []*mesos.OfferID{offer.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuse.Seconds())}}})
	s.Next(sched.Event_OFFERS)
	if waited := time.Since(declined); waited < refuse {
		t.Fatalf("agent re-offered after %s, before refuse_seconds %s", waited, refuse)
	}
}

func TestFrameworkFailoverKeepsTasks(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "agent1", "cpus:1;mem:256")
	info := frameworkInfo("failover")
	info.FailoverTimeout = proto.Float64(60)
	s := subscribe(t, m, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, commandTask("keep", offer, "sleep 600"))
	agent.next(protocol.AgentEvent_RUN_TASK)
	s.Ack(nextUpdateAfter(s, m, agent, mesos.TaskState_TASK_RUNNING))
	s.Close()

	info.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	s2 := subscribe(t, m, wire.JSON, info)
	if s2.FrameworkID != s.FrameworkID {
		t.Fatalf("re-subscribed as %s, want %s", s2.FrameworkID, s.FrameworkID)
	}
	s2.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{}})
	st := s2.Next(sched.Event_UPDATE).GetUpdate().GetStatus()
	if st.GetTaskId().GetValue() != "keep" || st.GetState() != mesos.TaskState_TASK_RUNNING || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION {
		t.Fatalf("reconciliation after failover: %v", st)
	}
	// Nothing was shut down on the agent.
	select {
	case ev := <-agent.events:
		if ev.GetType() == protocol.AgentEvent_SHUTDOWN_FRAMEWORK || ev.GetType() == protocol.AgentEvent_KILL_TASK {
			t.Fatalf("agent told %v after a failover within the timeout", ev.GetType())
		}
	default:
	}
}

func TestFailoverTimeoutRemovesFramework(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "agent1", "cpus:1;mem:256")
	info := frameworkInfo("gone")
	info.FailoverTimeout = proto.Float64(0.2)
	s := subscribe(t, m, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, commandTask("doomed", offer, "sleep 600"))
	agent.next(protocol.AgentEvent_RUN_TASK)
	s.Close()
	ev := agent.next(protocol.AgentEvent_SHUTDOWN_FRAMEWORK)
	if ev.GetShutdownFramework().GetFrameworkId().GetValue() != s.FrameworkID {
		t.Fatalf("shutdown of %v", ev)
	}
	info.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	s2 := subscribeExpectingError(t, m, info)
	if !strings.Contains(s2, "Framework has been removed") {
		t.Fatalf("re-subscribe after removal: %q", s2)
	}
}

// subscribeExpectingError subscribes and returns the ERROR event's message.
func subscribeExpectingError(t *testing.T, m *Master, info *mesos.FrameworkInfo) string {
	t.Helper()
	return schedtest.Open(t, m.Addr(), wire.JSON, info).Next(sched.Event_ERROR).GetError().GetMessage()
}

// nextUpdateAfter makes the fake agent report state for the scheduler's
// latest task and returns the UPDATE the scheduler receives.
func nextUpdateAfter(s *schedtest.Scheduler, m *Master, agent *fakeAgent, state mesos.TaskState) *mesos.TaskStatus {
	snap, err := m.Snapshot(context.Background())
	if err != nil {
		panic(err)
	}
	var taskID string
	for _, fw := range snap.Frameworks {
		if fw.ID == s.FrameworkID && len(fw.Tasks) > 0 {
			taskID = fw.Tasks[len(fw.Tasks)-1].ID
		}
	}
	agent.update(s.FrameworkID, taskID, state)
	return s.NextUpdate()
}

// TestKillWhileAgentDisconnectedIsSentOnReregistration: a kill for a task
// whose agent is disconnected is not lost: the master sends it right
// after the agent's re-registration, as Mesos does.
func TestKillWhileAgentDisconnectedIsSentOnReregistration(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "agent1", "cpus:2;mem:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("killer"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, commandTask("t1", offer, "sleep 600"))
	run := agent.next(protocol.AgentEvent_RUN_TASK).GetRunTask()
	agent.update(s.FrameworkID, "t1", mesos.TaskState_TASK_RUNNING)
	s.Ack(s.Next(sched.Event_UPDATE).GetUpdate().GetStatus())

	agent.disconnect()
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("t1")}, AgentId: offer.GetAgentId()}})
	back := agent.reregister(&mesos.Task{
		Name: run.GetTask().Name, TaskId: run.GetTask().GetTaskId(), FrameworkId: run.GetFramework().GetId(),
		AgentId: offer.GetAgentId(), State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: run.GetTask().GetResources(),
	})
	kill := back.next(protocol.AgentEvent_KILL_TASK).GetKillTask()
	if kill.GetTaskId().GetValue() != "t1" || kill.GetFrameworkId().GetValue() != s.FrameworkID {
		t.Fatalf("KILL_TASK after re-registration: %v", kill)
	}
}

// TestImageEntrypointTaskNeedsNoValue: a non-shell command without a value
// is valid when its container has an image (the image's entrypoint runs).
func TestImageEntrypointTaskNeedsNoValue(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "agent1", "cpus:1;mem:256")
	s := subscribe(t, m, wire.JSON, frameworkInfo("entrypoint"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := commandTask("entry", offer, "")
	task.Command = &mesos.CommandInfo{Shell: proto.Bool(false), Arguments: []string{"--port", "8080"}}
	task.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Mesos: &mesos.ContainerInfo_MesosInfo{
		Image: &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("web:1")}}}}
	s.Launch(offer, task)
	if run := agent.next(protocol.AgentEvent_RUN_TASK).GetRunTask(); run.GetTask().GetTaskId().GetValue() != "entry" {
		t.Fatalf("RUN_TASK for %v", run.GetTask().GetTaskId())
	}
}
