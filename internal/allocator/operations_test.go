package allocator

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// dynamicallyReserved returns res with a dynamic reservation to role pushed
// on top.
func dynamicallyReserved(t *testing.T, res resources.Resources, role string) resources.Resources {
	t.Helper()
	ps := res.ToProto(resources.PostRefinement)
	for _, p := range ps {
		p.Reservations = append(p.Reservations, &mesos.Resource_ReservationInfo{
			Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role), Principal: proto.String("ops"),
		})
	}
	out, err := resources.FromProto(ps)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func reserveOp(res resources.Resources) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
		Reserve: &mesos.Offer_Operation_Reserve{Resources: res.ToProto(resources.PostRefinement)}}
}

func unreserveOp(res resources.Resources) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_UNRESERVE.Enum(),
		Unreserve: &mesos.Offer_Operation_Unreserve{Resources: res.ToProto(resources.PostRefinement)}}
}

func createOp(t *testing.T, reserved resources.Resources, id string) (*mesos.Offer_Operation, resources.Resources) {
	t.Helper()
	ps := reserved.ToProto(resources.PostRefinement)
	ps[0].Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume:      &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()},
	}
	vol, err := resources.FromProto(ps)
	if err != nil {
		t.Fatal(err)
	}
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(),
		Create: &mesos.Offer_Operation_Create{Volumes: ps}}, vol
}

// An operator reservation of free resources changes the agent's total, and
// the next offers give the reserved part only to the reservation's role.
func TestUpdateAvailableReservesFreeResources(t *testing.T) {
	a := NewWithOptions(DefaultOptions())
	a.AddAgent("a1", Agent{Total: mustResources(t, "cpus:4;mem:4096"), Active: true}, nil)
	a.AddFramework("eng-fw", Framework{Roles: []string{"eng"}, Active: true})
	a.AddFramework("web-fw", Framework{Roles: []string{"web"}, Active: true})
	reserved := dynamicallyReserved(t, mustResources(t, "cpus:2;mem:1024"), "eng")
	if err := a.UpdateAvailable("a1", []*mesos.Offer_Operation{reserveOp(reserved)}); err != nil {
		t.Fatal(err)
	}
	total, _ := a.AgentTotal("a1")
	if !total.Contains(reserved) || total.Unreserved().Scalar("cpus") != resources.ScalarFromFloat(2) {
		t.Fatalf("total after RESERVE: %s", total)
	}
	got := map[string]resources.Resources{}
	for _, o := range a.Allocate(epoch) {
		got[o.FrameworkID] = o.Resources.Unallocated()
	}
	if !got["eng-fw"].Contains(reserved) {
		t.Errorf("eng-fw offered %s, want the reservation %s in it", got["eng-fw"], reserved)
	}
	if !got["web-fw"].Reserved().IsEmpty() {
		t.Errorf("web-fw offered reserved resources: %s", got["web-fw"])
	}
	if v, _ := a.Role("eng"); v.Reserved.Get("cpus") != resources.ScalarFromFloat(2) {
		t.Errorf("role eng reserved %s, want cpus 2", v.Reserved)
	}
}

// What is held by frameworks is not free: UpdateAvailable refuses it with
// ErrInsufficient and changes nothing.
func TestUpdateAvailableRefusesHeldResources(t *testing.T) {
	a := oneAgentCluster(t, "f1")
	a.Allocate(epoch) // f1 holds everything
	before, _ := a.AgentTotal("a1")
	err := a.UpdateAvailable("a1", []*mesos.Offer_Operation{reserveOp(dynamicallyReserved(t, mustResources(t, "cpus:1"), "r"))})
	if !errors.Is(err, resources.ErrInsufficient) {
		t.Fatalf("err = %v, want ErrInsufficient", err)
	}
	if after, _ := a.AgentTotal("a1"); !after.Equal(before) {
		t.Fatalf("total changed to %s", after)
	}
	if err := a.UpdateAvailable("nope", nil); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("unknown agent: %v", err)
	}
}

