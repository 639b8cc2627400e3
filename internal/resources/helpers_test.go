package resources

import (
	"cmp"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// mustParse parses the text syntax with default role "*".
func mustParse(t testing.TB, text string) Resources {
	t.Helper()
	r, err := Parse(text, "*")
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return r
}

// fataler is what the invariant checks need from testing.TB or *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkCanonical fails the test when r breaks the canonical-form invariants.
func checkCanonical(t fataler, r Resources) {
	t.Helper()
	for i := range r.entries {
		e := &r.entries[i]
		if !e.alive() {
			t.Fatalf("entry %d (%s) is empty in %s", i, e.name, r)
		}
		if i > 0 && compareEntries(&r.entries[i-1], e) >= 0 {
			t.Fatalf("entries %d and %d out of order or equal in %s", i-1, i, r)
		}
		if e.id != nil && (e.id.key == "" || e.id.key != encodeIdentity(e.id)) {
			t.Fatalf("entry %d has a stale identity key", i)
		}
		if !e.id.isCounted() && e.copies != 1 {
			t.Fatalf("entry %d is not counted but has %d copies", i, e.copies)
		}
		checkValue(t, e)
	}
}

func checkValue(t fataler, e *entry) {
	t.Helper()
	for j := 1; j < len(e.ranges); j++ {
		if touches(e.ranges[j-1], e.ranges[j]) || e.ranges[j-1].Begin > e.ranges[j].Begin {
			t.Fatalf("%s: ranges not normalized: %v", e.name, e.ranges)
		}
	}
	for _, rg := range e.ranges {
		if rg.Begin > rg.End {
			t.Fatalf("%s: inverted range %v", e.name, rg)
		}
	}
	items := e.items()
	if !slices.IsSortedFunc(items, cmp.Compare[string]) || len(slices.Compact(slices.Clone(items))) != len(items) {
		t.Fatalf("%s: items not normalized: %v", e.name, items)
	}
	if e.set != nil && len(e.set.items) == 0 {
		t.Fatalf("%s: empty item set kept", e.name)
	}
}

func scalarRes(name string, v float64) *mesos.Resource {
	return scalarProto(name, v)
}

func rangesRes(name string, rs ...Range) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_RANGES.Enum(), Ranges: rangesProto(rs)}
}

func setRes(name string, items ...string) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: items}}
}

func staticRes(role string) *mesos.Resource_ReservationInfo {
	return &mesos.Resource_ReservationInfo{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String(role)}
}

func dynamicRes(role, principal string) *mesos.Resource_ReservationInfo {
	return &mesos.Resource_ReservationInfo{
		Type:      mesos.Resource_ReservationInfo_DYNAMIC.Enum(),
		Role:      proto.String(role),
		Principal: proto.String(principal),
	}
}

// withStack returns r with the given reservations stack.
func withStack(r *mesos.Resource, stack ...*mesos.Resource_ReservationInfo) *mesos.Resource {
	r.Reservations = stack
	return r
}

func allocated(r *mesos.Resource, role string) *mesos.Resource {
	r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
	return r
}

func revocable(r *mesos.Resource) *mesos.Resource {
	r.Revocable = &mesos.Resource_RevocableInfo{}
	return r
}

// volumeRes is a persistent volume of size MB reserved dynamically to role.
func volumeRes(id string, size float64, role string) *mesos.Resource {
	r := withStack(scalarRes("disk", size), dynamicRes(role, "ops"))
	r.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume: &mesos.Volume{
			Mode:          mesos.Volume_RW.Enum(),
			ContainerPath: proto.String("data"),
		},
	}
	return r
}

func shared(r *mesos.Resource) *mesos.Resource {
	r.Shared = &mesos.Resource_SharedInfo{}
	return r
}

func mountDisk(root string, size float64) *mesos.Resource {
	r := scalarRes("disk", size)
	r.Disk = &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
		Type:  mesos.Resource_DiskInfo_Source_MOUNT.Enum(),
		Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: proto.String(root)},
	}}
	return r
}

func res(rs ...*mesos.Resource) Resources { return MustFromProto(rs) }
