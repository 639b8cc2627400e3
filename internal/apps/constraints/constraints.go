// Package constraints decides whether an offer may take one more instance
// of an app under its placement constraints (reference §4.7): the seven
// operators UNIQUE, CLUSTER, GROUP_BY, MAX_PER, LIKE, UNLIKE and IS over the
// agent's hostname, region, zone or attributes, with Marathon's value
// normalisation. It is pure: the caller passes the values of the offer and
// of the instances already placed.
package constraints

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Field names for the agent properties that are not attributes.
const (
	Hostname = "@hostname"
	Region   = "@region"
	Zone     = "@zone"
)

// Values are one agent's values of every field a constraint can name,
// already normalised to strings.
type Values map[string]string

// OfferValues extracts the values of an offer's agent.
func OfferValues(offer *mesos.Offer) Values {
	v := Values{Hostname: offer.GetHostname()}
	if fd := offer.GetDomain().GetFaultDomain(); fd != nil {
		v[Region] = fd.GetRegion().GetName()
		v[Zone] = fd.GetZone().GetName()
	}
	for _, a := range offer.GetAttributes() {
		v[a.GetName()] = AttributeString(a)
	}
	return v
}

// AttributeString normalises an attribute's value: text raw, scalars with
// at most three decimals (half-even, no trailing zeros), ranges
// "[b-e,...]", sets "{a,b}" sorted.
func AttributeString(a *mesos.Attribute) string {
	switch a.GetType() {
	case mesos.Value_SCALAR:
		return formatScalar(a.GetScalar().GetValue())
	case mesos.Value_RANGES:
		var parts []string
		for _, r := range a.GetRanges().GetRange() {
			parts = append(parts, strconv.FormatUint(r.GetBegin(), 10)+"-"+strconv.FormatUint(r.GetEnd(), 10))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case mesos.Value_SET:
		items := slices.Clone(a.GetSet().GetItem())
		slices.Sort(items)
		return "{" + strings.Join(items, ",") + "}"
	default:
		return a.GetText().GetValue()
	}
}

func formatScalar(f float64) string {
	return strconv.FormatFloat(math.RoundToEven(f*1000)/1000, 'f', -1, 64)
}

// fieldKey maps a constraint's field to its Values key.
func fieldKey(field string) string {
	switch field {
	case "hostname", Hostname:
		return Hostname
	}
	return field
}

// Meets reports whether an agent with values offer may take one more
// instance under c, given the values of the instances already placed;
// target is the app's instance count (GROUP_BY's n).
func Meets(c marathon.Constraint, offer Values, placed []Values, target int) bool {
	key := fieldKey(c.Field())
	value, has := offer[key]
	if !has {
		return c.Operator() == "UNLIKE"
	}
	switch c.Operator() {
	case "UNIQUE":
		return count(placed, key, value) == 0
	case "CLUSTER":
		return meetsCluster(c.Value(), key, value, placed)
	case "GROUP_BY":
		return meetsGroupBy(c.Value(), key, value, placed, target)
	case "MAX_PER":
		limit, err := strconv.Atoi(c.Value())
		return err == nil && count(placed, key, value) < limit
	case "LIKE":
		return fullMatch(c.Value(), value)
	case "UNLIKE":
		return !fullMatch(c.Value(), value)
	case "IS":
		return value == normalizeValue(c.Value())
	}
	return false
}

// MeetsAll reports whether every constraint is met; it returns the first
// one that is not.
func MeetsAll(cs []marathon.Constraint, offer Values, placed []Values, target int) (bool, marathon.Constraint) {
	for _, c := range cs {
		if !Meets(c, offer, placed, target) {
			return false, c
		}
	}
	return true, nil
}

func count(placed []Values, key, value string) int {
	n := 0
	for _, p := range placed {
		if v, ok := p[key]; ok && v == value {
			n++
		}
	}
	return n
}

func meetsCluster(want, key, value string, placed []Values) bool {
	if want != "" {
		return value == normalizeValue(want)
	}
	for _, p := range placed {
		if v, ok := p[key]; ok {
			return v == value
		}
	}
	return true
}

// meetsGroupBy spreads instances evenly over groups: with g groups and n
// instances, each group gets n/g and n%g groups one more. Without g it
// keeps the groups seen so far balanced.
func meetsGroupBy(gText, key, value string, placed []Values, n int) bool {
	counts := map[string]int{}
	for _, p := range placed {
		if v, ok := p[key]; ok {
			counts[v]++
		}
	}
	g, err := strconv.Atoi(gText)
	if err != nil || g <= 0 {
		return balancedWithoutTarget(counts, value)
	}
	k, seen := counts[value]
	if !seen {
		return len(counts) < g
	}
	per, rem := n/g, n%g
	if k < per {
		return true
	}
	if k != per {
		return false
	}
	full := 0
	for _, c := range counts {
		if c > per {
			full++
		}
	}
	return full < rem
}

func balancedWithoutTarget(counts map[string]int, value string) bool {
	k, seen := counts[value]
	if !seen {
		return true
	}
	least := k
	for _, c := range counts {
		least = min(least, c)
	}
	return k == least
}

func fullMatch(pattern, value string) bool {
	re, err := regexp.Compile("^(?:" + pattern + ")$")
	return err == nil && re.MatchString(value)
}

// normalizeValue normalises a constraint value the way attribute scalars
// are, when it is a number.
func normalizeValue(v string) string {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return formatScalar(f)
	}
	return v
}