// An ACCEPT's RESERVE then CREATE converts what the framework holds; once
// recovered, the volume is offered again to the same role, and UNRESERVE of
// what is left gives plain resources back.
func TestUpdateAllocationConvertsHeldResources(t *testing.T) {
	a := oneAgentCluster(t, "f1")
	o := a.Allocate(epoch)[0]
	reserved := dynamicallyReserved(t, mustResources(t, "cpus:1"), "r")
	reserve := reserveOp(reserved.AllocatedTo("r"))
	converted, err := a.UpdateAllocation("f1", "a1", o.Resources, []*mesos.Offer_Operation{reserve})
	if err != nil {
		t.Fatal(err)
	}
	if !converted.Unallocated().Contains(reserved) {
		t.Fatalf("converted %s lacks %s", converted, reserved)
	}
	total, _ := a.AgentTotal("a1")
	if !total.Contains(reserved) || !total.Quantities().Equal(mustResources(t, "cpus:4;mem:4096").Quantities()) {
		t.Fatalf("total %s", total)
	}
	// The framework holds the converted resources: recovering them frees
	// them, and the next offer carries the reservation.
	a.Recover("f1", "a1", converted, 0, epoch)
	again := a.Allocate(epoch.Add(time.Second))
	if len(again) != 1 || !again[0].Resources.Unallocated().Contains(reserved) {
		t.Fatalf("re-offer %v, want the reservation in it", again)
	}
	unreserve := unreserveOp(reserved.AllocatedTo("r"))
	back, err := a.UpdateAllocation("f1", "a1", again[0].Resources, []*mesos.Offer_Operation{unreserve})
	if err != nil {
		t.Fatal(err)
	}
	if !back.Reserved().IsEmpty() {
		t.Fatalf("after UNRESERVE still reserved: %s", back)
	}
	if total, _ := a.AgentTotal("a1"); !total.Reserved().IsEmpty() {
		t.Fatalf("total after UNRESERVE: %s", total)
	}
}

// A persistent volume made in an ACCEPT stays in the agent's total and is
// offered back with its persistence ID.
func TestUpdateAllocationCreatesVolume(t *testing.T) {
	a := NewWithOptions(DefaultOptions())
	a.AddAgent("a1", Agent{Total: mustResources(t, "cpus:2;mem:1024;disk:1000"), Active: true}, nil)
	a.AddFramework("f1", Framework{Roles: []string{"r"}, Active: true})
	o := a.Allocate(epoch)[0]
	reservedDisk := dynamicallyReserved(t, mustResources(t, "disk:100"), "r")
	create, vol := createOp(t, reservedDisk.AllocatedTo("r"), "vol-1")
	converted, err := a.UpdateAllocation("f1", "a1", o.Resources,
		[]*mesos.Offer_Operation{reserveOp(reservedDisk.AllocatedTo("r")), create})
	if err != nil {
		t.Fatal(err)
	}
	if !converted.Contains(vol) {
		t.Fatalf("converted %s lacks the volume %s", converted, vol)
	}
	a.Recover("f1", "a1", converted, 0, epoch)
	again := a.Allocate(epoch.Add(time.Second))
	if len(again) != 1 || !again[0].Resources.Contains(vol) {
		t.Fatalf("re-offer %v lacks the volume", again)
	}
	// A second CREATE of the same disk fails: it is a volume already.
	if _, err := a.UpdateAllocation("f1", "a1", again[0].Resources, []*mesos.Offer_Operation{create}); !errors.Is(err, resources.ErrInsufficient) {
		t.Fatalf("second CREATE: %v", err)
	}
	// Resources the framework does not hold cannot be converted.
	if _, err := a.UpdateAllocation("f2", "a1", again[0].Resources, []*mesos.Offer_Operation{create}); !errors.Is(err, resources.ErrInsufficient) {
		t.Fatalf("not held: %v", err)
	}
}
