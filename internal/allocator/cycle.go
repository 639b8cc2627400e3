package allocator

import (
	"slices"
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// Allocate runs one allocation cycle at time now and returns its offers, in
// the order they were made (one per framework, role and agent). Every
// resource in them counts as allocated until recovered.
//
// Stage 1 visits the agents (shuffled) and, on each, the roles with unmet
// quota guarantees in DRF order, offering each role's frameworks up to the
// guarantee. Stage 2 visits the agents again (reshuffled) and, on each, all
// roles in DRF order and their frameworks in DRF order, offering each in
// turn everything on the agent it may have. Both stages keep the unmet
// guarantees' headroom and every quota limit.
func (a *Allocator) Allocate(now time.Time) []Offer {
	a.expireFilters(now)
	a.runs++
	agents := a.candidates()
	if len(agents) == 0 {
		return nil
	}
	c := &cycle{a: a, run: a.runs}
	c.visitRole, c.visitFramework = c.offerRole, c.offerFramework
	if roles := a.unmetGuarantees(); len(roles) > 0 {
		c.setRequired(a.requiredHeadroom())
		a.shuffleAgents(agents)
		c.stage1(agents, roles)
	}
	c.setRequired(a.requiredHeadroom())
	a.shuffleAgents(agents)
	c.stage2(agents)
	return c.offers
}

// cycle is the state of one Allocate call.
type cycle struct {
	a        *Allocator
	run      uint64
	offers   []Offer
	required resources.Quantities // headroom the unmet guarantees still need
	// requiredNames are required's names; bounds is scratch for quota cuts.
	requiredNames []string
	bounds        []bound
	// The stage-2 walk: the agent being offered, the walk generation and
	// the visitors (method values made once per cycle, not per agent).
	ag             *agent
	gen            uint64
	visitRole      func(*role) bool
	visitFramework func(*fwRole) bool
}

// candidates lists the agents worth visiting, in the order they were added:
// active, with free resources that satisfy the global minimum (unless some
// framework has its own), while anyone wants offers at all.
func (a *Allocator) candidates() []*agent {
	if a.roleSorter.root.activeLeaves == 0 {
		return nil
	}
	out := a.visit[:0]
	for _, ag := range a.agentList {
		if ag.active && !ag.free.IsEmpty() && (a.minOverrides > 0 || meetsMin(ag.freeQ, a.minSets)) {
			out = append(out, ag)
		}
	}
	a.visit = out
	return out
}

func (a *Allocator) shuffleAgents(agents []*agent) {
	if a.opts.ShuffleAgents {
		shuffle(a.rng, agents)
	}
}

// unmetGuarantees lists the roles with unmet guarantees and frameworks that
// want offers.
func (a *Allocator) unmetGuarantees() []*role {
	var out []*role
	for _, r := range a.guaranteed {
		if r.leaf != nil && r.leaf.active && !r.guarantees.Subtract(r.consumption()).IsEmpty() {
			out = append(out, r)
		}
	}
	return out
}

func (c *cycle) stage1(agents []*agent, roles []*role) {
	leaves := make([]*snode[*role], 0, len(roles))
	for _, ag := range agents {
		roles = slices.DeleteFunc(roles, func(r *role) bool {
			return r.guarantees.Subtract(r.consumption()).IsEmpty()
		})
		if len(roles) == 0 {
			return
		}
		if ag.free.IsEmpty() {
			continue
		}
		leaves = leaves[:0]
		for _, r := range roles {
			leaves = append(leaves, r.leaf)
		}
		c.a.roleSorter.orderClients(leaves)
		for _, l := range leaves {
			if ag.free.IsEmpty() {
				break
			}
			c.guaranteeRole(ag, l.client)
		}
	}
}

// guaranteeRole offers a role's frameworks, in order, resources of ag toward
// the role's unmet guarantee.
func (c *cycle) guaranteeRole(ag *agent, r *role) {
	c.a.walkGen++
	r.fwSorter.walk(c.a.walkGen, func(fr *fwRole) bool {
		unmet := r.guarantees.Subtract(r.consumption())
		if unmet.IsEmpty() {
			return true
		}
		avail := ag.allocatableTo(r.name)
		if avail.IsEmpty() {
			return true
		}
		c.tryGuarantee(ag, fr, avail, unmet)
		return false
	})
}

// tryGuarantee offers fr what it may have of avail in stage 1: its role's
// reservations, non-scalar and revocable resources, unreserved resources up
// to the unmet guarantee and, beyond it, up to the limits and the surplus
// headroom. Nothing is offered unless the guarantee makes progress.
func (c *cycle) tryGuarantee(ag *agent, fr *fwRole, avail resources.Resources, unmet resources.Quantities) {
	a := c.a
	if !a.allocatable(avail.Quantities(), fr) || !a.capable(fr.fw, ag) {
		return
	}
	avail = stripIncapable(avail, fr.fw.caps, ag)
	quotaRes := ag.quotaPart(avail)
	toward := boundsOf(unmet)
	room, limited := limitRoom(fr.role, nil)
	for _, b := range room {
		toward = tighten(toward, b.name, b.value)
	}
	guaranteed := shrink(takeNames(quotaRes, unmet.Names()), toward)
	if guaranteed.IsEmpty() {
		return
	}
	extra := quotaRes.Subtract(guaranteed)
	if limited {
		extra = shrink(extra, minus(room, guaranteed.Quantities()))
	}
	extra = shrink(extra, c.appendSurplus(nil))
	toOffer := avail.Subtract(quotaRes).Add(guaranteed).Add(extra)
	q := toOffer.Quantities()
	if !a.allocatable(q, fr) || fr.isFiltered(ag, toOffer) {
		return
	}
	c.offer(ag, fr, toOffer, q)
	c.setRequired(a.requiredHeadroom())
}

func (c *cycle) stage2(agents []*agent) {
	for _, ag := range agents {
		if ag.free.IsEmpty() {
			continue
		}
		c.a.walkGen++
		c.ag, c.gen = ag, c.a.walkGen
		c.a.roleSorter.walk(c.gen, c.visitRole)
	}
}

// offerRole offers the current agent to a role's frameworks in order; it
// stops the walk once the agent is empty.
func (c *cycle) offerRole(r *role) bool {
	r.fwSorter.walk(c.gen, c.visitFramework)
	return c.ag.free.IsEmpty()
}

// offerFramework offers the current agent to one framework in its role; it
// stops the role's walk once nothing is left for the role.
func (c *cycle) offerFramework(fr *fwRole) bool {
	avail := c.ag.allocatableTo(fr.role.name)
	if avail.IsEmpty() {
		return true
	}
	c.tryOffer(c.ag, fr, avail)
	return false
}

// tryOffer offers fr everything of avail it may have in stage 2: reserved,
// non-scalar and revocable resources, and unreserved ones within the limits
// and the surplus headroom.
func (c *cycle) tryOffer(ag *agent, fr *fwRole, avail resources.Resources) {
	a := c.a
	if !a.capable(fr.fw, ag) {
		return
	}
	q := ag.freeQ // a plain agent's avail is its whole free set
	if !ag.plain() {
		q = avail.Quantities()
	}
	// A filter hiding all of avail hides any part of it: skip the rest.
	if !a.allocatable(q, fr) || fr.isFiltered(ag, avail) {
		return
	}
	if !ag.plain() {
		avail = stripIncapable(avail, fr.fw.caps, ag)
		q = avail.Quantities()
	}
	toOffer, q, ok := c.withinQuota(ag, fr, avail, q)
	if ok && a.allocatable(q, fr) && !fr.isFiltered(ag, toOffer) {
		c.offer(ag, fr, toOffer, q)
	}
}

// withinQuota cuts the unreserved non-revocable part of avail (with
// quantities q) to the role's limit room and the surplus headroom, and
// returns what is left with its quantities. ok is false when the cut
// leaves nothing worth offering (checked on quantities first, so a role
// at its limit costs no resource arithmetic).
func (c *cycle) withinQuota(ag *agent, fr *fwRole, avail resources.Resources, q resources.Quantities) (_ resources.Resources, _ resources.Quantities, ok bool) {
	c.bounds, _ = limitRoom(fr.role, c.bounds[:0])
	c.bounds = c.appendSurplus(c.bounds)
	if len(c.bounds) == 0 {
		return avail, q, true
	}
	quotaRes, quotaQ := avail, q
	if !ag.plain() {
		quotaRes = ag.quotaPart(avail)
		quotaQ = quotaRes.Quantities()
	}
	if fits(quotaQ, c.bounds) {
		return avail, q, true
	}
	if !c.a.mayMeetMin(q, quotaQ, c.bounds, fr) {
		return avail, q, false
	}
	toOffer := shrink(quotaRes, c.bounds)
	if !ag.plain() {
		toOffer = avail.Subtract(quotaRes).Add(toOffer)
	}
	return toOffer, toOffer.Quantities(), true
}

// fits reports whether q is within every bound.
func fits(q resources.Quantities, bs []bound) bool {
	for _, b := range bs {
		if q.Get(b.name) > b.value {
			return false
		}
	}
	return true
}

// quotaPart is the part of resources on ag that quota counts: unreserved
// and non-revocable (all of them on a plain agent).
func (ag *agent) quotaPart(res resources.Resources) resources.Resources {
	if !ag.reserved && !ag.revocable {
		return res
	}
	return res.Unreserved().NonRevocable()
}

// appendSurplus appends the bounds of what may be offered beyond the
// headroom the unmet guarantees need: available − required, for each name
// they need.
func (c *cycle) appendSurplus(bs []bound) []bound {
	if c.required.IsEmpty() {
		return bs
	}
	avail := c.a.availableHeadroom()
	for _, n := range c.requiredNames {
		bs = append(bs, bound{n, max(avail.Get(n)-c.required.Get(n), 0)})
	}
	return bs
}

// setRequired records the headroom the unmet guarantees need.
func (c *cycle) setRequired(q resources.Quantities) {
	c.required, c.requiredNames = q, q.Names()
}

// offer allocates toOffer (unallocated form) on ag to fr and records the
// offer, merging with an earlier one of this cycle for the same framework,
// role and agent.
func (c *cycle) offer(ag *agent, fr *fwRole, toOffer resources.Resources, q resources.Quantities) {
	a := c.a
	res := ag.allocatedTo(fr.role.name, toOffer)
	if q.Equal(ag.freeQ) && toOffer.Equal(ag.free) {
		ag.setFree(resources.Resources{})
	} else {
		ag.setFree(ag.free.Subtract(toOffer))
	}
	a.hold(fr.fw, ag, res)
	unr := q
	if !ag.plain() {
		unr = ag.quotaPart(toOffer).Quantities()
	}
	a.chargeQuantities(fr.fw, fr.role.name, q, unr, true)
	if ag.offersCycle != c.run {
		ag.offersCycle, ag.offers = c.run, ag.offers[:0]
	}
	for _, i := range ag.offers {
		if o := &c.offers[i]; o.FrameworkID == fr.fw.id && o.Role == fr.role.name {
			o.Resources = o.Resources.Add(res)
			return
		}
	}
	fr.role.offersMade++
	ag.offers = append(ag.offers, len(c.offers))
	c.offers = append(c.offers, Offer{FrameworkID: fr.fw.id, AgentID: ag.id, Role: fr.role.name, Resources: res})
}

// unallocated is res.Unallocated(), which for a declined offer is what the
// agent last allocated.
func (ag *agent) unallocated(res resources.Resources) resources.Resources {
	if c := &ag.lastAlloc; c.to.Equal(res) && !res.IsEmpty() {
		return c.from
	}
	return res.Unallocated()
}

// allocatedTo is res.AllocatedTo(role), reusing the agent's last result
// when it is asked the same again.
func (ag *agent) allocatedTo(role string, res resources.Resources) resources.Resources {
	if c := &ag.lastAlloc; c.role == role && c.from.Equal(res) {
		return c.to
	}
	out := res.AllocatedTo(role)
	ag.lastAlloc.role, ag.lastAlloc.from, ag.lastAlloc.to = role, res, out
	return out
}

// allocatableTo is what of the agent's free resources a role may have:
// unreserved ones and those reserved to it or an ancestor.
func (ag *agent) allocatableTo(role string) resources.Resources {
	if !ag.reserved {
		return ag.free
	}
	return ag.free.AllocatableTo(role)
}

// allocatable reports whether resources with quantities q are worth
// offering to fr: non-empty and holding one of the minimum sets.
func (a *Allocator) allocatable(q resources.Quantities, fr *fwRole) bool {
	return !q.IsEmpty() && meetsMin(q, a.minSetsOf(fr))
}

func (a *Allocator) minSetsOf(fr *fwRole) []minSet {
	if fr.hasMin {
		return fr.min
	}
	return a.minSets
}

// minSet is one set of min_allocatable_resources, with its names at hand.
type minSet struct {
	q     resources.Quantities
	names []string
}

func newMinSets(qs []resources.Quantities) []minSet {
	sets := make([]minSet, len(qs))
	for i, q := range qs {
		sets[i] = minSet{q, q.Names()}
	}
	return sets
}

func meetsMin(q resources.Quantities, sets []minSet) bool {
	if len(sets) == 0 {
		return true
	}
	for _, s := range sets {
		if q.Contains(s.q) {
			return true
		}
	}
	return false
}

// mayMeetMin reports whether resources with quantities q, once their
// quota part (quantities quotaQ) is cut to the bounds, could still hold one
// of fr's minimum sets (with no sets, the cut decides).
func (a *Allocator) mayMeetMin(q, quotaQ resources.Quantities, bs []bound, fr *fwRole) bool {
	sets := a.minSetsOf(fr)
	if len(sets) == 0 {
		return true
	}
	for _, s := range sets {
		if s.within(q, quotaQ, bs) {
			return true
		}
	}
	return false
}

func (s minSet) within(q, quotaQ resources.Quantities, bs []bound) bool {
	for _, n := range s.names {
		cut := quotaQ.Get(n)
		for _, b := range bs {
			if b.name == n {
				cut = min(cut, b.value)
			}
		}
		if q.Get(n)-quotaQ.Get(n)+cut < s.q.Get(n) {
			return false
		}
	}
	return true
}

// capable reports whether fw may be offered ag at all: agents with GPUs go
// only to GPU_RESOURCES frameworks when GPUs are filtered.
func (a *Allocator) capable(fw *framework, ag *agent) bool {
	return !(a.opts.FilterGPUResources && ag.gpus && !fw.caps.GPUResources)
}

// stripIncapable drops what the framework cannot use: revocable and shared
// resources and refined reservations, without the matching capability.
func stripIncapable(avail resources.Resources, caps Capabilities, ag *agent) resources.Resources {
	if ag.revocable && !caps.RevocableResources {
		avail = avail.NonRevocable()
	}
	if ag.shared && !caps.SharedResources {
		avail = withoutShared(avail)
	}
	if ag.refined && !caps.ReservationRefinement {
		avail = avail.WithoutRefinedReservations()
	}
	return avail
}
