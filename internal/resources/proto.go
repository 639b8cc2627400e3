package resources

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Format selects how ToProto renders reservations.
type Format int

const (
	// PostRefinement renders only the reservations stack (empty = unreserved).
	PostRefinement Format = iota
	// PreRefinement renders the legacy fields only: role ("*" when unreserved)
	// and, for a dynamic reservation, reservation{principal, labels}. A
	// refined stack cannot be expressed this way; such entries are rendered
	// in the post-refinement form (offer them only to RESERVATION_REFINEMENT
	// frameworks; see WithoutRefinedReservations).
	PreRefinement
	// Endpoint renders both: the stack and, when it has at most one
	// reservation, the legacy role/reservation fields.
	Endpoint
)

// FromProto validates rs (see Validate) and returns their canonical form. It
// accepts all three formats; legacy role/reservation fields are converted to the
// reservations stack. rs is not retained.
func FromProto(rs []*mesos.Resource) (Resources, error) {
	if err := Validate(rs); err != nil {
		return Resources{}, err
	}
	return fromValidProto(rs), nil
}

// MustFromProto is FromProto for tests and literals: it panics on invalid input.
func MustFromProto(rs []*mesos.Resource) Resources {
	r, err := FromProto(rs)
	if err != nil {
		panic(fmt.Sprintf("resources.MustFromProto: %v", err))
	}
	return r
}

func fromValidProto(rs []*mesos.Resource) Resources {
	entries := make([]entry, 0, len(rs))
	var memo identityMemo
	for _, r := range rs {
		e := entryFromProto(r)
		e.id = memo.intern(e.id)
		entries = append(entries, e)
	}
	return Resources{entries: canonicalize(entries)}
}

// entryFromProto converts one valid resource; the result may be empty.
func entryFromProto(r *mesos.Resource) entry {
	e := entry{name: r.GetName(), kind: r.GetType(), id: identityFromProto(r), copies: 1}
	switch e.kind {
	case mesos.Value_SCALAR:
		e.scalar = ScalarFromFloat(r.GetScalar().GetValue())
	case mesos.Value_RANGES:
		rs := make([]Range, len(r.GetRanges().GetRange()))
		for i, rg := range r.GetRanges().GetRange() {
			rs[i] = Range{rg.GetBegin(), rg.GetEnd()}
		}
		e.ranges = normalizeRanges(rs)
	case mesos.Value_SET:
		e.set = newItemSet(normalizeItems(append([]string(nil), r.GetSet().GetItem()...)))
	}
	return e
}

// ToProto renders r as fresh protos in canonical order. A counted exclusive
// entry is rendered once per copy, a shared one once.
func (r Resources) ToProto(f Format) []*mesos.Resource {
	out := make([]*mesos.Resource, 0, len(r.entries))
	for i := range r.entries {
		e := &r.entries[i]
		n := e.copies
		if e.id.isShared() {
			n = 1
		}
		for range n {
			out = append(out, e.toProto(f))
		}
	}
	return out
}

func (e *entry) toProto(f Format) *mesos.Resource {
	res := &mesos.Resource{Name: proto.String(e.name), Type: e.kind.Enum()}
	switch e.kind {
	case mesos.Value_SCALAR:
		res.Scalar = &mesos.Value_Scalar{Value: proto.Float64(e.scalar.Float())}
	case mesos.Value_RANGES:
		res.Ranges = rangesProto(e.ranges)
	case mesos.Value_SET:
		res.Set = &mesos.Value_Set{Item: append([]string(nil), e.items()...)}
	}
	setIdentity(res, e.id)
	setReservationFormat(res, e.id, f)
	return res
}

func rangesProto(rs []Range) *mesos.Value_Ranges {
	out := &mesos.Value_Ranges{Range: make([]*mesos.Value_Range, len(rs))}
	for i, rg := range rs {
		out.Range[i] = &mesos.Value_Range{Begin: proto.Uint64(rg.Begin), End: proto.Uint64(rg.End)}
	}
	return out
}

// setIdentity copies everything but reservations into res.
func setIdentity(res *mesos.Resource, id *identity) {
	if id == nil {
		return
	}
	if id.allocated {
		res.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(id.allocRole)}
	}
	if id.disk != nil {
		res.Disk = proto.CloneOf(id.disk)
	}
	if id.revocable {
		res.Revocable = &mesos.Resource_RevocableInfo{}
	}
	if id.shared {
		res.Shared = &mesos.Resource_SharedInfo{}
	}
	if id.provider != nil {
		res.ProviderId = &mesos.ResourceProviderID{Value: proto.String(*id.provider)}
	}
}

func setReservationFormat(res *mesos.Resource, id *identity, f Format) {
	var stack []*mesos.Resource_ReservationInfo
	if id != nil {
		stack = id.reservations
	}
	if f != PreRefinement || len(stack) > 1 {
		res.Reservations = make([]*mesos.Resource_ReservationInfo, len(stack))
		for i, ri := range stack {
			res.Reservations[i] = proto.CloneOf(ri)
		}
	}
	if f == PostRefinement {
		return
	}
	switch {
	case len(stack) == 0:
		res.Role = proto.String("*")
	case len(stack) == 1:
		only := stack[0]
		res.Role = proto.String(only.GetRole())
		if only.GetType() == mesos.Resource_ReservationInfo_DYNAMIC {
			res.Reservation = &mesos.Resource_ReservationInfo{Principal: only.Principal}
			if only.Labels != nil {
				res.Reservation.Labels = proto.CloneOf(only.Labels)
			}
		}
	}
}
