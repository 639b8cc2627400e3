package agent

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
)

// executorAPI posts calls to an agent's /api/v1/executor.
type executorAPI struct {
	t   *testing.T
	url string
}

func (e executorAPI) post(contentType, accept string, body []byte) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (e executorAPI) call(enc wire.Encoding, c *executorpb.Call) *http.Response {
	e.t.Helper()
	body, err := enc.Marshal(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.post(enc.ContentType(), enc.ContentType(), body)
}

func execCall(fid, eid string, typ executorpb.Call_Type) *executorpb.Call {
	return &executorpb.Call{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(eid)},
		Type:        typ.Enum(),
	}
}

func subscribeCall(fid, eid string) *executorpb.Call {
	c := execCall(fid, eid, executorpb.Call_SUBSCRIBE)
	c.Subscribe = &executorpb.Call_Subscribe{}
	return c
}

func updateCall(fid, eid, tid string, state mesos.TaskState, uuid []byte) *executorpb.Call {
	c := execCall(fid, eid, executorpb.Call_UPDATE)
	c.Update = &executorpb.Call_Update{Status: &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String(tid)}, State: state.Enum(), Uuid: uuid,
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
	}}
	return c
}

func wantStatus(t *testing.T, resp *http.Response, code int, msg string) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code || !strings.Contains(string(body), msg) {
		t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, body, code, msg)
	}
}

// eventReader reads an executor event stream.
type eventReader struct {
	t   *testing.T
	r   *recordio.Reader
	enc wire.Encoding
}

func (er eventReader) next() *executorpb.Event {
	er.t.Helper()
	rec, err := er.r.ReadRecord()
	if err != nil {
		er.t.Fatalf("reading event: %v", err)
	}
	ev := &executorpb.Event{}
	if err := er.enc.Unmarshal(rec, ev); err != nil {
		er.t.Fatalf("decoding event %q: %v", rec, err)
	}
	return ev
}

func TestExecutorAPILadderAndErrors(t *testing.T) {
	m := newFakeMaster(t)
	a, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	nextLaunch(t, fc)
	api := executorAPI{t, "http://" + a.Addr() + "/api/v1/executor"}
	heartbeat, _ := proto.Marshal(execCall("fw", "t1", executorpb.Call_HEARTBEAT))

	wantStatus(t, api.post("text/plain", "", heartbeat), 415, "Expecting 'Content-Type'")
	wantStatus(t, api.post("application/json; charset=utf-8", "", heartbeat), 415, "")
	wantStatus(t, api.post("", "", heartbeat), 400, "Content-Type")
	wantStatus(t, api.post(wire.MediaProtobuf, "", []byte("\xff\xff")), 400, "Failed to parse")
	req, _ := http.NewRequest(http.MethodGet, api.url, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET = %v, %v; want 405", resp, err)
	}
	wantStatus(t, api.call(wire.Protobuf, execCall("nofw", "t1", executorpb.Call_HEARTBEAT)), 400, "Framework cannot be found")
	wantStatus(t, api.call(wire.Protobuf, execCall("fw", "noex", executorpb.Call_HEARTBEAT)), 400, "Executor cannot be found")
	wantStatus(t, api.call(wire.Protobuf, execCall("fw", "t1", executorpb.Call_HEARTBEAT)), 403, "not subscribed")
	wantStatus(t, api.post(wire.MediaProtobuf, "text/html", mustMarshal(t, subscribeCall("fw", "t1"))), 406, "")
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExecutorSubscribeLaunchUpdateAcknowledged(t *testing.T) {
	for _, enc := range []wire.Encoding{wire.Protobuf, wire.JSON} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			m := newFakeMaster(t)
			a, fc := fakeAgent(t, m, nil)
			m.nextSubscribe(wait)
			m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
			spec := nextLaunch(t, fc)
			api := executorAPI{t, "http://" + a.Addr() + "/api/v1/executor"}

			resp := api.call(enc, subscribeCall("fw", "t1"))
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != enc.ContentType() {
				t.Fatalf("SUBSCRIBE = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			events := eventReader{t, recordio.NewReader(bufio.NewReader(resp.Body), 0), enc}
			sub := events.next()
			if sub.GetType() != executorpb.Event_SUBSCRIBED ||
				sub.GetSubscribed().GetContainerId().GetValue() != spec.ContainerID ||
				sub.GetSubscribed().GetAgentInfo().GetId().GetValue() != m.agentID ||
				sub.GetSubscribed().GetFrameworkInfo().GetId().GetValue() != "fw" ||
				sub.GetSubscribed().GetExecutorInfo().GetExecutorId().GetValue() != "t1" {
				t.Fatalf("first event = %v", sub)
			}
			if launch := events.next(); launch.GetType() != executorpb.Event_LAUNCH ||
				launch.GetLaunch().GetTask().GetTaskId().GetValue() != "t1" {
				t.Fatalf("second event = %v", launch)
			}

			uuid := bytes.Repeat([]byte{7}, 16)
			wantStatus(t, api.call(enc, updateCall("fw", "t1", "t1", mesos.TaskState_TASK_RUNNING, nil)), 400, "uuid")
			wantStatus(t, api.call(enc, updateCall("fw", "t1", "t1", mesos.TaskState_TASK_STAGING, uuid)), 400, "TASK_STAGING")
			wantStatus(t, api.call(enc, updateCall("fw", "t1", "nope", mesos.TaskState_TASK_RUNNING, uuid)), 400, "cannot be found")
			bad := updateCall("fw", "t1", "t1", mesos.TaskState_TASK_RUNNING, uuid)
			bad.Update.Status.Source = mesos.TaskStatus_SOURCE_MASTER.Enum()
			wantStatus(t, api.call(enc, bad), 400, "SOURCE_EXECUTOR")
			wantStatus(t, api.call(enc, updateCall("fw", "t1", "t1", mesos.TaskState_TASK_RUNNING, uuid)), 202, "")
			ack := events.next()
			if ack.GetType() != executorpb.Event_ACKNOWLEDGED || !bytes.Equal(ack.GetAcknowledged().GetUuid(), uuid) {
				t.Fatalf("after UPDATE got %v, want ACKNOWLEDGED", ack)
			}
			fwd := m.nextUpdate(wait)
			wantUpdate(t, fwd, "t1", mesos.TaskState_TASK_RUNNING)
			if cs := fwd.GetStatus().GetContainerStatus(); cs.GetContainerId().GetValue() != spec.ContainerID ||
				fwd.GetStatus().GetAgentId().GetValue() != m.agentID {
				t.Errorf("forwarded status lacks agent fields: %v", fwd.GetStatus())
			}

			msg := execCall("fw", "t1", executorpb.Call_MESSAGE)
			msg.Message = &executorpb.Call_Message{Data: []byte("hi")}
			wantStatus(t, api.call(enc, msg), 202, "")
			if got := m.nextCallOf(protocol.AgentCall_MESSAGE, wait).GetMessage(); string(got.GetData()) != "hi" {
				t.Errorf("MESSAGE to master = %v", got)
			}
			wantStatus(t, api.call(enc, execCall("fw", "t1", executorpb.Call_HEARTBEAT)), 202, "")

			m.send(killTaskEvent("fw", "t1"))
			if kill := events.next(); kill.GetType() != executorpb.Event_KILL || kill.GetKill().GetTaskId().GetValue() != "t1" {
				t.Fatalf("after KILL_TASK got %v", kill)
			}
		})
	}
}
