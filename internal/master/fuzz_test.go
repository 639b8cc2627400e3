package master

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// fuzzClient gives up on a call that does not answer: a hang is a finding.
var fuzzClient = &http.Client{Timeout: 10 * time.Second}

// FuzzSchedulerCalls sends, as a subscribed framework, any call the
// protobuf decoder accepts to a master with an agent: every answer is
// below 500 (or 501 for the UNKNOWN type, 503 while it cannot act), and
// the master's loop never panics (that would take the test process down).
func FuzzSchedulerCalls(f *testing.F) {
	m := startMaster(f, nil)
	startFakeAgent(f, m, "fuzz-agent", "cpus:4;mem:4096;disk:4096;ports:[31000-31100]")
	s := subscribe(f, m, wire.Protobuf, frameworkInfo("fuzz"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	fid := &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	task := schedtest.CommandTask("t1", offer, "sleep 1")
	for _, seed := range []*sched.Call{
		{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{task}}}}}},
		{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_RESERVE.Enum(),
				Reserve: &mesos.Offer_Operation_Reserve{Resources: offer.GetResources()}}}}},
		{Type: sched.Call_DECLINE.Enum(), Decline: &sched.Call_Decline{OfferIds: []*mesos.OfferID{offer.GetId()}}},
		{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{TaskId: task.GetTaskId(), AgentId: offer.GetAgentId()}},
		{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{Tasks: []*sched.Call_Reconcile_Task{{TaskId: task.GetTaskId()}}}},
		{Type: sched.Call_ACKNOWLEDGE.Enum(), Acknowledge: &sched.Call_Acknowledge{AgentId: offer.GetAgentId(), TaskId: task.GetTaskId(), Uuid: []byte("0123456789abcdef")}},
		{Type: sched.Call_REVIVE.Enum(), Revive: &sched.Call_Revive{Roles: []string{"*", "a/b"}}},
		{Type: sched.Call_SUPPRESS.Enum()},
		{Type: sched.Call_MESSAGE.Enum(), Message: &sched.Call_Message{AgentId: offer.GetAgentId(), ExecutorId: &mesos.ExecutorID{Value: proto.String("x")}, Data: []byte("hi")}},
		{Type: sched.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &sched.Call_UpdateFramework{FrameworkInfo: frameworkInfo("fuzz")}},
		{Type: sched.Call_SHUTDOWN.Enum(), Shutdown: &sched.Call_Shutdown{ExecutorId: &mesos.ExecutorID{Value: proto.String("x")}, AgentId: offer.GetAgentId()}},
		{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{growOp("g", volume(f, 64, "*", "v1"), offer.GetResources()[0])}}},
		{Type: sched.Call_RECONCILE_OPERATIONS.Enum(), ReconcileOperations: &sched.Call_ReconcileOperations{
			Operations: []*sched.Call_ReconcileOperations_Operation{{OperationId: &mesos.OperationID{Value: proto.String("g")}, AgentId: offer.GetAgentId()}}}},
	} {
		b, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call := &sched.Call{}
		if proto.Unmarshal(body, call) != nil {
			return
		}
		if call.GetType() == sched.Call_SUBSCRIBE || call.GetType() == sched.Call_TEARDOWN {
			return // they would end the framework the fuzzer speaks as
		}
		call.FrameworkId = fid
		if call.UpdateFramework != nil && call.UpdateFramework.FrameworkInfo != nil {
			call.UpdateFramework.FrameworkInfo.Id = fid
		}
		out, err := proto.Marshal(call)
		if err != nil {
			return // a required field is missing: the decoder refuses it too
		}
		postFuzzed(t, m.url("/api/v1/scheduler"), out, call, call.GetType() == sched.Call_UNKNOWN,
			"Mesos-Stream-Id", s.StreamID)
	})
}

// FuzzOperatorCalls sends any operator call the protobuf decoder accepts
// (but SUBSCRIBE, a stream) to a master with an agent and a framework:
// every answer is below 500 (or 501 for what Agora does not implement,
// 503 while it cannot act), and the master's loop never panics.
func FuzzOperatorCalls(f *testing.F) {
	m := startMaster(f, nil)
	startFakeAgent(f, m, "fuzz-agent", "cpus:4;mem:4096;disk:4096;ports:[31000-31100]")
	s := subscribe(f, m, wire.Protobuf, frameworkInfo("fuzz"))
	s.Next(sched.Event_OFFERS)
	for _, seed := range []*masterpb.Call{
		getCall(masterpb.Call_GET_STATE), getCall(masterpb.Call_GET_TASKS), getCall(masterpb.Call_GET_METRICS),
		weightsCall(map[string]float64{"eng": 2}),
		quotaCall(false, quotaConfig("eng", map[string]float64{"cpus": 1}, map[string]float64{"cpus": 2})),
		scheduleCall(window(60, &mesos.MachineID{Hostname: proto.String("fuzz-agent")})),
		{Type: masterpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &masterpb.Call_SetLoggingLevel{Level: proto.Uint32(1),
			Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(1e9)}}},
		{Type: masterpb.Call_READ_FILE.Enum(), ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/master/log"), Offset: proto.Uint64(0)}},
		growVolumeCall("fuzz-agent", volume(f, 64, "eng", "v1"), reserved(f, "disk:8", "eng")[0]),
		shrinkVolumeCall("fuzz-agent", volume(f, 64, "eng", "v1"), 8),
	} {
		b, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		call := &masterpb.Call{}
		if proto.Unmarshal(body, call) != nil || call.GetType() == masterpb.Call_SUBSCRIBE {
			return
		}
		postFuzzed(t, m.url("/api/v1"), body, call, true, "Accept", wire.MediaProtobuf)
	})
}

// postFuzzed posts a protobuf call (with header name/value pairs) and
// fails on an answer the fuzz targets forbid: none within the client's
// timeout, or a 5xx other than 503 (and 501 when allow501).
func postFuzzed(t *testing.T, url string, body []byte, call proto.Message, allow501 bool, header ...string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", wire.MediaProtobuf)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := fuzzClient.Do(req)
	if err != nil {
		t.Fatalf("%v: %v", call, err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code < 500, code == http.StatusServiceUnavailable, code == http.StatusNotImplemented && allow501:
	default:
		t.Fatalf("%v: %d %s", call, code, msg)
	}
}
