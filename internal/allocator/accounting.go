package allocator

import (
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// Recover returns resources to the agent's free pool: declined or unused
// offer resources, or resources freed by a finished task. res carries
// allocation_info (one role, or several). With refuse > 0 the framework is
// not offered, in that role on that agent, any set of resources contained in
// the refused ones until now+refuse (the master passes
// max(refuse_seconds, allocation_interval)). Resources the framework does not
// hold on the agent are ignored, so a late or repeated Recover is harmless.
func (a *Allocator) Recover(frameworkID, agentID string, res resources.Resources, refuse time.Duration, now time.Time) {
	ag := a.agents[agentID]
	if ag == nil || res.IsEmpty() {
		return
	}
	held := ag.allocated[frameworkID]
	if !held.Contains(res) {
		res = held.Subtract(held.Subtract(res)) // what is held of res
		if res.IsEmpty() {
			return
		}
	}
	fw := a.frameworks[frameworkID]
	a.release(fw, ag, held.Subtract(res))
	unallocated := ag.unallocated(res)
	ag.setFree(ag.free.Add(unallocated))
	parts := splitByRole(res)
	for _, p := range parts {
		a.chargeRole(fw, p.role, p.res, false)
	}
	if refuse > 0 && fw.registered {
		for _, p := range parts {
			refused := unallocated
			if len(parts) > 1 {
				refused = p.res.Unallocated()
			}
			if fr := fw.roles[p.role]; fr != nil && fr.subscribed {
				a.addFilter(fr, ag, refused, now.Add(refuse))
			}
		}
	}
	a.dropIfIdle(fw)
}

// Allocated records resources a framework uses on an agent without an offer
// (a task that became reachable again). res carries allocation_info.
func (a *Allocator) Allocated(frameworkID, agentID string, res resources.Resources) {
	ag := a.agents[agentID]
	if ag == nil || res.IsEmpty() {
		return
	}
	a.allocate(a.frameworkRecord(frameworkID), ag, res)
}

// allocate records res (allocation_info set) as held by fw on ag.
func (a *Allocator) allocate(fw *framework, ag *agent, res resources.Resources) {
	ag.setFree(ag.free.Subtract(res.Unallocated()))
	a.hold(fw, ag, res)
	a.charge(fw, res, true)
}

// hold adds res to what fw holds on ag.
func (a *Allocator) hold(fw *framework, ag *agent, res resources.Resources) {
	held, ok := ag.allocated[fw.id]
	if !ok {
		fw.heldOn++
	}
	ag.allocated[fw.id] = held.Add(res)
}

// release sets what fw still holds on ag.
func (a *Allocator) release(fw *framework, ag *agent, rest resources.Resources) {
	if !rest.IsEmpty() {
		ag.allocated[fw.id] = rest
		return
	}
	if _, ok := ag.allocated[fw.id]; ok {
		delete(ag.allocated, fw.id)
		fw.heldOn--
	}
}

// charge adds (or removes) res to the allocation of its roles and of the
// framework in them.
func (a *Allocator) charge(fw *framework, res resources.Resources, add bool) {
	for _, p := range splitByRole(res) {
		a.chargeRole(fw, p.role, p.res, add)
	}
}

// chargeRole adds (or removes) res, allocated to one role, to the role's
// subtree totals, the framework's share in the role and both sorters.
func (a *Allocator) chargeRole(fw *framework, name string, res resources.Resources, add bool) {
	q := res.Quantities()
	unr := q
	if len(res.ReservationRoles()) > 0 || !res.Revocable().IsEmpty() {
		unr = res.Unreserved().NonRevocable().Quantities()
	}
	a.chargeQuantities(fw, name, q, unr, add)
}

// chargeQuantities is chargeRole given the quantities: all of them, and
// the unreserved non-revocable part.
func (a *Allocator) chargeQuantities(fw *framework, name string, q, unr resources.Quantities, add bool) {
	fr := fw.roles[name]
	if add {
		fr = a.fwRoleFor(fw, name)
	} else if fr == nil {
		return
	}
	r := fr.role
	for x := r; x != nil; x = x.parent {
		if add {
			x.alloc, x.allocUNR = x.alloc.Add(q), x.allocUNR.Add(unr)
		} else {
			x.alloc, x.allocUNR = x.alloc.Subtract(q), x.allocUNR.Subtract(unr)
		}
	}
	if add {
		fr.alloc = fr.alloc.Add(q)
		r.fwSorter.allocated(fr.leaf, q)
		a.roleSorter.allocated(r.leaf, q)
		return
	}
	fr.alloc = fr.alloc.Subtract(q)
	r.fwSorter.unallocated(fr.leaf, q)
	a.roleSorter.unallocated(r.leaf, q)
	a.dropIfUnused(fr)
}

// rolePart is the part of some resources allocated to exactly one role.
type rolePart struct {
	role string
	res  resources.Resources
}

// splitByRole splits resources by allocation_info.role. Entries without
// allocation info belong to no role, or, next to entries of a single role,
// to that role (the master never mixes them).
func splitByRole(res resources.Resources) []rolePart {
	roles := res.AllocationRoles()
	if len(roles) == 1 {
		return []rolePart{{roles[0], res}}
	}
	// AllocatedToSubtree also takes descendants' entries; roles sort
	// ancestors first, so walk backwards and take the descendants out.
	parts := make([]rolePart, 0, len(roles))
	for i := len(roles) - 1; i >= 0; i-- {
		p := res.AllocatedToSubtree(roles[i])
		for _, done := range parts {
			if done.role != roles[i] && resources.IsAncestorOrSelf(roles[i], done.role) {
				p = p.Subtract(done.res)
			}
		}
		parts = append(parts, rolePart{roles[i], p})
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return parts
}
