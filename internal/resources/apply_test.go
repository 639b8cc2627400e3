package resources

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func reserveOp(rs ...*mesos.Resource) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{
		Type:    mesos.Offer_Operation_RESERVE.Enum(),
		Reserve: &mesos.Offer_Operation_Reserve{Resources: rs},
	}
}

func unreserveOp(rs ...*mesos.Resource) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{
		Type:      mesos.Offer_Operation_UNRESERVE.Enum(),
		Unreserve: &mesos.Offer_Operation_Unreserve{Resources: rs},
	}
}

func createOp(vols ...*mesos.Resource) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Create: &mesos.Offer_Operation_Create{Volumes: vols}}
}

func destroyOp(vols ...*mesos.Resource) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(), Destroy: &mesos.Offer_Operation_Destroy{Volumes: vols}}
}

func TestApplyReserveUnreserve(t *testing.T) {
	total := mustParse(t, "cpus:8;mem:1024")
	reserve := reserveOp(withStack(scalarRes("cpus", 2), dynamicRes("eng", "p")))
	got, err := total.Apply(reserve)
	if err != nil {
		t.Fatal(err)
	}
	checkCanonical(t, got)
	want := res(scalarRes("cpus", 6), scalarRes("mem", 1024), withStack(scalarRes("cpus", 2), dynamicRes("eng", "p")))
	if !got.Equal(want) {
		t.Fatalf("RESERVE = %s, want %s", got, want)
	}
	if !got.Quantities().Equal(total.Quantities()) {
		t.Error("RESERVE changed quantities")
	}

	// Refine eng's reservation to eng/dev, then unreserve both levels.
	refine := reserveOp(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p"), dynamicRes("eng/dev", "q")))
	refined, err := got.Apply(refine)
	if err != nil {
		t.Fatal(err)
	}
	if refined.ReservedTo("eng/dev").Scalar("cpus") != 1000 || refined.ReservedTo("eng").Scalar("cpus") != 1000 {
		t.Fatalf("refinement = %s", refined)
	}
	back, err := refined.Apply(unreserveOp(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p"), dynamicRes("eng/dev", "q"))))
	if err != nil {
		t.Fatal(err)
	}
	back, err = back.Apply(unreserveOp(withStack(scalarRes("cpus", 2), dynamicRes("eng", "p"))))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(total) {
		t.Fatalf("after unreserving = %s, want %s", back, total)
	}
}

func TestApplyReserveWithSource(t *testing.T) {
	total := mustParse(t, "cpus:8")
	op := reserveOp(withStack(scalarRes("cpus", 2), dynamicRes("eng", "p")))
	op.Reserve.Source = []*mesos.Resource{scalarRes("cpus", 2)}
	got, err := total.Apply(op)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "cpus(*):6; cpus(eng)(reservations: [(DYNAMIC,eng,p)]):2" {
		t.Errorf("RESERVE with source = %s", got)
	}
	op.Reserve.Source = []*mesos.Resource{scalarRes("cpus", 3)}
	if _, err := total.Apply(op); !errors.Is(err, ErrInvalid) {
		t.Errorf("mismatched source: err = %v", err)
	}
}

func TestApplyCreateDestroy(t *testing.T) {
	total := res(scalarRes("cpus", 1), withStack(scalarRes("disk", 300), dynamicRes("eng", "ops")))
	vol := volumeRes("v1", 100, "eng")
	created, err := total.Apply(createOp(vol))
	if err != nil {
		t.Fatal(err)
	}
	checkCanonical(t, created)
	want := res(scalarRes("cpus", 1), withStack(scalarRes("disk", 200), dynamicRes("eng", "ops")), volumeRes("v1", 100, "eng"))
	if !created.Equal(want) {
		t.Fatalf("CREATE = %s, want %s", created, want)
	}
	if _, err := created.Apply(createOp(volumeRes("v2", 250, "eng"))); !errors.Is(err, ErrInsufficient) {
		t.Errorf("CREATE beyond the disk: err = %v", err)
	}
	destroyed, err := created.Apply(destroyOp(vol))
	if err != nil {
		t.Fatal(err)
	}
	if !destroyed.Equal(total) {
		t.Fatalf("DESTROY = %s, want %s", destroyed, total)
	}
}

func TestApplyDestroySharedVolumeInUse(t *testing.T) {
	vol := shared(volumeRes("v1", 100, "eng"))
	twoCopies := res(vol).Add(res(vol))
	_, err := twoCopies.Apply(destroyOp(vol))
	if err == nil || !strings.Contains(err.Error(), "other shared copies") {
		t.Fatalf("destroying a shared volume in use: err = %v", err)
	}
	got, err := res(vol).Apply(destroyOp(vol))
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "disk(eng)(reservations: [(DYNAMIC,eng,ops)]):100" {
		t.Errorf("DESTROY shared = %s", got)
	}
}

func TestApplyGrowShrinkVolume(t *testing.T) {
	disk := withStack(scalarRes("disk", 50), dynamicRes("eng", "ops"))
	total := res(volumeRes("v1", 100, "eng"), proto.CloneOf(disk))
	grow := &mesos.Offer_Operation{
		Type:       mesos.Offer_Operation_GROW_VOLUME.Enum(),
		GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: volumeRes("v1", 100, "eng"), Addition: withStack(scalarRes("disk", 30), dynamicRes("eng", "ops"))},
	}
	grown, err := total.Apply(grow)
	if err != nil {
		t.Fatal(err)
	}
	want := res(volumeRes("v1", 130, "eng"), withStack(scalarRes("disk", 20), dynamicRes("eng", "ops")))
	if !grown.Equal(want) {
		t.Fatalf("GROW = %s, want %s", grown, want)
	}
	shrink := &mesos.Offer_Operation{
		Type:         mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
		ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: volumeRes("v1", 130, "eng"), Subtract: &mesos.Value_Scalar{Value: proto.Float64(30)}},
	}
	shrunk, err := grown.Apply(shrink)
	if err != nil {
		t.Fatal(err)
	}
	if !shrunk.Equal(total) {
		t.Fatalf("SHRINK = %s, want %s", shrunk, total)
	}
	shrink.ShrinkVolume.Subtract.Value = proto.Float64(130)
	if _, err := grown.Apply(shrink); !errors.Is(err, ErrInvalid) {
		t.Errorf("shrinking to nothing: err = %v", err)
	}
}

// TestGrowShrinkRefusals: the addition must be the volume's kind of disk;
// shared volumes and volumes on MOUNT disks keep their size (Mesos).
func TestGrowShrinkRefusals(t *testing.T) {
	unreserved := scalarRes("disk", 500)
	total := res(volumeRes("v1", 100, "eng"), withStack(scalarRes("disk", 50), dynamicRes("eng", "ops")), unreserved)
	grow := func(vol, addition *mesos.Resource) *mesos.Offer_Operation {
		return &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
			GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: vol, Addition: addition}}
	}
	shared := volumeRes("v1", 100, "eng")
	shared.Shared = &mesos.Resource_SharedInfo{}
	mount := volumeRes("v1", 100, "eng")
	mount.Disk.Source = &mesos.Resource_DiskInfo_Source{Type: mesos.Resource_DiskInfo_Source_MOUNT.Enum(),
		Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: proto.String("/mnt/d1")}}
	for name, op := range map[string]*mesos.Offer_Operation{
		"unreserved addition":  grow(volumeRes("v1", 100, "eng"), scalarRes("disk", 30)),
		"other role addition":  grow(volumeRes("v1", 100, "eng"), withStack(scalarRes("disk", 30), dynamicRes("ops", "ops"))),
		"no addition":          grow(volumeRes("v1", 100, "eng"), nil),
		"shared volume":        grow(shared, withStack(scalarRes("disk", 30), dynamicRes("eng", "ops"))),
		"volume on MOUNT disk": grow(mount, withStack(scalarRes("disk", 30), dynamicRes("eng", "ops"))),
		"shrink without amount": {Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
			ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: volumeRes("v1", 100, "eng")}},
	} {
		if got, err := total.Apply(op); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Apply = %s, %v; want ErrInvalid", name, got, err)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	total := mustParse(t, "cpus:2")
	tests := []struct {
		name string
		op   *mesos.Offer_Operation
		want error
	}{
		{"launch", &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum()}, ErrUnsupported},
		{"unknown", &mesos.Offer_Operation{}, ErrUnsupported},
		{"reserve too much", reserveOp(withStack(scalarRes("cpus", 3), dynamicRes("eng", "p"))), ErrInsufficient},
		{"reserve unreserved", reserveOp(scalarRes("cpus", 1)), ErrInvalid},
		{"reserve invalid", reserveOp(withStack(scalarRes("cpus", -1), dynamicRes("eng", "p"))), ErrInvalid},
		{"reserve nothing", reserveOp(), ErrInvalid},
		{"unreserve missing", unreserveOp(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p"))), ErrInsufficient},
		{"unreserve unreserved", unreserveOp(scalarRes("cpus", 1)), ErrInvalid},
		{"create non-volume", createOp(withStack(scalarRes("disk", 1), dynamicRes("eng", "p"))), ErrInvalid},
		{"destroy missing", destroyOp(volumeRes("v1", 1, "eng")), ErrInsufficient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := total.Apply(tt.op)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
