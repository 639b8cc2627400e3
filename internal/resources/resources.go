package resources

import (
	"cmp"
	"math"
	"slices"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Resources is a set of resources in canonical form (same-identity entries merged, empty ones
// dropped). It is an immutable value: methods return new values and never alias the receiver's
// or the caller's memory. The zero value is empty.
type Resources struct {
	entries []entry // sorted by compareEntries, no two equal, none empty
}

// entry is one resource: identity plus value. Only the field matching kind is
// used. Slices are never modified once the entry exists, so entries are copied
// freely between Resources values.
type entry struct {
	name   string
	id     *identity
	scalar Scalar
	ranges []Range
	set    *itemSet // SET values only, so the common entry stays small
	copies int32    // ≥ 1; more than 1 only for counted identities
	kind   mesos.Value_Type
}

// itemSet holds a set value's items, sorted and unique.
type itemSet struct{ items []string }

// items returns the entry's set items (nil for other kinds).
func (e *entry) items() []string {
	if e.set == nil {
		return nil
	}
	return e.set.items
}

func newItemSet(items []string) *itemSet {
	if len(items) == 0 {
		return nil
	}
	return &itemSet{items: items}
}

func (e *entry) isEmpty() bool {
	switch e.kind {
	case mesos.Value_SCALAR:
		return e.scalar <= 0
	case mesos.Value_RANGES:
		return len(e.ranges) == 0
	default:
		return len(e.items()) == 0
	}
}

// compareEntries orders entries by name, type and identity; counted entries
// (whose value is part of what must match) are further ordered by value.
func compareEntries(a, b *entry) int {
	if c := strings.Compare(a.name, b.name); c != 0 {
		return c
	}
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	if a.id == b.id {
		if a.id != nil && a.id.counted {
			return cmp.Compare(a.scalar, b.scalar)
		}
		return 0
	}
	if c := strings.Compare(a.id.keyString(), b.id.keyString()); c != 0 {
		return c
	}
	if a.id.isCounted() {
		return cmp.Compare(a.scalar, b.scalar)
	}
	return 0
}

// merged returns a+b for entries that compare equal.
func merged(a, b *entry) entry {
	out := *a
	switch {
	case a.id.isCounted():
		out.copies = addCopies(a.copies, b.copies)
	case a.kind == mesos.Value_SCALAR:
		out.scalar = addScalar(a.scalar, b.scalar)
	case a.kind == mesos.Value_RANGES:
		out.ranges = unionRanges(a.ranges, b.ranges)
	default:
		out.set = newItemSet(unionItems(a.items(), b.items()))
	}
	return out
}

// addCopies adds copy counts, saturating.
func addCopies(a, b int32) int32 {
	if s := int64(a) + int64(b); s <= math.MaxInt32 {
		return int32(s)
	}
	return math.MaxInt32
}

// reduced returns a-b for entries that compare equal; the result may be empty
// (a counted entry with no copies left has copies ≤ 0).
func reduced(a, b *entry) entry {
	out := *a
	switch {
	case a.id.isCounted():
		out.copies = a.copies - b.copies
	case a.kind == mesos.Value_SCALAR:
		out.scalar = a.scalar - b.scalar
	case a.kind == mesos.Value_RANGES:
		out.ranges = subtractRanges(a.ranges, b.ranges)
	default:
		out.set = newItemSet(subtractItems(a.items(), b.items()))
	}
	return out
}

// covers reports whether a contains b, for entries that compare equal.
func covers(a, b *entry) bool {
	switch {
	case a.id.isCounted():
		return a.copies >= b.copies
	case a.kind == mesos.Value_SCALAR:
		return a.scalar >= b.scalar
	case a.kind == mesos.Value_RANGES:
		return containsRanges(a.ranges, b.ranges)
	default:
		return containsItems(a.items(), b.items())
	}
}

func (e *entry) alive() bool { return e.copies > 0 && !e.isEmpty() }

// canonicalize sorts entries in place, merges equal ones and drops empty ones.
func canonicalize(entries []entry) []entry {
	slices.SortFunc(entries, func(a, b entry) int { return compareEntries(&a, &b) })
	out := entries[:0]
	for i := range entries {
		e := entries[i]
		if !e.alive() {
			continue
		}
		if n := len(out); n > 0 && compareEntries(&out[n-1], &e) == 0 {
			out[n-1] = merged(&out[n-1], &e)
			continue
		}
		out = append(out, e)
	}
	clear(entries[len(out):])
	return out
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	if len(o.entries) == 0 {
		return r
	}
	if len(r.entries) == 0 {
		return o
	}
	a, b := r.entries, o.entries
	out := make([]entry, 0, len(a)+len(b)-countCommon(a, b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := compareEntries(&a[i], &b[j]); {
		case c < 0:
			out, i = append(out, a[i]), i+1
		case c > 0:
			out, j = append(out, b[j]), j+1
		default:
			out, i, j = append(out, merged(&a[i], &b[j])), i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return Resources{entries: append(out, b[j:]...)}
}

// countCommon counts the entries a and b have in common, so results can be
// allocated at their exact size.
func countCommon(a, b []entry) int {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch c := compareEntries(&a[i], &b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			n, i, j = n+1, i+1, j+1
		}
	}
	return n
}

// Subtract returns r - o, saturating: it removes what is there, drops entries
// that become empty and ignores parts of o that r does not have.
func (r Resources) Subtract(o Resources) Resources {
	if len(o.entries) == 0 || len(r.entries) == 0 {
		return r
	}
	a, b := r.entries, o.entries
	out := make([]entry, 0, len(a))
	j := 0
	for i := range a {
		c := 1
		for j < len(b) {
			if c = compareEntries(&a[i], &b[j]); c <= 0 {
				break
			}
			j++
		}
		if j == len(b) || c < 0 {
			out = append(out, a[i])
			continue
		}
		if e := reduced(&a[i], &b[j]); e.alive() {
			out = append(out, e)
		}
		j++
	}
	return Resources{entries: out}
}

// Contains reports whether o ⊆ r.
func (r Resources) Contains(o Resources) bool {
	a, b := r.entries, o.entries
	i := 0
	for j := range b {
		c := -1
		for i < len(a) {
			if c = compareEntries(&a[i], &b[j]); c >= 0 {
				break
			}
			i++
		}
		if c != 0 || !covers(&a[i], &b[j]) {
			return false
		}
		i++
	}
	return true
}

// Equal reports whether r and o hold the same resources.
func (r Resources) Equal(o Resources) bool {
	if len(r.entries) != len(o.entries) {
		return false
	}
	for i := range r.entries {
		a, b := &r.entries[i], &o.entries[i]
		if compareEntries(a, b) != 0 || !sameValue(a, b) {
			return false
		}
	}
	return true
}

func sameValue(a, b *entry) bool {
	return a.scalar == b.scalar && a.copies == b.copies &&
		slices.Equal(a.ranges, b.ranges) && slices.Equal(a.items(), b.items())
}

// IsEmpty reports whether r holds nothing.
func (r Resources) IsEmpty() bool { return len(r.entries) == 0 }

// multiplicity is how many times an entry counts in totals: shared resources
// once, everything else once per copy.
func (e *entry) multiplicity() int32 {
	if e.id.isShared() {
		return 1
	}
	return e.copies
}

// Scalar is the total of the scalar resources called name, over all roles,
// reservations and allocations.
func (r Resources) Scalar(name string) Scalar {
	var total Scalar
	for i := range r.entries {
		e := &r.entries[i]
		if e.name == name && e.kind == mesos.Value_SCALAR {
			total = addScalar(total, e.quantity())
		}
	}
	return total
}

// Ranges is the union of the range resources called name, as a fresh slice.
func (r Resources) Ranges(name string) []Range {
	var out []Range
	for i := range r.entries {
		e := &r.entries[i]
		if e.name == name && e.kind == mesos.Value_RANGES {
			out = unionRanges(out, e.ranges)
		}
	}
	return slices.Clone(out)
}

// items is the union of the set resources called name.
func (r Resources) items(name string) []string {
	var out []string
	for i := range r.entries {
		e := &r.entries[i]
		if e.name == name && e.kind == mesos.Value_SET {
			out = unionItems(out, e.items())
		}
	}
	return out
}

// Names returns the distinct resource names, sorted.
func (r Resources) Names() []string {
	var names []string
	for i := range r.entries {
		if n := len(names); n == 0 || names[n-1] != r.entries[i].name {
			names = append(names, r.entries[i].name)
		}
	}
	return names
}

// Get returns the resources called name.
func (r Resources) Get(name string) Resources {
	return r.filterEntries(func(e *entry) bool { return e.name == name })
}

// filterEntries keeps the entries pred accepts; a subset of a canonical list is
// canonical, so nothing is re-sorted.
func (r Resources) filterEntries(pred func(*entry) bool) Resources {
	var out []entry
	for i := range r.entries {
		if pred(&r.entries[i]) {
			out = append(out, r.entries[i])
		}
	}
	return Resources{entries: out}
}

// mapIdentities rewrites each entry's identity and re-canonicalizes (entries
// whose identities become equal merge). f runs once per distinct identity.
func (r Resources) mapIdentities(f func(*identity) *identity) Resources {
	if len(r.entries) == 0 {
		return r
	}
	var memo identityMemo
	out := make([]entry, len(r.entries))
	for i, e := range r.entries {
		to, ok := memo.lookup(e.id)
		if !ok {
			to = f(e.id)
			memo.store(e.id, to)
		}
		e.id = to
		out[i] = e
	}
	return Resources{entries: canonicalize(out)}
}

// identityMemo remembers a few identity mappings, matched by key, so equal
// identities map to one shared result. It is bounded to stay linear.
type identityMemo struct {
	from, to []*identity
}

const memoSize = 16

func (m *identityMemo) lookup(id *identity) (*identity, bool) {
	for i, from := range m.from {
		if from == id || from.keyString() == id.keyString() {
			return m.to[i], true
		}
	}
	return nil, false
}

func (m *identityMemo) store(from, to *identity) {
	if len(m.from) < memoSize {
		m.from = append(m.from, from)
		m.to = append(m.to, to)
	}
}

// intern returns an earlier identity equal to id when the memo has one, so
// entries share identity pointers (cheaper comparisons, less memory).
func (m *identityMemo) intern(id *identity) *identity {
	if id == nil {
		return nil
	}
	if same, ok := m.lookup(id); ok {
		return same
	}
	m.store(id, id)
	return id
}
