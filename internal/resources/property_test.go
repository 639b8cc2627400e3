package resources

import (
	"math"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// genOptions shapes generated resources.
type genOptions struct {
	shared bool // include shared volumes (counted once in totals)
	half   int  // 0 or 1: draw ranges and set items from disjoint halves
}

// genResources generates valid resources with every kind of identity.
func genResources(opt genOptions) *rapid.Generator[Resources] {
	return rapid.Custom(func(t *rapid.T) Resources {
		n := rapid.IntRange(0, 8).Draw(t, "n")
		protos := make([]*mesos.Resource, n)
		for i := range protos {
			protos[i] = genResource(t, opt)
		}
		r, err := FromProto(protos)
		if err != nil {
			t.Fatalf("generator made invalid resources: %v", err)
		}
		return r
	})
}

func genResource(t *rapid.T, opt genOptions) *mesos.Resource {
	var r *mesos.Resource
	switch kind := rapid.IntRange(0, 9).Draw(t, "kind"); {
	case kind <= 4:
		name := rapid.SampledFrom([]string{"cpus", "mem", "disk", "foo"}).Draw(t, "scalar name")
		fixed := rapid.Int64Range(0, 5_000_000).Draw(t, "fixed")
		r = scalarRes(name, Scalar(fixed).Float())
	case kind == 5:
		r = scalarRes("gpus", float64(rapid.IntRange(0, 8).Draw(t, "gpus")))
	case kind <= 7:
		r = rangesRes("ports", genRanges(t, opt.half)...)
	case kind == 8:
		r = setRes("bugs", genItems(t, opt.half)...)
	default:
		return genVolume(t, opt)
	}
	return genIdentity(t, r)
}

func genRanges(t *rapid.T, half int) []Range {
	base := uint64(half * 100)
	var rs []Range
	for range rapid.IntRange(0, 3).Draw(t, "ranges") {
		b := base + rapid.Uint64Range(0, 99).Draw(t, "begin")
		e := min(b+rapid.Uint64Range(0, 20).Draw(t, "len"), base+99)
		rs = append(rs, Range{b, e})
	}
	return normalizeRanges(rs) // valid resources have no overlaps
}

func genItems(t *rapid.T, half int) []string {
	pool := [][]string{{"a", "b", "c", "d"}, {"e", "f", "g", "h"}}[half]
	return rapid.SliceOfDistinct(rapid.SampledFrom(pool), rapid.ID).Draw(t, "items")
}

func genIdentity(t *rapid.T, r *mesos.Resource) *mesos.Resource {
	switch rapid.IntRange(0, 4).Draw(t, "stack") {
	case 1:
		r.Reservations = []*mesos.Resource_ReservationInfo{staticRes("a")}
	case 2:
		r.Reservations = []*mesos.Resource_ReservationInfo{staticRes("a"), dynamicRes("a/b", "p")}
	case 3:
		r.Reservations = []*mesos.Resource_ReservationInfo{dynamicRes("b", "q")}
	}
	if role := rapid.SampledFrom([]string{"", "a", "a/b"}).Draw(t, "allocation"); role != "" {
		r = allocated(r, role)
	}
	if len(r.Reservations) == 0 && rapid.IntRange(0, 4).Draw(t, "revocable") == 0 {
		r = revocable(r)
	}
	return r
}

func genVolume(t *rapid.T, opt genOptions) *mesos.Resource {
	id := rapid.SampledFrom([]string{"v1", "v2"}).Draw(t, "volume")
	size := float64(rapid.IntRange(1, 3).Draw(t, "size"))
	v := volumeRes(id, size, rapid.SampledFrom([]string{"a", "b"}).Draw(t, "volume role"))
	if opt.shared && rapid.Bool().Draw(t, "shared") {
		v = shared(v)
	}
	return v
}

var (
	anyResources      = genResources(genOptions{shared: true})
	unsharedResources = genResources(genOptions{})
	lowerHalf         = genResources(genOptions{half: 0})
	upperHalf         = genResources(genOptions{half: 1})
)

func TestPropAddIsCommutativeAndAssociative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := anyResources.Draw(t, "a"), anyResources.Draw(t, "b"), anyResources.Draw(t, "c")
		ab := a.Add(b)
		checkCanonical(t, ab)
		if !ab.Equal(b.Add(a)) {
			t.Fatalf("a+b = %s but b+a = %s", ab, b.Add(a))
		}
		if !ab.Add(c).Equal(a.Add(b.Add(c))) {
			t.Fatalf("(a+b)+c = %s but a+(b+c) = %s", ab.Add(c), a.Add(b.Add(c)))
		}
	})
}

