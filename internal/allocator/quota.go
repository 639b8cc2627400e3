package allocator

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// Limits caps a role's quota consumption per resource name. A name that is
// absent is unlimited; a name present with 0 allows none. (Quantities cannot
// hold zeros, hence a map.)
type Limits map[string]resources.Scalar

// Quota is a role's quota: guarantees (served first, protected by headroom)
// and limits (never exceeded).
type Quota struct {
	Guarantees resources.Quantities
	Limits     Limits
}

// ErrQuotaExceeded marks quota limits that lie below a role's current
// consumption (UPDATE_QUOTA without force is refused with it).
var ErrQuotaExceeded = errors.New("allocator: quota limits below current consumption")

// bound caps one resource name.
type bound struct {
	name  string
	value resources.Scalar
}

// SetQuota sets a role's quota (any role; limits of every ancestor apply to
// its descendants too). The master rescinds the outstanding offers of the
// role and its descendants when their quota changes (see the package doc).
func (a *Allocator) SetQuota(role string, guarantees resources.Quantities, limits Limits) {
	r := a.roleFor(role)
	a.setGuaranteed(r, !guarantees.IsEmpty())
	r.hasQuota, r.guarantees, r.limits = true, guarantees, nil
	for _, name := range slices.Sorted(maps.Keys(limits)) {
		r.limits = append(r.limits, bound{name, max(limits[name], 0)})
	}
}

// RemoveQuota removes a role's quota.
func (a *Allocator) RemoveQuota(role string) {
	r, ok := a.roles[role]
	if !ok || !r.hasQuota {
		return
	}
	a.setGuaranteed(r, false)
	r.hasQuota, r.guarantees, r.limits = false, resources.Quantities{}, nil
	a.tryRemoveRole(r)
}

// setGuaranteed keeps the guaranteed-role list and subtree counts.
func (a *Allocator) setGuaranteed(r *role, on bool) {
	was := !r.guarantees.IsEmpty()
	if was == on {
		return
	}
	if on {
		i, _ := slices.BinarySearchFunc(a.guaranteed, r.name, func(x *role, n string) int { return strings.Compare(x.name, n) })
		a.guaranteed = slices.Insert(a.guaranteed, i, r)
	} else {
		a.guaranteed = slices.DeleteFunc(a.guaranteed, func(x *role) bool { return x == r })
	}
}

// Quota returns a role's quota, if it has one.
func (a *Allocator) Quota(role string) (Quota, bool) {
	r, ok := a.roles[role]
	if !ok || !r.hasQuota {
		return Quota{}, false
	}
	return r.quota(), true
}

func (r *role) quota() Quota {
	q := Quota{Guarantees: r.guarantees}
	if r.hasQuota {
		q.Limits = Limits{}
		for _, l := range r.limits {
			q.Limits[l.name] = l.value
		}
	}
	return q
}

// Consumption is a role's quota consumption: reservations to the role and
// its descendants plus their unreserved non-revocable allocations.
func (a *Allocator) Consumption(role string) resources.Quantities {
	if r, ok := a.roles[role]; ok {
		return r.consumption()
	}
	return resources.Quantities{}
}

// CheckQuotaLimits checks new limits for several roles at once, before
// UPDATE_QUOTA applies any of them: the error (wrapping ErrQuotaExceeded)
// names every role and resource whose consumption is above its new limit.
func (a *Allocator) CheckQuotaLimits(limits map[string]Limits) error {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(limits)) {
		consumed := a.Consumption(name)
		for _, res := range slices.Sorted(maps.Keys(limits[name])) {
			if c, l := consumed.Get(res), limits[name][res]; c > l {
				problems = append(problems, fmt.Sprintf("role %q consumes %s %s, above the limit %s", name, c, res, l))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrQuotaExceeded, strings.Join(problems, "; "))
	}
	return nil
}

// QuotaHeadroomDeficit is how much unreserved non-revocable headroom is
// missing for the unmet guarantees: after raising a guarantee the master
// rescinds outstanding offers until this is empty (or none are left).
func (a *Allocator) QuotaHeadroomDeficit() resources.Quantities {
	return a.requiredHeadroom().Subtract(a.availableHeadroom())
}

// availableHeadroom is the unreserved non-revocable resources not allocated
// to anyone, on all agents.
func (a *Allocator) availableHeadroom() resources.Quantities {
	return a.totalUNR.Subtract(a.root.allocUNR)
}

