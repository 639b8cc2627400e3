package master

import (
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
	"github.com/agoraproject/agora/internal/schedtest"
)

func reserveCall(agentID string, res []*mesos.Resource) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(),
		ReserveResources: &masterpb.Call_ReserveResources{AgentId: agentIDOf(agentID), Resources: res}}
}

func unreserveCall(agentID string, res []*mesos.Resource) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum(),
		UnreserveResources: &masterpb.Call_UnreserveResources{AgentId: agentIDOf(agentID), Resources: res}}
}

func createVolumesCall(agentID string, vols ...*mesos.Resource) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum(),
		CreateVolumes: &masterpb.Call_CreateVolumes{AgentId: agentIDOf(agentID), Volumes: vols}}
}

func destroyVolumesCall(agentID string, vols ...*mesos.Resource) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_DESTROY_VOLUMES.Enum(),
		DestroyVolumes: &masterpb.Call_DestroyVolumes{AgentId: agentIDOf(agentID), Volumes: vols}}
}

func roleFramework(name, role string) *mesos.FrameworkInfo {
	info := frameworkInfo(name)
	info.Role = proto.String(role)
	return info
}

// TestOperatorReservation: RESERVE_RESOURCES takes resources a framework
// has been offered (the offer is rescinded), the next offer to the role
// carries the reservation, the agent is told to checkpoint it, and
// UNRESERVE_RESOURCES undoes it. Too much is 409; malformed is 400.
func TestOperatorReservation(t *testing.T) {
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t, nil)
			agent := startFakeAgent(t, m, "res.example", "cpus:4;mem:1024;disk:1024")
			s := subscribe(t, m, enc, roleFramework("eng-fw", "eng"))
			first := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]

			want := reserved(t, "cpus:1;mem:128", "eng")
			mustCall(t, m, enc, http.StatusAccepted, reserveCall(agent.id, want))
			if got := s.Next(sched.Event_RESCIND).GetRescind().GetOfferId().GetValue(); got != first.GetId().GetValue() {
				t.Fatalf("rescinded %s, want %s", got, first.GetId().GetValue())
			}
			if cp := agent.checkpointEvent(); !sameResources(t, cp, want) {
				t.Fatalf("CHECKPOINT_RESOURCES %v, want %v", cp, want)
			}
			offer := nextOfferWith(t, s, want)
			for _, r := range offer.GetResources() {
				if r.GetName() == "cpus" && r.GetRole() == "eng" && r.GetReservation().GetPrincipal() != "ops" {
					t.Errorf("reserved cpus in a pre-refinement offer: %v", r)
				}
			}
			s.Decline(0, offer)

			mustCall(t, m, enc, http.StatusConflict, reserveCall(agent.id, reserved(t, "cpus:100", "eng")))
			mustCall(t, m, enc, http.StatusBadRequest, reserveCall(agent.id, schedtestScalars("cpus", 1)))
			mustCall(t, m, enc, http.StatusBadRequest, reserveCall("no-such-agent", want))

			mustCall(t, m, enc, http.StatusAccepted, unreserveCall(agent.id, want))
			if cp := agent.checkpointEvent(); len(cp) != 0 {
				t.Fatalf("CHECKPOINT_RESOURCES after UNRESERVE: %v", cp)
			}
			plain := nextOfferWith(t, s, schedtestScalars("cpus", 4))
			if len(offerReserved(t, plain)) != 0 {
				t.Fatalf("offer after UNRESERVE still reserved: %v", plain)
			}
		})
	}
}

// TestReserveInAccept: a framework RESERVEs offered resources in an ACCEPT;
// the next offer has them, reserved to its role, and an operation ID gets
// OPERATION_FINISHED. A RESERVE for another role fails with
// OPERATION_ERROR and changes nothing.
func TestReserveInAccept(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "res.example", "cpus:2;mem:1024")
	s := subscribe(t, m, wire.JSON, roleFramework("eng-fw", "eng"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	want := reserved(t, "cpus:1;mem:256", "eng")
	wrongRole := &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Id: &mesos.OperationID{Value: proto.String("bad")},
		Reserve: &mesos.Offer_Operation_Reserve{Resources: reserved(t, "cpus:1", "ops")}}
	good := &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Id: &mesos.OperationID{Value: proto.String("op-1")},
		Reserve: &mesos.Offer_Operation_Reserve{Resources: want}}
	accept(s, offer, 0, wrongRole, good)
	for _, want := range []mesos.OperationState{mesos.OperationState_OPERATION_ERROR, mesos.OperationState_OPERATION_FINISHED} {
		st := s.Next(sched.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		if st.GetState() != want {
			t.Fatalf("operation %s: %s %s, want %s", st.GetOperationId().GetValue(), st.GetState(), st.GetMessage(), want)
		}
	}
	if cp := agent.checkpointEvent(); !sameResources(t, cp, want) {
		t.Fatalf("CHECKPOINT_RESOURCES %v, want %v", cp, want)
	}
	again := nextOfferWith(t, s, want)
	if got := offerReserved(t, again); !sameResources(t, got, want) {
		t.Fatalf("reserved in the next offer: %v, want %v", got, want)
	}
	_, resp, _ := operator(t, m, wire.JSON, getCall(masterpb.Call_GET_ROLES))
	for _, r := range resp.GetGetRoles().GetRoles() {
		if r.GetName() == "ops" {
			t.Fatalf("the refused reservation for role ops shows in GET_ROLES: %v", r)
		}
	}
}

