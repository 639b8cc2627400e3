package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/client/operator"
	"github.com/agoraproject/agora/internal/resources"
	"github.com/agoraproject/agora/internal/schedtest"
)

// reservedTo is text resources dynamically reserved to role.
func reservedTo(t *testing.T, text, role string) []*mesos.Resource {
	t.Helper()
	parsed, err := resources.Parse(text, "*")
	if err != nil {
		t.Fatal(err)
	}
	out := parsed.ToProto(resources.PostRefinement)
	for _, r := range out {
		r.Reservations = []*mesos.Resource_ReservationInfo{{
			Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role),
		}}
	}
	return out
}

// persistentVolume is size MB of disk reserved to role as volume id,
// linked in sandboxes at "data".
func persistentVolume(t *testing.T, size int, role, id string) *mesos.Resource {
	t.Helper()
	v := reservedTo(t, "disk:"+strconv.Itoa(size), role)[0]
	v.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume:      &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()},
	}
	return v
}

// offerWith returns an offer that holds want, from kept (offers that came
// earlier) or waiting for more, declining the others.
func offerWith(t *testing.T, s *schedtest.Scheduler, want []*mesos.Resource, kept ...*mesos.Offer) *mesos.Offer {
	t.Helper()
	w := resources.MustFromProto(want)
	var found *mesos.Offer
	take := func(offers []*mesos.Offer) {
		for _, o := range offers {
			if found == nil && resources.MustFromProto(o.GetResources()).Unallocated().Contains(w) {
				found = o
				continue
			}
			s.Decline(0, o)
		}
	}
	take(kept)
	deadline := time.Now().Add(schedtest.Wait)
	for found == nil && time.Now().Before(deadline) {
		if ev, ok := s.NextWithin(time.Until(deadline), sched.Event_OFFERS); ok {
			take(ev.GetOffers().GetOffers())
		}
	}
	if found == nil {
		t.Fatalf("no offer with %s", w)
	}
	return found
}

// finishKeepingOffers acknowledges updates until the task is
// TASK_FINISHED and returns the offers that came meanwhile (the resources
// a task frees may be offered before its last update is read).
func finishKeepingOffers(t *testing.T, s *schedtest.Scheduler, taskID string) []*mesos.Offer {
	t.Helper()
	var offers []*mesos.Offer
	for {
		ev := s.Next(sched.Event_UPDATE, sched.Event_OFFERS)
		if ev.GetType() == sched.Event_OFFERS {
			offers = append(offers, ev.GetOffers().GetOffers()...)
			continue
		}
		st := ev.GetUpdate().GetStatus()
		s.Ack(st)
		if st.GetTaskId().GetValue() != taskID {
			continue
		}
		if st.GetState() == mesos.TaskState_TASK_FINISHED {
			return offers
		}
		if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %v: %s", taskID, st.GetState(), st.GetMessage())
		}
	}
}

// acceptOps accepts an offer with operations.
func acceptOps(s *schedtest.Scheduler, offer *mesos.Offer, ops ...*mesos.Offer_Operation) {
	s.MustCall(&sched.Call{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{
		OfferIds: []*mesos.OfferID{offer.GetId()}, Operations: ops,
		Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)},
	}})
}

func launchOp(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

// TestReservationsAndPersistentVolumes: a RESERVE through the operator API
// and one in an ACCEPT each show in the next offer with their role and
// reservation; a persistent volume created on the reservation is written
// by a task, offered back with its persistence ID once the task ended,
// and read by a second task; its file is on the agent's disk under
// volumes/roles/<role>/<id>.
func TestReservationsAndPersistentVolumes(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	info := schedtest.FrameworkInfo("volumes")
	info.Role = proto.String("vol")
	s := schedtest.Subscribe(t, c.master, wire.JSON, info)
	agent := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0].GetAgentId()

	byOperator := reservedTo(t, "cpus:1;mem:128", "vol")
	if err := operator.New(c.master).ReserveResources(t.Context(), agent.GetValue(), byOperator); err != nil {
		t.Fatalf("RESERVE_RESOURCES: %v", err)
	}
	offer := offerWith(t, s, byOperator)
	checkReservedInOffer(t, offer, "cpus", "vol")

	disk := reservedTo(t, "disk:256", "vol")
	acceptOps(s, offer, &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
		Reserve: &mesos.Offer_Operation_Reserve{Resources: disk}})
	offer = offerWith(t, s, append(disk, byOperator...))
	checkReservedInOffer(t, offer, "disk", "vol")

	vol := persistentVolume(t, 64, "vol", "pv1")
	writer := schedtest.CommandTask("writer", offer, "echo persisted > data/file")
	writer.Resources = append(writer.Resources, vol)
	acceptOps(s, offer, &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(),
		Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{vol}}}, launchOp(writer))
	kept := finishKeepingOffers(t, s, "writer")

	offer = offerWith(t, s, []*mesos.Resource{vol}, kept...)
	if !offerHasVolume(offer, "pv1") {
		t.Fatalf("offer after the writer lacks volume pv1: %v", offer.GetResources())
	}
	reader := schedtest.CommandTask("reader", offer, "cat data/file")
	reader.Resources = append(reader.Resources, vol)
	acceptOps(s, offer, launchOp(reader))
	finishKeepingOffers(t, s, "reader")
	if out := readSandboxFile(t, offer, s.FrameworkID, "reader", "stdout"); !strings.Contains(out, "persisted") {
		t.Errorf("the second task read %q from the volume", out)
	}
	onDisk := filepath.Join(c.agents[0].workDir, "volumes", "roles", "vol", "pv1", "file")
	if data, err := os.ReadFile(onDisk); err != nil || string(data) != "persisted\n" {
		t.Errorf("%s: %q, %v", onDisk, data, err)
	}
}

// checkReservedInOffer checks that an offer's resource of that name is
// reserved to role, in the format a framework without
// RESERVATION_REFINEMENT gets (role and reservation).
func checkReservedInOffer(t *testing.T, offer *mesos.Offer, name, role string) {
	t.Helper()
	for _, r := range offer.GetResources() {
		if r.GetName() == name && r.GetRole() == role && r.Reservation != nil {
			return
		}
	}
	t.Errorf("offer has no %s reserved to %s: %v", name, role, offer.GetResources())
}

func offerHasVolume(offer *mesos.Offer, id string) bool {
	for _, r := range offer.GetResources() {
		if r.GetDisk().GetPersistence().GetId() == id {
			return true
		}
	}
	return false
}