// requiredHeadroom is the unreserved headroom the unmet guarantees need:
// for each guaranteed role, the larger of its own unmet guarantee and what
// the guaranteed roles below it need, summed over the topmost ones (for
// top-level quotas, Mesos' sum of guarantee − consumption). Guaranteed roles
// sort after their ancestors, so one backward pass adds each role's need to
// its nearest guaranteed ancestor.
func (a *Allocator) requiredHeadroom() resources.Quantities {
	var total resources.Quantities
	for _, r := range a.guaranteed {
		r.needBelow = resources.Quantities{}
	}
	for i := len(a.guaranteed) - 1; i >= 0; i-- {
		r := a.guaranteed[i]
		own := r.guarantees.Subtract(r.consumption())
		need := own.Add(r.needBelow.Subtract(own))
		if up := guaranteedAncestor(r); up != nil {
			up.needBelow = up.needBelow.Add(need)
		} else {
			total = total.Add(need)
		}
	}
	return total
}

func guaranteedAncestor(r *role) *role {
	for x := r.parent; x != nil; x = x.parent {
		if !x.guarantees.IsEmpty() {
			return x
		}
	}
	return nil
}

// limitRoom appends to room how much more the role may consume before it
// or an ancestor reaches a limit.
func limitRoom(r *role, room []bound) (_ []bound, limited bool) {
	for x := r; x != nil; x = x.parent {
		if len(x.limits) == 0 {
			continue
		}
		limited = true
		consumed := x.consumption()
		for _, l := range x.limits {
			room = tighten(room, l.name, max(l.value-consumed.Get(l.name), 0))
		}
	}
	return room, limited
}

// tighten lowers (or adds) the bound on name.
func tighten(bs []bound, name string, v resources.Scalar) []bound {
	for i := range bs {
		if bs[i].name == name {
			bs[i].value = min(bs[i].value, v)
			return bs
		}
	}
	return append(bs, bound{name, v})
}

// boundsOf turns quantities into bounds.
func boundsOf(q resources.Quantities) []bound {
	names := q.Names()
	bs := make([]bound, len(names))
	for i, n := range names {
		bs[i] = bound{n, q.Get(n)}
	}
	return bs
}

// minus lowers each bound by what q already takes.
func minus(bs []bound, q resources.Quantities) []bound {
	out := make([]bound, len(bs))
	for i, b := range bs {
		out[i] = bound{b.name, max(b.value-q.Get(b.name), 0)}
	}
	return out
}

// takeNames returns the resources of r with the given names.
func takeNames(r resources.Resources, names []string) resources.Resources {
	var out resources.Resources
	for _, n := range names {
		out = out.Add(r.Get(n))
	}
	return out
}

// shrink cuts r down to the bounds, as Mesos' shrinkResources does: names
// without a bound are kept; for a bounded name, entries are taken in order
// while they fit, the first that does not fit is cut to what is left if it
// is a plain scalar, and the rest are dropped.
func shrink(r resources.Resources, bs []bound) resources.Resources {
	if len(bs) == 0 || r.IsEmpty() {
		return r
	}
	q := r.Quantities()
	for _, b := range bs {
		if q.Get(b.name) <= b.value {
			continue
		}
		part := r.Get(b.name)
		r = r.Subtract(part)
		if b.value > 0 {
			r = r.Add(cut(part, b.value))
		}
	}
	return r
}

// cut keeps resources of one name, in order, up to limit.
func cut(part resources.Resources, limit resources.Scalar) resources.Resources {
	var keep []*mesos.Resource
	for _, p := range part.ToProto(resources.PostRefinement) {
		v := quantityOf(p)
		switch {
		case v <= limit:
			limit -= v
		case limit > 0 && shrinkable(p):
			p.Scalar.Value = proto.Float64(limit.Float())
			limit = 0
		default:
			continue
		}
		keep = append(keep, p)
	}
	out, err := resources.FromProto(keep)
	if err != nil {
		panic(fmt.Sprintf("allocator: cutting valid resources made invalid ones: %v", err))
	}
	return out
}

// quantityOf is one resource's quantity: its scalar value, range size or
// item count.
func quantityOf(p *mesos.Resource) resources.Scalar {
	switch p.GetType() {
	case mesos.Value_SCALAR:
		return resources.ScalarFromFloat(p.GetScalar().GetValue())
	case mesos.Value_RANGES:
		var n uint64
		for _, r := range p.GetRanges().GetRange() {
			n += r.GetEnd() - r.GetBegin() + 1
		}
		return resources.Scalar(n) * resources.ScalarUnit
	default:
		return resources.Scalar(len(p.GetSet().GetItem())) * resources.ScalarUnit
	}
}

// shrinkable reports whether a resource may be cut to a smaller value: plain
// scalars yes; volumes, mount/block disks and shared resources no.
func shrinkable(p *mesos.Resource) bool {
	return p.GetType() == mesos.Value_SCALAR && p.Shared == nil &&
		(p.Disk == nil || (p.Disk.Source == nil && p.Disk.Persistence == nil))
}
