package allocator

import (
	"maps"
	"slices"
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// refCycle is one Allocate call of the reference allocator.
type refCycle struct {
	r        *refAllocator
	offers   []Offer
	required resources.Quantities
}

// Allocate follows the policy step by step, recomputing everything.
func (r *refAllocator) Allocate(now time.Time) []Offer {
	r.filters = slices.DeleteFunc(r.filters, func(f *refFilter) bool { return !now.Before(f.expires) })
	var agents []*refAgent
	for _, ag := range r.agents {
		if ag.active {
			agents = append(agents, ag)
		}
	}
	c := &refCycle{r: r}
	if len(r.eligibleGuaranteed()) > 0 {
		c.required = r.required()
		for _, ag := range agents {
			c.stage1(ag)
		}
	}
	c.required = r.required()
	for _, ag := range agents {
		c.stage2(ag)
	}
	return c.offers
}

// eligibleGuaranteed lists, in DRF order, the roles with unmet guarantees
// and frameworks that want offers.
func (r *refAllocator) eligibleGuaranteed() []string {
	var out []string
	for _, role := range r.roleOrder() {
		if !r.quotas[role].Guarantees.IsEmpty() && !r.unmet(role).IsEmpty() {
			out = append(out, role)
		}
	}
	return out
}

func (c *refCycle) stage1(ag *refAgent) {
	r := c.r
	for _, role := range r.eligibleGuaranteed() {
		if ag.free().IsEmpty() {
			return
		}
		for _, fid := range r.frameworkOrder(role) {
			unmet := r.unmet(role)
			if unmet.IsEmpty() {
				break
			}
			avail := ag.free().AllocatableTo(role)
			if avail.IsEmpty() {
				break
			}
			c.tryGuarantee(ag, fid, role, avail, unmet)
		}
	}
}

func (c *refCycle) stage2(ag *refAgent) {
	r := c.r
	for _, role := range r.roleOrder() {
		if ag.free().IsEmpty() {
			return
		}
		for _, fid := range r.frameworkOrder(role) {
			avail := ag.free().AllocatableTo(role)
			if avail.IsEmpty() {
				break
			}
			c.tryOffer(ag, fid, role, avail)
		}
	}
}

// surplus is how much of a name the unmet guarantees leave to others
// (false: no bound on it).
func (c *refCycle) surplus(name string) (resources.Scalar, bool) {
	need := c.required.Get(name)
	if need == 0 {
		return 0, false
	}
	return max(c.r.availableHeadroom().Get(name)-need, 0), true
}

func (c *refCycle) tryGuarantee(ag *refAgent, fid, role string, avail resources.Resources, unmet resources.Quantities) {
	r := c.r
	if !r.allocatable(avail, fid, role) || !r.capable(fid, ag) {
		return
	}
	avail = r.strip(fid, avail)
	quotaRes := avail.Unreserved().NonRevocable()
	room, limited := r.room(role)
	toOffer := avail.Subtract(quotaRes)
	progress := false
	for _, n := range quotaRes.Names() {
		have := quotaRes.Scalar(n)
		if have == 0 { // ranges: no quota on them
			toOffer = toOffer.Add(quotaRes.Get(n))
			continue
		}
		var g resources.Scalar
		if unmet.Get(n) > 0 {
			g = min(have, unmet.Get(n))
			if l, ok := room[n]; limited && ok {
				g = min(g, l)
			}
		}
		progress = progress || g > 0
		extra := have - g
		if l, ok := room[n]; limited && ok {
			extra = min(extra, l-g)
		}
		if s, ok := c.surplus(n); ok {
			extra = min(extra, s)
		}
		toOffer = toOffer.Add(scalarOf(n, g+extra))
	}
	if !progress || !r.allocatable(toOffer, fid, role) || r.filtered(fid, role, ag.id, toOffer) {
		return
	}
	c.offer(ag, fid, role, toOffer)
	c.required = r.required()
}

func (c *refCycle) tryOffer(ag *refAgent, fid, role string, avail resources.Resources) {
	r := c.r
	if !r.allocatable(avail, fid, role) || !r.capable(fid, ag) {
		return
	}
	avail = r.strip(fid, avail)
	room, limited := r.room(role)
	toOffer := avail
	if limited || !c.required.IsEmpty() {
		quotaRes := avail.Unreserved().NonRevocable()
		toOffer = avail.Subtract(quotaRes)
		for _, n := range quotaRes.Names() {
			v := quotaRes.Scalar(n)
			if v == 0 {
				toOffer = toOffer.Add(quotaRes.Get(n))
				continue
			}
			if l, ok := room[n]; limited && ok {
				v = min(v, l)
			}
			if s, ok := c.surplus(n); ok {
				v = min(v, s)
			}
			toOffer = toOffer.Add(scalarOf(n, v))
		}
	}
	if !r.allocatable(toOffer, fid, role) || r.filtered(fid, role, ag.id, toOffer) {
		return
	}
	c.offer(ag, fid, role, toOffer)
}

// scalarOf is an unreserved scalar resource (empty for 0).
func scalarOf(name string, v resources.Scalar) resources.Resources {
	if v <= 0 {
		return resources.Resources{}
	}
	res, err := resources.Parse(name+":"+v.String(), "*")
	if err != nil {
		panic(err)
	}
	return res
}

func (c *refCycle) offer(ag *refAgent, fid, role string, toOffer resources.Resources) {
	res := toOffer.AllocatedTo(role)
	c.r.hold(ag, fid, res)
	for i, o := range c.offers {
		if o.FrameworkID == fid && o.Role == role && o.AgentID == ag.id {
			c.offers[i].Resources = o.Resources.Add(res)
			return
		}
	}
	c.offers = append(c.offers, Offer{FrameworkID: fid, AgentID: ag.id, Role: role, Resources: res})
}

func (r *refAllocator) allocatable(res resources.Resources, fid, role string) bool {
	if res.IsEmpty() {
		return false
	}
	sets := r.opts.MinAllocatable
	if own, ok := r.fws[fid].spec.MinAllocatable[role]; ok {
		sets = own
	}
	if len(sets) == 0 {
		return true
	}
	q := res.Quantities()
	return slices.ContainsFunc(sets, q.Contains)
}

func (r *refAllocator) capable(fid string, ag *refAgent) bool {
	gpus := ag.total.Scalar("gpus") > 0
	return !r.opts.FilterGPUResources || !gpus || r.fws[fid].spec.Capabilities.GPUResources
}

func (r *refAllocator) strip(fid string, avail resources.Resources) resources.Resources {
	if !r.fws[fid].spec.Capabilities.RevocableResources {
		avail = avail.NonRevocable()
	}
	return avail
}

func (r *refAllocator) filtered(fid, role, agentID string, res resources.Resources) bool {
	return slices.ContainsFunc(r.filters, func(f *refFilter) bool {
		return f.fw == fid && f.role == role && f.agent == agentID && f.refused.Contains(res)
	})
}

// SetQuota and RemoveQuota mirror the Allocator's.
func (r *refAllocator) SetQuota(role string, g resources.Quantities, l Limits) {
	r.quotas[role] = Quota{Guarantees: g, Limits: maps.Clone(l)}
}

func (r *refAllocator) RemoveQuota(role string) { delete(r.quotas, role) }
