package allocator

import (
	"maps"
	"slices"

	"github.com/agoraproject/agora/internal/resources"
)

// RoleView is a role as GET_ROLES and /roles show it. Quantities are scalar
// resources only and cover the role and its descendants, as in Mesos.
type RoleView struct {
	Name   string
	Weight float64
	// Frameworks are the IDs of the frameworks subscribed to the role
	// itself, sorted.
	Frameworks []string
	// Allocated is offered or allocated (the master tells offered from used).
	Allocated resources.Quantities
	Reserved  resources.Quantities
	// Consumed is the quota consumption: Reserved plus the unreserved
	// non-revocable part of Allocated.
	Consumed resources.Quantities
	Quota    Quota
	HasQuota bool
}

// Roles returns every role the allocator knows — with frameworks,
// allocations, reservations, a weight, quota, or such a descendant — sorted
// by name. It costs one pass over the roles.
func (a *Allocator) Roles() []RoleView {
	names := slices.Sorted(maps.Keys(a.roles))
	out := make([]RoleView, len(names))
	for i, n := range names {
		out[i] = a.roleView(a.roles[n])
	}
	return out
}

// Role returns one role's view.
func (a *Allocator) Role(name string) (RoleView, bool) {
	r, ok := a.roles[name]
	if !ok {
		return RoleView{}, false
	}
	return a.roleView(r), true
}

func (a *Allocator) roleView(r *role) RoleView {
	v := RoleView{
		Name:      r.name,
		Weight:    a.Weight(r.name),
		Allocated: a.scalarsOnly(r.alloc),
		Reserved:  a.scalarsOnly(r.reserved),
		Consumed:  a.scalarsOnly(r.consumption()),
		Quota:     r.quota(),
		HasQuota:  r.hasQuota,
	}
	for _, id := range slices.Sorted(maps.Keys(r.frameworks)) {
		if fr := r.frameworks[id]; fr.subscribed && fr.fw.registered {
			v.Frameworks = append(v.Frameworks, id)
		}
	}
	return v
}

// scalarsOnly drops the range and set counts (ports) from quantities.
func (a *Allocator) scalarsOnly(q resources.Quantities) resources.Quantities {
	m := map[string]resources.Scalar{}
	for _, n := range q.Names() {
		if a.scalarNames[n] > 0 {
			m[n] = q.Get(n)
		}
	}
	return resources.QuantitiesFromMap(m)
}

// Stats are the allocator's metrics (Mesos' allocator/mesos/...). The run
// time is measured by the caller: the allocator has no clock.
type Stats struct {
	AllocationRuns uint64
	// ActiveFilters counts refusal filters not yet expired (as of the last
	// Allocate) or cleared.
	ActiveFilters int
	// Total and OfferedOrAllocated are scalar totals over all agents
	// (allocator/mesos/resources/<name>/{total,offered_or_allocated}).
	Total              resources.Quantities
	OfferedOrAllocated resources.Quantities
	Roles              []RoleStats // sorted by name
}

// RoleStats are one role's metrics.
type RoleStats struct {
	Name          string
	OffersMade    uint64
	ActiveFilters int
	Allocated     resources.Quantities // offered or allocated, subtree, scalars
	// DominantShare is the role's dominant share (unweighted) of the
	// fair-shared resources (allocator/mesos/roles/<role>/shares/dominant).
	DominantShare float64
}

// Stats returns the allocator's metrics; it costs one pass over the roles.
func (a *Allocator) Stats() Stats {
	s := Stats{
		AllocationRuns:     a.runs,
		ActiveFilters:      len(a.filters),
		Total:              a.scalarsOnly(a.total),
		OfferedOrAllocated: a.scalarsOnly(a.root.alloc),
	}
	for _, n := range slices.Sorted(maps.Keys(a.roles)) {
		r := a.roles[n]
		s.Roles = append(s.Roles, RoleStats{
			Name:          n,
			OffersMade:    r.offersMade,
			ActiveFilters: r.filters,
			Allocated:     a.scalarsOnly(r.alloc),
			DominantShare: a.basis.share(r.alloc),
		})
	}
	return s
}