// TestPersistentVolumeOfferedBack: RESERVE and CREATE in an ACCEPT, with a
// task using the volume in the same ACCEPT; once the task ended, the volume
// is offered again with its persistence ID. The operator cannot destroy it
// while a task uses it (409), and can once none does.
func TestPersistentVolumeOfferedBack(t *testing.T) {
	m := startMaster(t, nil)
	agent := startFakeAgent(t, m, "vol.example", "cpus:2;mem:1024;disk:1024")
	s := subscribe(t, m, wire.Protobuf, roleFramework("db", "db"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	disk := reserved(t, "disk:256", "db")
	vol := volume(t, 256, "db", "pg-data")
	task := commandTask("db-1", offer, "sleep 600")
	task.Resources = append(task.Resources, vol)
	accept(s, offer, 0,
		&mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Reserve: &mesos.Offer_Operation_Reserve{Resources: disk}},
		&mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{vol}}},
		launchOp(task))
	agent.checkpointEvent()
	if cp := agent.checkpointEvent(); len(cp) != 1 || cp[0].GetDisk().GetPersistence().GetId() != "pg-data" {
		t.Fatalf("CHECKPOINT_RESOURCES after CREATE: %v", cp)
	}
	run := agent.next(protocol.AgentEvent_RUN_TASK).GetRunTask().GetTask()
	if !hasVolume(run.GetResources(), "pg-data") {
		t.Fatalf("RUN_TASK resources lack the volume: %v", run.GetResources())
	}
	agent.update(s.FrameworkID, "db-1", mesos.TaskState_TASK_RUNNING)
	s.Ack(s.NextUpdate())
	mustCall(t, m, wire.JSON, http.StatusConflict, destroyVolumesCall(agent.id, vol))

	agent.update(s.FrameworkID, "db-1", mesos.TaskState_TASK_FINISHED)
	s.Ack(s.NextUpdate())
	back := nextOfferWith(t, s, []*mesos.Resource{vol})
	if !hasVolume(back.GetResources(), "pg-data") {
		t.Fatalf("offer after the task lacks the volume: %v", back.GetResources())
	}
	mustCall(t, m, wire.JSON, http.StatusAccepted, destroyVolumesCall(agent.id, vol))
	if cp := agent.checkpointEvent(); hasVolume(cp, "pg-data") || !sameResources(t, cp, disk) {
		t.Fatalf("CHECKPOINT_RESOURCES after DESTROY: %v", cp)
	}
	mustCall(t, m, wire.JSON, http.StatusAccepted, createVolumesCall(agent.id, volume(t, 128, "db", "logs")))
	mustCall(t, m, wire.JSON, http.StatusConflict, createVolumesCall(agent.id, volume(t, 64, "db", "logs")))
	mustCall(t, m, wire.JSON, http.StatusBadRequest, createVolumesCall(agent.id, schedtestScalars("disk", 64)...))
}

// TestCheckpointedResourcesSurviveReregistration: an agent that
// re-subscribes reporting checkpointed resources has them in its total; a
// report that does not fit its static resources is left out.
func TestCheckpointedResourcesSurviveReregistration(t *testing.T) {
	m := startMaster(t, nil)
	parsed, _ := resources.Parse("cpus:2;mem:512", "*")
	info := &mesos.AgentInfo{Hostname: proto.String("cp.example"), Resources: parsed.ToProto(resources.Endpoint),
		Id: &mesos.AgentID{Value: proto.String("agent-cp")}}
	reported := reserved(t, "cpus:1", "eng")
	call := &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: &protocol.AgentCall_Subscribe{
		AgentInfo: info, CheckpointedResources: reported}}
	body, _ := proto.Marshal(call)
	resp := post(t, m, "/agora/v1/agent", body, map[string]string{"Content-Type": wire.MediaProtobuf, "Accept": wire.MediaProtobuf})
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE: %d", resp.StatusCode)
	}
	a := &fakeAgent{t: t, m: m, resp: resp, events: make(chan *protocol.AgentEvent, 16)}
	go a.read()
	a.next(protocol.AgentEvent_SUBSCRIBED)
	entry := agentEntryOf(t, m, "agent-cp")
	total := resources.MustFromProto(entry.GetTotalResources())
	if !total.Contains(resources.MustFromProto(reported)) || total.Scalar("cpus") != resources.ScalarFromFloat(2) {
		t.Fatalf("total after re-registration: %s", total)
	}
	m.exec(t.Context(), func() {
		if bad := m.agentTotal(info, reserved(t, "cpus:8", "eng")); !bad.Reserved().IsEmpty() {
			t.Errorf("a report beyond the static resources was applied: %s", bad)
		}
	})
}

func schedtestScalars(name string, v float64) []*mesos.Resource {
	return []*mesos.Resource{schedtest.Scalar(name, v)}
}

func sameResources(t *testing.T, a, b []*mesos.Resource) bool {
	t.Helper()
	x, err := resources.FromProto(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := resources.FromProto(b)
	if err != nil {
		t.Fatal(err)
	}
	return x.Unallocated().Equal(y.Unallocated())
}

func offerReserved(t *testing.T, o *mesos.Offer) []*mesos.Resource {
	t.Helper()
	res, err := resources.FromProto(o.GetResources())
	if err != nil {
		t.Fatal(err)
	}
	return res.Reserved().Unallocated().ToProto(resources.PostRefinement)
}

func hasVolume(rs []*mesos.Resource, id string) bool {
	for _, r := range rs {
		if r.GetDisk().GetPersistence().GetId() == id {
			return true
		}
	}
	return false
}
