package resources

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestIsAncestorOrSelf(t *testing.T) {
	tests := []struct {
		ancestor, role string
		want           bool
	}{
		{"a", "a", true},
		{"a", "a/b", true},
		{"a", "a/b/c", true},
		{"a/b", "a", false},
		{"a", "ab", false},
		{"a", "ab/c", false},
		{"*", "a", true},
		{"*", "*", true},
		{"a", "*", false},
		{"b", "a/b", false},
	}
	for _, tt := range tests {
		if got := IsAncestorOrSelf(tt.ancestor, tt.role); got != tt.want {
			t.Errorf("IsAncestorOrSelf(%q, %q) = %v, want %v", tt.ancestor, tt.role, got, tt.want)
		}
	}
}

// agent is an agent's total with every kind of reservation.
func agent() Resources {
	return res(
		scalarRes("cpus", 8),
		withStack(scalarRes("cpus", 4), staticRes("eng")),
		withStack(scalarRes("cpus", 2), staticRes("eng"), dynamicRes("eng/dev", "p")),
		withStack(scalarRes("cpus", 1), dynamicRes("ops", "p")),
		revocable(scalarRes("cpus", 3)),
		scalarRes("mem", 1024),
	)
}

func TestReservationFilters(t *testing.T) {
	r := agent()
	tests := []struct {
		name string
		got  Resources
		want string
	}{
		{"Unreserved", r.Unreserved(), "cpus(*):8; cpus(*){REV}:3; mem(*):1024"},
		{"Reserved", r.Reserved(), "cpus(eng):4; cpus(ops)(reservations: [(DYNAMIC,ops,p)]):1; cpus(eng/dev)(reservations: [(STATIC,eng),(DYNAMIC,eng/dev,p)]):2"},
		{"ReservedTo eng", r.ReservedTo("eng"), "cpus(eng):4"},
		{"ReservedTo eng/dev", r.ReservedTo("eng/dev"), "cpus(eng/dev)(reservations: [(STATIC,eng),(DYNAMIC,eng/dev,p)]):2"},
		{"ReservedToSubtree eng", r.ReservedToSubtree("eng"), "cpus(eng):4; cpus(eng/dev)(reservations: [(STATIC,eng),(DYNAMIC,eng/dev,p)]):2"},
		{"AllocatableTo eng", r.AllocatableTo("eng"), "cpus(*):8; cpus(eng):4; cpus(*){REV}:3; mem(*):1024"},
		{"AllocatableTo eng/dev", r.AllocatableTo("eng/dev"), "cpus(*):8; cpus(eng):4; cpus(eng/dev)(reservations: [(STATIC,eng),(DYNAMIC,eng/dev,p)]):2; cpus(*){REV}:3; mem(*):1024"},
		{"AllocatableTo web", r.AllocatableTo("web"), "cpus(*):8; cpus(*){REV}:3; mem(*):1024"},
		{"Revocable", r.Revocable(), "cpus(*){REV}:3"},
		{"NonRevocable", r.NonRevocable().Unreserved(), "cpus(*):8; mem(*):1024"},
		{"WithoutRefinedReservations", r.WithoutRefinedReservations().Reserved(), "cpus(eng):4; cpus(ops)(reservations: [(DYNAMIC,ops,p)]):1"},
	}
	for _, tt := range tests {
		checkCanonical(t, tt.got)
		if tt.got.String() != tt.want {
			t.Errorf("%s = %q\nwant %q", tt.name, tt.got, tt.want)
		}
	}
	if got := r.ReservationRoles(); !slices.Equal(got, []string{"eng", "eng/dev", "ops"}) {
		t.Errorf("ReservationRoles = %v", got)
	}
}

func TestAllocation(t *testing.T) {
	r := mustParse(t, "cpus:2;mem:100;cpus(eng):1")
	a := r.AllocatedTo("eng")
	checkCanonical(t, a)
	if a.Equal(r) || a.Contains(r) || r.Contains(a) {
		t.Fatal("allocation info must be part of the identity")
	}
	if got := a.AllocationRoles(); !slices.Equal(got, []string{"eng"}) {
		t.Errorf("AllocationRoles = %v", got)
	}
	for _, p := range a.ToProto(PostRefinement) {
		if p.GetAllocationInfo().GetRole() != "eng" {
			t.Errorf("%v lacks allocation_info", p)
		}
	}
	mixed := a.Add(r.AllocatedTo("web"))
	if got := mixed.AllocationRoles(); !slices.Equal(got, []string{"eng", "web"}) {
		t.Errorf("AllocationRoles = %v", got)
	}
	if got := mixed.AllocatedToSubtree("web"); !got.Equal(r.AllocatedTo("web")) {
		t.Errorf("AllocatedToSubtree(web) = %s", got)
	}
	// Unallocating merges the two allocations back together.
	back := mixed.Unallocated()
	checkCanonical(t, back)
	if !back.Equal(r.Add(r)) {
		t.Errorf("Unallocated = %s, want %s", back, r.Add(r))
	}
	if !back.Unreserved().Equal(mustParse(t, "cpus:4;mem:200")) {
		t.Errorf("unallocated entries must be plain again: %s", back.Unreserved())
	}
	if len(r.AllocationRoles()) != 0 {
		t.Error("unallocated resources have allocation roles")
	}
}

func TestFilter(t *testing.T) {
	r := agent()
	got := r.Filter(func(p *mesos.Resource) bool { return p.GetName() == "mem" })
	if got.String() != "mem(*):1024" {
		t.Errorf("Filter = %s", got)
	}
	got = r.Filter(func(p *mesos.Resource) bool {
		p.Name = proto.String("mutated")
		return len(p.Reservations) == 1
	})
	if got.String() != "cpus(eng):4; cpus(ops)(reservations: [(DYNAMIC,ops,p)]):1" {
		t.Errorf("Filter = %s", got)
	}
	if r.Names()[0] != "cpus" {
		t.Error("Filter's callback changed the receiver")
	}
}

func TestWithDefaultRole(t *testing.T) {
	r := mustParse(t, "cpus:2;mem(ops):5")
	got, err := r.WithDefaultRole("eng")
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "cpus(eng):2; mem(ops):5" {
		t.Errorf("WithDefaultRole = %s", got)
	}
	if same, _ := r.WithDefaultRole("*"); !same.Equal(r) {
		t.Error(`"*" must leave resources unreserved`)
	}
	if _, err := r.WithDefaultRole("a//b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad role: err = %v", err)
	}
}
