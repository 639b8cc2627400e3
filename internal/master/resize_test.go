package master

import (
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/resources"
)

func growOp(id string, vol, addition *mesos.Resource) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(), Id: &mesos.OperationID{Value: proto.String(id)},
		GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: vol, Addition: addition}}
}

func shrinkVolumeCall(agentID string, vol *mesos.Resource, by float64) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_SHRINK_VOLUME.Enum(), ShrinkVolume: &masterpb.Call_ShrinkVolume{
		AgentId: agentIDOf(agentID), Volume: vol, Subtract: &mesos.Value_Scalar{Value: proto.Float64(by)}}}
}

func growVolumeCall(agentID string, vol, addition *mesos.Resource) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_GROW_VOLUME.Enum(), GrowVolume: &masterpb.Call_GrowVolume{
		AgentId: agentIDOf(agentID), Volume: vol, Addition: addition}}
}

// TestGrowAndShrinkVolume: a framework grows its offered volume in an
// ACCEPT (OPERATION_FINISHED; the agent checkpoints the new size; the next
// offer has it), and the operator shrinks it (the freed disk stays the
// role's). An addition of another kind of disk, or a shrink to nothing,
// is refused and changes nothing.
func TestGrowAndShrinkVolume(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "vol.example", "cpus:2;mem:1024;disk:1024")
	s := subscribe(t, m, wire.JSON, roleFramework("db", "db"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	vol := volume(t, 256, "db", "pg-data")
	accept(s, offer, 0,
		&mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Reserve: &mesos.Offer_Operation_Reserve{Resources: reserved(t, "disk:512", "db")}},
		&mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{vol}}})
	agent.checkpointEvent()
	agent.checkpointEvent()

	offer = nextOfferWith(t, s, []*mesos.Resource{vol})
	accept(s, offer, 0,
		growOp("wrong-kind", vol, schedtestScalars("disk", 100)[0]),
		growOp("grow", vol, reserved(t, "disk:100", "db")[0]))
	for _, want := range []mesos.OperationState{mesos.OperationState_OPERATION_ERROR, mesos.OperationState_OPERATION_FINISHED} {
		st := s.Next(sched.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		if st.GetState() != want {
			t.Fatalf("operation %s: %s %s, want %s", st.GetOperationId().GetValue(), st.GetState(), st.GetMessage(), want)
		}
	}
	grown := volume(t, 356, "db", "pg-data")
	if cp := agent.checkpointEvent(); !sameResources(t, cp, append(reserved(t, "disk:156", "db"), grown)) {
		t.Fatalf("CHECKPOINT_RESOURCES after GROW_VOLUME: %v", cp)
	}
	nextOfferWith(t, s, []*mesos.Resource{grown})

	mustCall(t, m, wire.JSON, http.StatusBadRequest, shrinkVolumeCall(agent.id, grown, 356))
	mustCall(t, m, wire.Protobuf, http.StatusConflict, growVolumeCall(agent.id, grown, reserved(t, "disk:5000", "db")[0]))
	noVolume := `{"type":"GROW_VOLUME","grow_volume":{"agent_id":{"value":"` + agent.id +
		`"},"addition":{"name":"disk","type":"SCALAR","scalar":{"value":1}}}}`
	resp := post(t, m, "/api/v1", []byte(noVolume), map[string]string{"Content-Type": wire.MediaJSON, "Accept": wire.MediaJSON})
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GROW_VOLUME without a volume: %d, want 400", resp.StatusCode)
	}
	mustCall(t, m, wire.Protobuf, http.StatusAccepted, shrinkVolumeCall(agent.id, grown, 56))
	shrunk := volume(t, 300, "db", "pg-data")
	if cp := agent.checkpointEvent(); !sameResources(t, cp, append(reserved(t, "disk:212", "db"), shrunk)) {
		t.Fatalf("CHECKPOINT_RESOURCES after SHRINK_VOLUME: %v", cp)
	}
	entry := agentEntryOf(t, m, agent.id)
	if total := resources.MustFromProto(entry.GetTotalResources()); total.Scalar("disk") != resources.ScalarFromFloat(1024) {
		t.Errorf("agent disk total %s after the resizes, want 1024", total)
	}
}
