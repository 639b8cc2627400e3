package resources

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestAdd(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"scalars merge", "cpus:1;mem:512", "cpus:0.5;mem:512", "cpus(*):1.5; mem(*):1024"},
		{"fixed point", "cpus:0.1", "cpus:0.2", "cpus(*):0.3"},
		{"ranges union", "ports:[1-5]", "ports:[3-8,10-10]", "ports(*):[1-8, 10-10]"},
		{"ranges adjacent", "ports:[1-2]", "ports:[3-4]", "ports(*):[1-4]"},
		{"sets union", "bugs:{a,c}", "bugs:{b,c}", "bugs(*):{a, b, c}"},
		{"roles stay apart", "cpus:1", "cpus(eng):2", "cpus(*):1; cpus(eng):2"},
		{"new names sorted", "mem:1", "cpus:1;disk:2", "cpus(*):1; disk(*):2; mem(*):1"},
		{"empty left", "", "cpus:1", "cpus(*):1"},
		{"empty right", "cpus:1", "", "cpus(*):1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.a).Add(mustParse(t, tt.b))
			checkCanonical(t, got)
			if got.String() != tt.want {
				t.Errorf("Add = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubtract(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"scalars", "cpus:2;mem:1024", "cpus:0.5;mem:1024", "cpus(*):1.5"},
		{"saturates at zero", "cpus:1", "cpus:3", ""},
		{"absent is ignored", "cpus:1", "gpus:1;cpus(eng):1", "cpus(*):1"},
		{"ranges hole", "ports:[1-10]", "ports:[4-6]", "ports(*):[1-3, 7-10]"},
		{"ranges not contained", "ports:[1-5]", "ports:[4-9]", "ports(*):[1-3]"},
		{"sets", "bugs:{a,b,c}", "bugs:{b,z}", "bugs(*):{a, c}"},
		{"role specific", "cpus:1;cpus(eng):2", "cpus(eng):0.5", "cpus(*):1; cpus(eng):1.5"},
		{"everything", "cpus:1;ports:[1-2]", "cpus:1;ports:[1-2]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.a).Subtract(mustParse(t, tt.b))
			checkCanonical(t, got)
			if got.String() != tt.want {
				t.Errorf("Subtract = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		name, a, b string
		want       bool
	}{
		{"empty in empty", "", "", true},
		{"empty in any", "cpus:1", "", true},
		{"smaller scalar", "cpus:2;mem:10", "cpus:1.999", true},
		{"equal", "cpus:2;mem:10", "cpus:2;mem:10", true},
		{"larger scalar", "cpus:2", "cpus:2.001", false},
		{"missing name", "cpus:2", "mem:1", false},
		{"other role", "cpus:2", "cpus(eng):1", false},
		{"reserved in unreserved", "cpus(eng):2", "cpus:1", false},
		{"sub-ranges", "ports:[1-10,20-30]", "ports:[2-3,25-30]", true},
		{"range spans gap", "ports:[1-10,20-30]", "ports:[9-21]", false},
		{"subset", "bugs:{a,b}", "bugs:{a}", true},
		{"not subset", "bugs:{a,b}", "bugs:{c}", false},
		{"many names", "cpus:4;disk:10;mem:8;ports:[1-9]", "disk:1;ports:[5-5]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.a).Contains(mustParse(t, tt.b)); got != tt.want {
				t.Errorf("%q.Contains(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestEqualAndIsEmpty(t *testing.T) {
	a := mustParse(t, "cpus:1;mem:2;ports:[1-2,3-4]")
	b := mustParse(t, "ports:[1-4];mem:1;cpus:1;mem:1")
	if !a.Equal(b) || !b.Equal(a) {
		t.Errorf("%s and %s should be equal", a, b)
	}
	if a.Equal(mustParse(t, "cpus:1;mem:2")) {
		t.Error("different resources compare equal")
	}
	if a.Equal(mustParse(t, "cpus(eng):1;mem:2;ports:[1-4]")) {
		t.Error("different roles compare equal")
	}
	if !(Resources{}).IsEmpty() || a.IsEmpty() || !a.Subtract(a).IsEmpty() {
		t.Error("IsEmpty wrong")
	}
	if !mustParse(t, "cpus:0;ports:[]").IsEmpty() {
		t.Error("zero and empty values should be dropped")
	}
}

func TestScalarRangesNames(t *testing.T) {
	r := res(
		scalarRes("cpus", 1),
		withStack(scalarRes("cpus", 2.5), staticRes("eng")),
		revocable(scalarRes("cpus", 0.5)),
		rangesRes("ports", Range{1, 5}),
		withStack(rangesRes("ports", Range{6, 9}), staticRes("eng")),
		setRes("bugs", "x"),
	)
	if got := r.Scalar("cpus"); got != 4000 {
		t.Errorf("Scalar(cpus) = %d, want 4000", got)
	}
	if got := r.Scalar("mem"); got != 0 {
		t.Errorf("Scalar(mem) = %d, want 0", got)
	}
	if got := r.Ranges("ports"); !slices.Equal(got, []Range{{1, 9}}) {
		t.Errorf("Ranges(ports) = %v", got)
	}
	if got := r.Names(); !slices.Equal(got, []string{"bugs", "cpus", "ports"}) {
		t.Errorf("Names = %v", got)
	}
	if got := r.Get("ports"); got.String() != "ports(*):[1-5]; ports(eng):[6-9]" {
		t.Errorf("Get(ports) = %s", got)
	}
}

func TestPersistentVolumesAreCountedNotMerged(t *testing.T) {
	v1 := volumeRes("v1", 100, "eng")
	v2 := volumeRes("v2", 100, "eng")
	a := res(v1)
	both := a.Add(res(v2))
	checkCanonical(t, both)
	if len(both.ToProto(PostRefinement)) != 2 {
		t.Fatalf("two different volumes should stay two resources: %s", both)
	}
	twice := a.Add(a)
	checkCanonical(t, twice)
	if got := len(twice.ToProto(PostRefinement)); got != 2 {
		t.Fatalf("the same exclusive volume added twice renders %d times, want 2", got)
	}
	if got := twice.Scalar("disk"); got != 200_000 {
		t.Errorf("disk total = %d, want 200000", got)
	}
	if !twice.Subtract(a).Equal(a) {
		t.Errorf("subtracting one copy left %s", twice.Subtract(a))
	}
	bigger := res(volumeRes("v1", 200, "eng"))
	if bigger.Contains(a) || a.Contains(bigger) {
		t.Error("volumes of different sizes must not contain each other")
	}
	if !bigger.Subtract(a).Equal(bigger) {
		t.Error("subtracting a different-size volume must be a no-op")
	}
}

func TestMountDisksAreExclusive(t *testing.T) {
	m := res(mountDisk("/mnt/a", 100))
	part := res(mountDisk("/mnt/a", 50))
	if m.Contains(part) {
		t.Error("a MOUNT disk must not contain part of itself")
	}
	if !m.Contains(m) || !m.Subtract(m).IsEmpty() {
		t.Error("a MOUNT disk contains and subtracts itself")
	}
	if got := m.Add(part).Scalar("disk"); got != 150_000 {
		t.Errorf("two mounts total %d", got)
	}
}

func TestSharedResourcesAreCounted(t *testing.T) {
	vol := res(shared(volumeRes("v1", 100, "eng")))
	twice := vol.Add(vol)
	checkCanonical(t, twice)
	if !twice.Contains(vol) || vol.Contains(twice) {
		t.Error("two shared copies contain one, not the reverse")
	}
	if got := twice.Subtract(vol); !got.Equal(vol) {
		t.Errorf("two copies minus one = %s", got)
	}
	if got := len(twice.ToProto(PostRefinement)); got != 1 {
		t.Errorf("shared resource rendered %d times, want once", got)
	}
	if got := twice.Quantities().Get("disk"); got != 100_000 {
		t.Errorf("shared disk quantity = %d, want counted once", got)
	}
	if got := twice.String(); got != "disk(eng)(reservations: [(DYNAMIC,eng,ops)])[v1:data]<SHARED>:100<2>" {
		t.Errorf("String = %q", got)
	}
	// FromProto of two identical shared protos counts two copies.
	fromTwo := res(shared(volumeRes("v1", 100, "eng")), shared(volumeRes("v1", 100, "eng")))
	if !fromTwo.Equal(twice) {
		t.Errorf("FromProto of two copies = %s, want %s", fromTwo, twice)
	}
}

func TestNoAliasing(t *testing.T) {
	in := []*mesos.Resource{rangesRes("ports", Range{1, 10}), setRes("bugs", "a", "b")}
	r := res(in...)
	in[0].Ranges.Range[0].End = proto.Uint64(99)
	in[1].Set.Item[0] = "zzz"
	if r.String() != "bugs(*):{a, b}; ports(*):[1-10]" {
		t.Fatalf("mutating the input changed the value: %s", r)
	}
	out := r.ToProto(PostRefinement)
	out[0].Set.Item[0] = "zzz"
	if r.String() != "bugs(*):{a, b}; ports(*):[1-10]" {
		t.Fatalf("mutating ToProto output changed the value: %s", r)
	}
	got := r.Ranges("ports")
	got[0].End = 1
	if r.Ranges("ports")[0].End != 10 {
		t.Fatal("mutating Ranges output changed the value")
	}
	sum := r.Add(mustParse(t, "ports:[11-12]"))
	if r.String() != "bugs(*):{a, b}; ports(*):[1-10]" || sum.String() != "bugs(*):{a, b}; ports(*):[1-12]" {
		t.Fatalf("Add changed its receiver: %s / %s", r, sum)
	}
	diff := sum.Subtract(mustParse(t, "ports:[5-5]"))
	if sum.String() != "bugs(*):{a, b}; ports(*):[1-12]" || diff.String() != "bugs(*):{a, b}; ports(*):[1-4, 6-12]" {
		t.Fatalf("Subtract changed its receiver: %s / %s", sum, diff)
	}
}
