package master

import (
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestReconcileOperations: each listed operation is answered, by what the
// master knows of its agent (reference §4): a registered or unknown agent,
// or none given, OPERATION_UNKNOWN (Agora keeps no finished operation); an
// agent marked gone, OPERATION_GONE_BY_OPERATOR. An Accept the master
// cannot answer in is 406, as for SUBSCRIBE.
func TestReconcileOperations(t *testing.T) {
	m := startMaster(t, nil)
	live := startFakeAgent(t, m, "live.example", "cpus:1;mem:128")
	goneAgent := startFakeAgent(t, m, "gone.example", "cpus:1;mem:128")
	mustCall(t, m, wire.JSON, http.StatusOK, agentCall(masterpb.Call_MARK_AGENT_GONE, goneAgent.id))
	s := subscribe(t, m, wire.JSON, frameworkInfo("ops"))

	op := func(id, agent string) *sched.Call_ReconcileOperations_Operation {
		o := &sched.Call_ReconcileOperations_Operation{OperationId: &mesos.OperationID{Value: proto.String(id)}}
		if agent != "" {
			o.AgentId = &mesos.AgentID{Value: proto.String(agent)}
		}
		return o
	}
	call := &sched.Call{Type: sched.Call_RECONCILE_OPERATIONS.Enum(), ReconcileOperations: &sched.Call_ReconcileOperations{
		Operations: []*sched.Call_ReconcileOperations_Operation{
			op("on-live", live.id), op("no-agent", ""), op("on-unknown", "no-such-agent"), op("on-gone", goneAgent.id)}}}
	s.MustCall(call)
	want := map[string]mesos.OperationState{
		"on-live": mesos.OperationState_OPERATION_UNKNOWN, "no-agent": mesos.OperationState_OPERATION_UNKNOWN,
		"on-unknown": mesos.OperationState_OPERATION_UNKNOWN, "on-gone": mesos.OperationState_OPERATION_GONE_BY_OPERATOR,
	}
	for range want {
		st := s.Next(sched.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		id := st.GetOperationId().GetValue()
		if st.GetState() != want[id] {
			t.Errorf("operation %s: %s, want %s", id, st.GetState(), want[id])
		}
		delete(want, id)
	}

	body, _ := wire.JSON.Marshal(&sched.Call{Type: sched.Call_RECONCILE_OPERATIONS.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}, ReconcileOperations: &sched.Call_ReconcileOperations{}})
	resp := schedtest.Post(t, m.Addr(), "/api/v1/scheduler", body, map[string]string{
		"Content-Type": wire.MediaJSON, "Accept": "text/html", "Mesos-Stream-Id": s.StreamID})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("RECONCILE_OPERATIONS accepting only text/html: %d, want 406", resp.StatusCode)
	}
}