func TestPropSumContainsParts(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := anyResources.Draw(t, "a"), anyResources.Draw(t, "b")
		sum := a.Add(b)
		if !sum.Contains(a) || !sum.Contains(b) {
			t.Fatalf("%s does not contain both %s and %s", sum, a, b)
		}
	})
}

func TestPropSubtractNeverNegative(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := anyResources.Draw(t, "a"), anyResources.Draw(t, "b")
		diff := a.Subtract(b)
		checkCanonical(t, diff) // every entry positive and non-empty
		if !a.Contains(diff) {
			t.Fatalf("a-b = %s is not within a = %s", diff, a)
		}
		if !diff.Add(b).Contains(a) {
			t.Fatalf("(a-b)+b = %s does not cover a = %s", diff.Add(b), a)
		}
		for name, v := range diff.Quantities().ToMap() {
			if v <= 0 {
				t.Fatalf("non-positive quantity %s:%d", name, v)
			}
		}
	})
}

func TestPropAddSubtractInverse(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := lowerHalf.Draw(t, "a"), upperHalf.Draw(t, "b")
		if got := a.Add(b).Subtract(b); !got.Equal(a) {
			t.Fatalf("(a+b)-b = %s, want %s", got, a)
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b := anyResources.Draw(t, "a"), anyResources.Draw(t, "b")
		whole := a.Add(b)
		if got := whole.Subtract(b).Add(b); !got.Equal(whole) {
			t.Fatalf("(w-b)+b = %s, want w = %s", got, whole)
		}
	})
}

func TestPropContainsMatchesSubtract(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := anyResources.Draw(t, "a"), anyResources.Draw(t, "b")
		if a.Contains(b) != b.Subtract(a).IsEmpty() {
			t.Fatalf("Contains = %v but b-a = %s", a.Contains(b), b.Subtract(a))
		}
		if a.Equal(b) != (a.Contains(b) && b.Contains(a)) {
			t.Fatalf("Equal = %v disagrees with mutual containment", a.Equal(b))
		}
	})
}

func TestPropQuantitiesAreAdditive(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := lowerHalf.Draw(t, "a"), upperHalf.Draw(t, "b")
		if got, want := a.Add(b).Quantities(), a.Quantities().Add(b.Quantities()); !got.Equal(want) {
			t.Fatalf("Q(a+b) = %s, Q(a)+Q(b) = %s", got, want)
		}
		whole := a.Add(b)
		if got, want := whole.Subtract(b).Quantities(), whole.Quantities().Subtract(b.Quantities()); !got.Equal(want) {
			t.Fatalf("Q(w-b) = %s, Q(w)-Q(b) = %s", got, want)
		}
		if !whole.Quantities().Contains(a.Quantities()) {
			t.Fatal("Q(a+b) does not contain Q(a)")
		}
	})
}

func TestPropProtoRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := unsharedResources.Draw(t, "r")
		for _, f := range []Format{PostRefinement, PreRefinement, Endpoint} {
			protos := r.ToProto(f)
			back, err := FromProto(protos)
			if err != nil {
				t.Fatalf("format %d: %v", f, err)
			}
			if !back.Equal(r) {
				t.Fatalf("format %d: round trip %s, want %s", f, back, r)
			}
		}
	})
}

func TestPropAllocationRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := anyResources.Draw(t, "r")
		role := rapid.SampledFrom([]string{"a", "a/b", "z"}).Draw(t, "role")
		alloc := r.AllocatedTo(role)
		checkCanonical(t, alloc)
		if !alloc.Unallocated().Equal(r.Unallocated()) {
			t.Fatalf("unallocate(allocate(r)) = %s, want %s", alloc.Unallocated(), r.Unallocated())
		}
		if got := alloc.AllocationRoles(); !r.IsEmpty() && (len(got) != 1 || got[0] != role) {
			t.Fatalf("AllocationRoles = %v", got)
		}
		if !r.Unreserved().Add(r.Reserved()).Equal(r) {
			t.Fatal("Unreserved + Reserved != r")
		}
		if !r.Revocable().Add(r.NonRevocable()).Equal(r) {
			t.Fatal("Revocable + NonRevocable != r")
		}
	})
}

func TestPropScalarRounding(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := rapid.Float64Range(-MaxScalarValue, MaxScalarValue).Draw(t, "f")
		s := ScalarFromFloat(f)
		if math.Abs(s.Float()-f) > 0.0005+1e-9*math.Abs(f) {
			t.Fatalf("ScalarFromFloat(%v) = %d is more than half a unit away", f, s)
		}
		if back := ScalarFromFloat(s.Float()); back != s {
			t.Fatalf("Float() does not round trip: %d -> %v -> %d", s, s.Float(), back)
		}
		parsed, err := strconv.ParseFloat(s.String(), 64)
		if err != nil || ScalarFromFloat(parsed) != s {
			t.Fatalf("String() %q does not round trip to %d", s.String(), s)
		}
	})
}

func TestPropApplyReserveKeepsQuantities(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := lowerHalf.Draw(t, "total").Unreserved().Unallocated().NonRevocable()
		if total.IsEmpty() {
			return
		}
		part := total.entries[rapid.IntRange(0, len(total.entries)-1).Draw(t, "entry")]
		p := part.toProto(PostRefinement)
		p.Reservations = []*mesos.Resource_ReservationInfo{dynamicRes("r", "p")}
		reserved, err := total.Apply(reserveOp(p))
		if err != nil {
			t.Fatal(err)
		}
		if !reserved.Quantities().Equal(total.Quantities()) {
			t.Fatalf("RESERVE changed quantities: %s -> %s", total, reserved)
		}
		back, err := reserved.Apply(unreserveOp(proto.CloneOf(p)))
		if err != nil || !back.Equal(total) {
			t.Fatalf("UNRESERVE = %s, %v; want %s", back, err, total)
		}
	})
}

// TestPropRangesMatchBitsetModel checks the range algebra against sets of
// small integers held in a bit mask.
func TestPropRangesMatchBitsetModel(t *testing.T) {
	genSmall := rapid.Custom(func(t *rapid.T) []Range {
		var rs []Range
		for range rapid.IntRange(0, 5).Draw(t, "n") {
			b := rapid.Uint64Range(0, 63).Draw(t, "b")
			rs = append(rs, Range{b, rapid.Uint64Range(b, 63).Draw(t, "e")})
		}
		return normalizeRanges(rs)
	})
	bits := func(rs []Range) uint64 {
		var m uint64
		for _, r := range rs {
			for v := r.Begin; v <= r.End; v++ {
				m |= 1 << v
			}
		}
		return m
	}
	rapid.Check(t, func(t *rapid.T) {
		a, b := genSmall.Draw(t, "a"), genSmall.Draw(t, "b")
		u, d := unionRanges(a, b), subtractRanges(a, b)
		for _, rs := range [][]Range{u, d} {
			checkValue(t, &entry{name: "ports", kind: mesos.Value_RANGES, ranges: rs})
		}
		if bits(u) != bits(a)|bits(b) {
			t.Fatalf("union %v of %v and %v", u, a, b)
		}
		if bits(d) != bits(a)&^bits(b) {
			t.Fatalf("difference %v of %v and %v", d, a, b)
		}
		if containsRanges(a, b) != (bits(b)&^bits(a) == 0) {
			t.Fatalf("contains(%v, %v) = %v", a, b, containsRanges(a, b))
		}
		if countRanges(a) != uint64(popcount(bits(a))) {
			t.Fatalf("count(%v) = %d", a, countRanges(a))
		}
	})
}

func popcount(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}
