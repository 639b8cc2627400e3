package resources

import (
	"math"
	"slices"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Quantities maps resource names to scalar totals, ignoring roles, reservations
// and allocation: the basis of DRF shares, quota and min_allocatable_resources
// checks. Ranges count their size and sets their items. Like Resources it is an
// immutable value; the zero value is empty. The standard names have fixed
// slots, so quantities of cpus, mem, disk, gpus and ports cost no allocation.
type Quantities struct {
	std   [numStandard]Scalar // indexed by standardIndex; ≥ 0
	other []quantity          // non-standard names, sorted, values > 0
}

type quantity struct {
	name  string
	value Scalar
}

// standardNames are the names with fixed slots, in sorted order.
var standardNames = [...]string{"cpus", "disk", "gpus", "mem", "ports"}

const numStandard = len(standardNames)

func standardIndex(name string) int {
	switch name {
	case "cpus":
		return 0
	case "disk":
		return 1
	case "gpus":
		return 2
	case "mem":
		return 3
	case "ports":
		return 4
	}
	return -1
}

// Quantities returns r's quantities. Shared resources count once.
func (r Resources) Quantities() Quantities {
	var q Quantities
	for i := range r.entries {
		e := &r.entries[i]
		v := e.quantity()
		if k := standardIndex(e.name); k >= 0 {
			q.std[k] = addScalar(q.std[k], v)
			continue
		}
		if n := len(q.other); n > 0 && q.other[n-1].name == e.name {
			q.other[n-1].value = addScalar(q.other[n-1].value, v)
			continue
		}
		q.other = append(q.other, quantity{e.name, v})
	}
	return q
}

// quantity is the entry's contribution to its name's total: its scalar value,
// range size or item count (×1000), times its multiplicity.
func (e *entry) quantity() Scalar {
	var one Scalar
	switch e.kind {
	case mesos.Value_SCALAR:
		one = e.scalar
	case mesos.Value_RANGES:
		one = countToScalar(countRanges(e.ranges))
	default:
		one = countToScalar(uint64(len(e.items())))
	}
	if m := e.multiplicity(); m != 1 {
		if one > math.MaxInt64/Scalar(m) {
			return math.MaxInt64
		}
		one *= Scalar(m)
	}
	return one
}

func countToScalar(n uint64) Scalar {
	if n > math.MaxInt64/1000 {
		return math.MaxInt64
	}
	return Scalar(n * 1000)
}

// QuantitiesFromMap builds Quantities from a map; values ≤ 0 are dropped.
func QuantitiesFromMap(m map[string]Scalar) Quantities {
	var q Quantities
	for name, v := range m {
		if v <= 0 {
			continue
		}
		if k := standardIndex(name); k >= 0 {
			q.std[k] = v
			continue
		}
		q.other = append(q.other, quantity{name, v})
	}
	slices.SortFunc(q.other, func(a, b quantity) int { return strings.Compare(a.name, b.name) })
	return q
}

// FromMap returns Quantities holding m (see QuantitiesFromMap); the receiver
// is ignored, so the method reads as a constructor on the type.
func (Quantities) FromMap(m map[string]Scalar) Quantities { return QuantitiesFromMap(m) }

// ToMap returns the quantities as a fresh map.
func (q Quantities) ToMap() map[string]Scalar {
	m := make(map[string]Scalar, numStandard+len(q.other))
	q.each(func(name string, v Scalar) { m[name] = v })
	return m
}

// each calls f for every name with a quantity, in name order.
func (q Quantities) each(f func(string, Scalar)) {
	j := 0
	for k, name := range standardNames {
		for j < len(q.other) && q.other[j].name < name {
			f(q.other[j].name, q.other[j].value)
			j++
		}
		if q.std[k] > 0 {
			f(name, q.std[k])
		}
	}
	for _, e := range q.other[j:] {
		f(e.name, e.value)
	}
}

// Get returns the quantity of name (0 when absent).
func (q Quantities) Get(name string) Scalar {
	if k := standardIndex(name); k >= 0 {
		return q.std[k]
	}
	for _, e := range q.other {
		if e.name == name {
			return e.value
		}
	}
	return 0
}

// IsEmpty reports whether q holds nothing.
func (q Quantities) IsEmpty() bool {
	return q.std == [numStandard]Scalar{} && len(q.other) == 0
}

// Names returns the names with a quantity, sorted.
func (q Quantities) Names() []string {
	var names []string
	q.each(func(name string, _ Scalar) { names = append(names, name) })
	return names
}

// Add returns q + o.
func (q Quantities) Add(o Quantities) Quantities {
	out := Quantities{other: addOther(q.other, o.other)}
	for k := range out.std {
		out.std[k] = addScalar(q.std[k], o.std[k])
	}
	return out
}

func addOther(a, b []quantity) []quantity {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]quantity, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i].name, b[j].name); {
		case c < 0:
			out, i = append(out, a[i]), i+1
		case c > 0:
			out, j = append(out, b[j]), j+1
		default:
			out = append(out, quantity{a[i].name, addScalar(a[i].value, b[j].value)})
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// Subtract returns q - o, saturating at zero (names that reach zero are
// dropped).
func (q Quantities) Subtract(o Quantities) Quantities {
	out := Quantities{other: subtractOther(q.other, o.other)}
	for k := range out.std {
		out.std[k] = max(q.std[k]-o.std[k], 0)
	}
	return out
}

func subtractOther(a, b []quantity) []quantity {
	if len(a) == 0 || len(b) == 0 {
		return a
	}
	out := make([]quantity, 0, len(a))
	j := 0
	for _, e := range a {
		for j < len(b) && b[j].name < e.name {
			j++
		}
		if j < len(b) && b[j].name == e.name {
			if e.value -= b[j].value; e.value <= 0 {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// Contains reports whether q ≥ o for every name in o.
func (q Quantities) Contains(o Quantities) bool {
	for k := range q.std {
		if q.std[k] < o.std[k] {
			return false
		}
	}
	i := 0
	for _, want := range o.other {
		for i < len(q.other) && q.other[i].name < want.name {
			i++
		}
		if i == len(q.other) || q.other[i].name != want.name || q.other[i].value < want.value {
			return false
		}
	}
	return true
}

// Equal reports whether q and o hold the same quantities.
func (q Quantities) Equal(o Quantities) bool {
	return q.std == o.std && slices.Equal(q.other, o.other)
}

// String renders "cpus:2;mem:1024", the syntax of min_allocatable_resources.
func (q Quantities) String() string {
	var b strings.Builder
	q.each(func(name string, v Scalar) {
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		b.WriteString(name + ":" + v.String())
	})
	return b.String()
}
