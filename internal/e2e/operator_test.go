package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	agentpb "github.com/agoraproject/agora/api/v1/agent"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/client/operator"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestOperatorAPIOnRealProcesses: the master's SUBSCRIBE stream shows a
// task's life in order while a framework launches and kills it; then every
// read call of the master's and the agent's v1 operator API answers 200
// with its own response type, and the same answer in JSON and in protobuf.
// (The field-by-field goldens are the master and agent packages' tests.)
func TestOperatorAPIOnRealProcesses(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := operator.New(c.master).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	if ev, err := events.Next(); err != nil || ev.GetType() != masterpb.Event_SUBSCRIBED {
		t.Fatalf("first operator event: %v %v, want SUBSCRIBED", ev.GetType(), err)
	}

	s := schedtest.Subscribe(t, c.master, wire.Protobuf, schedtest.FrameworkInfo("operated"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, schedtest.CommandTask("watched", offer, "sleep 600"))
	waitForState(t, s, "watched", mesos.TaskState_TASK_RUNNING)
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("watched")}, AgentId: offer.GetAgentId()}})
	waitForState(t, s, "watched", mesos.TaskState_TASK_KILLED)

	var life []string
	for len(life) == 0 || life[len(life)-1] != "TASK_KILLED" {
		ev, err := events.Next()
		if err != nil {
			t.Fatalf("operator stream after %v: %v", life, err)
		}
		switch ev.GetType() {
		case masterpb.Event_TASK_ADDED:
			if ev.GetTaskAdded().GetTask().GetTaskId().GetValue() == "watched" {
				life = append(life, "TASK_ADDED")
			}
		case masterpb.Event_TASK_UPDATED:
			if u := ev.GetTaskUpdated(); u.GetStatus().GetTaskId().GetValue() == "watched" {
				life = append(life, u.GetState().String())
			}
		}
	}
	if got := strings.Join(life, " "); got != "TASK_ADDED TASK_STARTING TASK_RUNNING TASK_KILLED" {
		t.Errorf("the task's life on the operator stream: %s", got)
	}

	for _, typ := range []masterpb.Call_Type{masterpb.Call_GET_HEALTH, masterpb.Call_GET_FLAGS, masterpb.Call_GET_VERSION,
		masterpb.Call_GET_METRICS, masterpb.Call_GET_LOGGING_LEVEL, masterpb.Call_GET_STATE, masterpb.Call_GET_AGENTS,
		masterpb.Call_GET_FRAMEWORKS, masterpb.Call_GET_EXECUTORS, masterpb.Call_GET_TASKS, masterpb.Call_GET_ROLES,
		masterpb.Call_GET_WEIGHTS, masterpb.Call_GET_MASTER, masterpb.Call_GET_OPERATIONS, masterpb.Call_GET_QUOTA,
		masterpb.Call_GET_MAINTENANCE_STATUS, masterpb.Call_GET_MAINTENANCE_SCHEDULE} {
		call := &masterpb.Call{Type: typ.Enum()}
		fromJSON, fromProto := &masterpb.Response{}, &masterpb.Response{}
		callInBoth(t, "http://"+c.master+"/api/v1", call, fromJSON, fromProto)
		if fromJSON.GetType().String() != typ.String() {
			t.Errorf("master %s answered a %s response", typ, fromJSON.GetType())
		}
		if typ != masterpb.Call_GET_METRICS {
			sameAnswer(t, "master "+typ.String(), fromJSON, fromProto)
		}
	}
	state := &masterpb.Response{}
	callInBoth(t, "http://"+c.master+"/api/v1", &masterpb.Call{Type: masterpb.Call_GET_STATE.Enum()}, state, &masterpb.Response{})
	if done := state.GetGetState().GetGetTasks().GetCompletedTasks(); len(done) != 1 || done[0].GetState() != mesos.TaskState_TASK_KILLED {
		t.Errorf("GET_STATE completed tasks: %v", done)
	}

	agent := "http://" + c.agents[0].addr + "/api/v1"
	for _, typ := range []agentpb.Call_Type{agentpb.Call_GET_HEALTH, agentpb.Call_GET_FLAGS, agentpb.Call_GET_VERSION,
		agentpb.Call_GET_METRICS, agentpb.Call_GET_LOGGING_LEVEL, agentpb.Call_GET_STATE, agentpb.Call_GET_CONTAINERS,
		agentpb.Call_GET_FRAMEWORKS, agentpb.Call_GET_EXECUTORS, agentpb.Call_GET_TASKS, agentpb.Call_GET_AGENT} {
		call := &agentpb.Call{Type: typ.Enum()}
		fromJSON, fromProto := &agentpb.Response{}, &agentpb.Response{}
		callInBoth(t, agent, call, fromJSON, fromProto)
		if fromJSON.GetType().String() != typ.String() {
			t.Errorf("agent %s answered a %s response", typ, fromJSON.GetType())
		}
		if typ != agentpb.Call_GET_METRICS {
			sameAnswer(t, "agent "+typ.String(), fromJSON, fromProto)
		}
	}
}

// sameAnswer compares two answers as Mesos JSON, which writes unset
// optional fields as their defaults (decoded JSON has them set).
func sameAnswer(t *testing.T, what string, fromJSON, fromProto proto.Message) {
	t.Helper()
	a, errA := mesosjson.Marshal(fromJSON)
	b, errB := mesosjson.Marshal(fromProto)
	if errA != nil || errB != nil {
		t.Fatalf("%s: %v %v", what, errA, errB)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("%s: JSON and protobuf answers differ:\n%s\n%s", what, a, b)
	}
}

// callInBoth posts call to an operator endpoint once in JSON and once in
// protobuf, requires 200 with the matching Content-Type, and decodes the
// answers.
func callInBoth(t *testing.T, url string, call proto.Message, fromJSON, fromProto proto.Message) {
	t.Helper()
	for _, enc := range []struct {
		media  string
		encode func(proto.Message) ([]byte, error)
		decode func([]byte, proto.Message) error
		out    proto.Message
	}{
		{wire.MediaJSON, mesosjson.Marshal, mesosjson.Unmarshal, fromJSON},
		{wire.MediaProtobuf, proto.Marshal, proto.Unmarshal, fromProto},
	} {
		body, err := enc.encode(call)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", enc.media)
		req.Header.Set("Accept", enc.media)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != enc.media {
			t.Fatalf("%s %v in %s: %d %q %s", url, call, enc.media, resp.StatusCode, resp.Header.Get("Content-Type"), data)
		}
		if err := enc.decode(data, enc.out); err != nil {
			t.Fatalf("%s %v: decoding the %s answer: %v", url, call, enc.media, err)
		}
	}
}
