package constraints

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func host(name string, kv ...string) Values {
	v := Values{Hostname: name}
	for i := 0; i+1 < len(kv); i += 2 {
		v[kv[i]] = kv[i+1]
	}
	return v
}

func TestOperators(t *testing.T) {
	a, b, c := host("a", "rack", "r1"), host("b", "rack", "r1"), host("c", "rack", "r2")
	noRack := host("d")
	tests := []struct {
		name   string
		c      marathon.Constraint
		offer  Values
		placed []Values
		target int
		want   bool
	}{
		{"unique free", marathon.Constraint{"hostname", "UNIQUE"}, a, []Values{b}, 3, true},
		{"unique taken", marathon.Constraint{"hostname", "UNIQUE"}, a, []Values{a}, 3, false},
		{"unique @hostname", marathon.Constraint{"@hostname", "UNIQUE"}, a, []Values{a}, 3, false},
		{"unique attribute", marathon.Constraint{"rack", "UNIQUE"}, b, []Values{a}, 3, false},
		{"unique missing field", marathon.Constraint{"rack", "UNIQUE"}, noRack, nil, 3, false},
		{"cluster value equal", marathon.Constraint{"rack", "CLUSTER", "r1"}, a, nil, 3, true},
		{"cluster value differs", marathon.Constraint{"rack", "CLUSTER", "r1"}, c, nil, 3, false},
		{"cluster empty first", marathon.Constraint{"rack", "CLUSTER"}, c, nil, 3, true},
		{"cluster empty follows first", marathon.Constraint{"rack", "CLUSTER"}, c, []Values{a}, 3, false},
		{"cluster empty same", marathon.Constraint{"rack", "CLUSTER", ""}, b, []Values{a}, 3, true},
		{"max_per below", marathon.Constraint{"rack", "MAX_PER", "2"}, b, []Values{a}, 3, true},
		{"max_per at limit", marathon.Constraint{"rack", "MAX_PER", "2"}, b, []Values{a, a}, 3, false},
		{"like full match", marathon.Constraint{"rack", "LIKE", "r[0-9]"}, a, nil, 1, true},
		{"like is anchored", marathon.Constraint{"rack", "LIKE", "r"}, a, nil, 1, false},
		{"like missing field", marathon.Constraint{"rack", "LIKE", ".*"}, noRack, nil, 1, false},
		{"unlike", marathon.Constraint{"rack", "UNLIKE", "r1"}, a, nil, 1, false},
		{"unlike other", marathon.Constraint{"rack", "UNLIKE", "r1"}, c, nil, 1, true},
		{"unlike missing field passes", marathon.Constraint{"rack", "UNLIKE", "r1"}, noRack, nil, 1, true},
		{"is text", marathon.Constraint{"rack", "IS", "r2"}, c, nil, 1, true},
		{"is normalised scalar", marathon.Constraint{"gen", "IS", "0.8001"}, host("x", "gen", "0.8"), nil, 1, true},
		{"is differs", marathon.Constraint{"rack", "IS", "r2"}, a, nil, 1, false},
		{"unknown operator", marathon.Constraint{"rack", "NEAR"}, a, nil, 1, false},
	}
	for _, tc := range tests {
		if got := Meets(tc.c, tc.offer, tc.placed, tc.target); got != tc.want {
			t.Errorf("%s: Meets(%v) = %v, want %v", tc.name, tc.c, got, tc.want)
		}
	}
}

// TestGroupBySpreadsByTheFormula places instances one at a time, always
// offering the racks in the same order, and checks the final spread:
// n/g per group and n%g groups with one more.
func TestGroupBySpreadsByTheFormula(t *testing.T) {
	racks := []Values{host("a", "rack", "r1"), host("b", "rack", "r2"), host("c", "rack", "r3")}
	tests := []struct {
		g, n int
		want map[string]int
	}{
		{2, 5, map[string]int{"r1": 3, "r2": 2}},
		{3, 7, map[string]int{"r1": 3, "r2": 2, "r3": 2}},
		{3, 2, map[string]int{"r1": 1, "r2": 1}},
	}
	for _, tc := range tests {
		c := marathon.Constraint{"rack", "GROUP_BY", itoa(tc.g)}
		var placed []Values
		for len(placed) < tc.n {
			progressed := false
			for _, r := range racks {
				if len(placed) < tc.n && Meets(c, r, placed, tc.n) {
					placed = append(placed, r)
					progressed = true
				}
			}
			if !progressed {
				break
			}
		}
		got := map[string]int{}
		for _, p := range placed {
			got[p["rack"]]++
		}
		if len(placed) != tc.n || !sameCounts(got, tc.want) {
			t.Errorf("GROUP_BY %d with %d instances: placed %v, want %v", tc.g, tc.n, got, tc.want)
		}
	}
}

func TestGroupByWithoutValueKeepsBalance(t *testing.T) {
	c := marathon.Constraint{"rack", "GROUP_BY"}
	r1, r2 := host("a", "rack", "r1"), host("b", "rack", "r2")
	if !Meets(c, r2, []Values{r1}, 0) {
		t.Error("a new group is refused")
	}
	if Meets(c, r1, []Values{r1, r1, r2}, 0) {
		t.Error("the larger group takes more")
	}
	if !Meets(c, r2, []Values{r1, r1, r2}, 0) {
		t.Error("the smallest group is refused")
	}
}

func TestAttributeNormalisation(t *testing.T) {
	tests := []struct {
		attr *mesos.Attribute
		want string
	}{
		{&mesos.Attribute{Name: proto.String("t"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("ssd")}}, "ssd"},
		{&mesos.Attribute{Name: proto.String("s"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.8001)}}, "0.8"},
		{&mesos.Attribute{Name: proto.String("s"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2)}}, "2"},
		{&mesos.Attribute{Name: proto.String("s"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.0025)}}, "0.002"},
		{&mesos.Attribute{Name: proto.String("r"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{
			{Begin: proto.Uint64(1), End: proto.Uint64(5)}, {Begin: proto.Uint64(8), End: proto.Uint64(9)}}}}, "[1-5,8-9]"},
		{&mesos.Attribute{Name: proto.String("z"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"b", "a"}}}, "{a,b}"},
	}
	for _, tc := range tests {
		if got := AttributeString(tc.attr); got != tc.want {
			t.Errorf("AttributeString(%v) = %q, want %q", tc.attr, got, tc.want)
		}
	}
}

func TestOfferValuesIncludeDomain(t *testing.T) {
	offer := &mesos.Offer{Hostname: proto.String("h1"), Domain: &mesos.DomainInfo{FaultDomain: &mesos.DomainInfo_FaultDomain{
		Region: &mesos.DomainInfo_FaultDomain_RegionInfo{Name: proto.String("eu")},
		Zone:   &mesos.DomainInfo_FaultDomain_ZoneInfo{Name: proto.String("eu-1a")},
	}}}
	v := OfferValues(offer)
	if v[Hostname] != "h1" || v[Region] != "eu" || v[Zone] != "eu-1a" {
		t.Errorf("OfferValues = %v", v)
	}
	if !Meets(marathon.Constraint{"@zone", "IS", "eu-1a"}, v, nil, 1) {
		t.Error("@zone IS does not match")
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
