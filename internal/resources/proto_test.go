package resources

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func labels(kv ...string) *mesos.Labels {
	l := &mesos.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		l.Labels = append(l.Labels, &mesos.Label{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return l
}

func TestToProtoFormats(t *testing.T) {
	dyn := dynamicRes("eng", "alice")
	dyn.Labels = labels("k", "v")
	r := res(
		scalarRes("cpus", 2),
		withStack(scalarRes("mem", 512), staticRes("eng")),
		withStack(scalarRes("disk", 100), proto.CloneOf(dyn)),
		withStack(scalarRes("gpus", 1), staticRes("eng"), dynamicRes("eng/dev", "bob")),
	)
	legacyDyn := &mesos.Resource_ReservationInfo{Principal: proto.String("alice"), Labels: labels("k", "v")}
	refined := []*mesos.Resource_ReservationInfo{staticRes("eng"), dynamicRes("eng/dev", "bob")}

	tests := []struct {
		format Format
		want   []*mesos.Resource
	}{
		{PostRefinement, []*mesos.Resource{
			scalarRes("cpus", 2),
			withStack(scalarRes("disk", 100), proto.CloneOf(dyn)),
			withStack(scalarRes("gpus", 1), refined...),
			withStack(scalarRes("mem", 512), staticRes("eng")),
		}},
		{PreRefinement, []*mesos.Resource{
			withRole(scalarRes("cpus", 2), "*", nil),
			withRole(scalarRes("disk", 100), "eng", legacyDyn),
			withStack(scalarRes("gpus", 1), refined...),
			withRole(scalarRes("mem", 512), "eng", nil),
		}},
		{Endpoint, []*mesos.Resource{
			withRole(scalarRes("cpus", 2), "*", nil),
			withRole(withStack(scalarRes("disk", 100), proto.CloneOf(dyn)), "eng", legacyDyn),
			withStack(scalarRes("gpus", 1), refined...),
			withRole(withStack(scalarRes("mem", 512), staticRes("eng")), "eng", nil),
		}},
	}
	for _, tt := range tests {
		got := r.ToProto(tt.format)
		if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
			t.Errorf("format %d (-want +got):\n%s", tt.format, diff)
		}
		if err := Validate(got); err != nil {
			t.Errorf("format %d output is invalid: %v", tt.format, err)
		}
		back, err := FromProto(got)
		if err != nil || !back.Equal(r) {
			t.Errorf("format %d round trip = %s, %v; want %s", tt.format, back, err, r)
		}
	}
}

func withRole(r *mesos.Resource, role string, reservation *mesos.Resource_ReservationInfo) *mesos.Resource {
	r.Role = proto.String(role)
	r.Reservation = proto.CloneOf(reservation)
	if reservation == nil {
		r.Reservation = nil
	}
	return r
}

func TestFromProtoUpgradesLegacyFormat(t *testing.T) {
	legacy := []*mesos.Resource{
		withRole(scalarRes("cpus", 1), "eng", nil),
		withRole(scalarRes("cpus", 2), "eng", &mesos.Resource_ReservationInfo{Principal: proto.String("p")}),
		withRole(scalarRes("cpus", 4), "*", nil),
	}
	got := res(legacy...)
	want := res(
		withStack(scalarRes("cpus", 1), staticRes("eng")),
		withStack(scalarRes("cpus", 2), dynamicRes("eng", "p")),
		scalarRes("cpus", 4),
	)
	if !got.Equal(want) {
		t.Fatalf("upgrade = %s, want %s", got, want)
	}
}

func TestLabelOrderDoesNotMatter(t *testing.T) {
	a := dynamicRes("eng", "p")
	a.Labels = labels("a", "1", "b", "2")
	b := dynamicRes("eng", "p")
	b.Labels = labels("b", "2", "a", "1")
	sum := res(withStack(scalarRes("cpus", 1), a), withStack(scalarRes("cpus", 1), b))
	if got := len(sum.ToProto(PostRefinement)); got != 1 {
		t.Fatalf("reservations differing only in label order should merge, got %d entries", got)
	}
}

func TestToProtoDeterministicOrder(t *testing.T) {
	a := res(setRes("z", "1"), scalarRes("mem", 1), withStack(scalarRes("cpus", 1), staticRes("b")),
		allocated(scalarRes("cpus", 1), "r"), scalarRes("cpus", 1), withStack(scalarRes("cpus", 1), staticRes("a")))
	b := res(withStack(scalarRes("cpus", 1), staticRes("a")), scalarRes("cpus", 1), allocated(scalarRes("cpus", 1), "r"),
		withStack(scalarRes("cpus", 1), staticRes("b")), scalarRes("mem", 1), setRes("z", "1"))
	if diff := cmp.Diff(a.ToProto(Endpoint), b.ToProto(Endpoint), protocmp.Transform()); diff != "" {
		t.Fatalf("order depends on input order:\n%s", diff)
	}
	if got := a.ToProto(PostRefinement)[0]; got.GetName() != "cpus" || len(got.Reservations) != 0 || got.AllocationInfo != nil {
		t.Errorf("plain unreserved cpus should come first, got %v", got)
	}
}

func TestMustFromProtoPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustFromProto accepted an invalid resource")
		}
	}()
	MustFromProto([]*mesos.Resource{scalarRes("cpus", -1)})
}

func TestFromProtoRejectsInvalid(t *testing.T) {
	_, err := FromProto([]*mesos.Resource{scalarRes("cpus", 1), scalarRes("", 1)})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}
