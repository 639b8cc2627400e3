// Package allocator decides which framework is offered which agent's
// resources: weighted dominant resource fairness (DRF) over roles, then over
// the frameworks inside a role, with refusal filters and suppression.
//
// It is pure: no I/O, no goroutines and no clock. The master owns one
// Allocator, tells it about agents, frameworks and resource movements as they
// happen (it keeps incremental indexes), and calls Allocate(now) to get the
// offers of one cycle. The same calls in the same order give the same offers.
//
// Accounting model: every resource the allocator hands out in an offer counts
// as allocated to that framework and role until the master calls Recover
// (declined, unused, or freed by a finished task). Resources used by tasks
// that the allocator did not offer (an agent re-registering with running
// tasks) are added with AddAgent's used argument.
package allocator

import (
	"slices"
	"sort"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// Offer is one allocation decision: resources of one agent for one
// framework in one role.
type Offer struct {
	FrameworkID string
	AgentID     string
	Role        string
	Resources   resources.Resources
}

// Framework describes a framework as the allocator sees it.
type Framework struct {
	Roles []string
	// Suppressed lists roles for which the framework wants no offers.
	Suppressed []string
	// Active is false while the framework is disconnected.
	Active bool
}

// Agent describes an agent as the allocator sees it.
type Agent struct {
	Hostname string
	Total    resources.Resources
	// Active is false for deactivated or disconnected agents.
	Active bool
}

// Filter refuses resources on one agent to one framework (and role) until
// it expires.
type filter struct {
	refused resources.Resources
	expires time.Time
}

type filterKey struct {
	framework, role, agent string
}

type agentState struct {
	Agent
	allocated resources.Resources // offered or used, all frameworks
}

type frameworkState struct {
	Framework
	suppressed map[string]bool
	// allocated holds what the framework has on each agent, per role.
	allocated map[string]resources.Quantities // role → quantities
}

// Allocator is the DRF allocator. Its zero value is not usable; call New.
type Allocator struct {
	agents     map[string]*agentState
	frameworks map[string]*frameworkState
	filters    map[filterKey]filter
	weights    map[string]float64
	total      resources.Quantities
	// minAllocatable: an offer must hold at least one of these quantities.
	minAllocatable []resources.Quantities
}

// New returns an empty allocator.
func New() *Allocator {
	return &Allocator{
		agents:     map[string]*agentState{},
		frameworks: map[string]*frameworkState{},
		filters:    map[filterKey]filter{},
		weights:    map[string]float64{},
		minAllocatable: []resources.Quantities{
			resources.QuantitiesFromMap(map[string]resources.Scalar{"cpus": resources.ScalarFromFloat(0.01)}),
			resources.QuantitiesFromMap(map[string]resources.Scalar{"mem": resources.ScalarFromFloat(32)}),
		},
	}
}

// AddAgent adds an agent with the resources its running tasks already use
// (by framework ID; their allocation roles come from the resources).
func (a *Allocator) AddAgent(id string, agent Agent, used map[string]resources.Resources) {
	s := &agentState{Agent: agent}
	a.agents[id] = s
	a.total = a.total.Add(agent.Total.Quantities())
	for fw, res := range used {
		s.allocated = s.allocated.Add(res)
		a.chargeFramework(fw, res, true)
	}
}

// RemoveAgent forgets an agent and everything allocated on it.
func (a *Allocator) RemoveAgent(id string) {
	s, ok := a.agents[id]
	if !ok {
		return
	}
	a.total = a.total.Subtract(s.Total.Quantities())
	delete(a.agents, id)
	for k := range a.filters {
		if k.agent == id {
			delete(a.filters, k)
		}
	}
}

// SetAgentActive activates or deactivates an agent for offers.
func (a *Allocator) SetAgentActive(id string, active bool) {
	if s, ok := a.agents[id]; ok {
		s.Active = active
	}
}

// AddFramework adds (or replaces) a framework.
func (a *Allocator) AddFramework(id string, fw Framework) {
	s, ok := a.frameworks[id]
	if !ok {
		s = &frameworkState{allocated: map[string]resources.Quantities{}}
		a.frameworks[id] = s
	}
	s.Framework = fw
	s.suppressed = map[string]bool{}
	for _, r := range fw.Suppressed {
		s.suppressed[r] = true
	}
}

// UpdateFramework changes a framework's roles, suppression or activity.
func (a *Allocator) UpdateFramework(id string, fw Framework) { a.AddFramework(id, fw) }

// RemoveFramework forgets a framework and its filters. The master recovers
// its resources separately as their tasks end.
func (a *Allocator) RemoveFramework(id string) {
	delete(a.frameworks, id)
	for k := range a.filters {
		if k.framework == id {
			delete(a.filters, k)
		}
	}
}

// Suppress stops offers to the framework for the roles (all when empty).
func (a *Allocator) Suppress(frameworkID string, roles []string) {
	s, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	if len(roles) == 0 {
		roles = s.Roles
	}
	for _, r := range roles {
		s.suppressed[r] = true
	}
}

// Revive clears the framework's filters and suppression for the roles (all
// when empty).
func (a *Allocator) Revive(frameworkID string, roles []string) {
	s, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	all := len(roles) == 0
	if all {
		roles = s.Roles
	}
	for _, r := range roles {
		delete(s.suppressed, r)
	}
	for k := range a.filters {
		if k.framework == frameworkID && (all || slices.Contains(roles, k.role)) {
			delete(a.filters, k)
		}
	}
}

// Recover returns resources to the agent's free pool: declined or unused
// offer resources, or resources freed by a finished task. With refuse > 0
// the framework will not be offered a subset of them on that agent, in that
// role, until now+refuse.
func (a *Allocator) Recover(frameworkID, agentID string, res resources.Resources, refuse time.Duration, now time.Time) {
	if res.IsEmpty() {
		return
	}
	if s, ok := a.agents[agentID]; ok {
		s.allocated = s.allocated.Subtract(res)
	}
	a.chargeFramework(frameworkID, res, false)
	if refuse <= 0 {
		return
	}
	for _, role := range res.AllocationRoles() {
		k := filterKey{frameworkID, role, agentID}
		f := a.filters[k]
		if f.expires.Before(now) {
			f.refused = resources.Resources{}
		}
		f.refused = f.refused.Add(res.Unallocated())
		f.expires = now.Add(refuse)
		a.filters[k] = f
	}
}

// SetWeight sets a role's weight (default 1).
func (a *Allocator) SetWeight(role string, weight float64) {
	if weight <= 0 {
		delete(a.weights, role)
		return
	}
	a.weights[role] = weight
}

// chargeFramework adds (or removes) resources to a framework's per-role
// allocation.
func (a *Allocator) chargeFramework(frameworkID string, res resources.Resources, add bool) {
	s, ok := a.frameworks[frameworkID]
	if !ok {
		return
	}
	for _, role := range res.AllocationRoles() {
		q := res.Filter(allocatedTo(role)).Quantities()
		if add {
			s.allocated[role] = s.allocated[role].Add(q)
		} else {
			s.allocated[role] = s.allocated[role].Subtract(q)
		}
	}
}

// Allocate runs one allocation cycle and returns its offers. Each agent's
// free resources go, role by role in DRF order, to the framework with the
// lowest dominant share in that role that is not suppressed and has no
// filter covering them.
func (a *Allocator) Allocate(now time.Time) []Offer {
	var offers []Offer
	for _, agentID := range a.sortedAgentIDs() {
		ag := a.agents[agentID]
		if !ag.Active {
			continue
		}
		free := ag.Total.Subtract(ag.allocated.Unallocated())
		for _, cand := range a.candidates() {
			offerable := free.AllocatableTo(cand.role)
			if offerable.IsEmpty() || !a.allocatable(offerable) || a.filtered(cand, agentID, offerable, now) {
				continue
			}
			res := offerable.AllocatedTo(cand.role)
			offers = append(offers, Offer{FrameworkID: cand.framework, AgentID: agentID, Role: cand.role, Resources: res})
			ag.allocated = ag.allocated.Add(res)
			a.chargeFramework(cand.framework, res, true)
			free = free.Subtract(offerable)
		}
	}
	return offers
}

type candidate struct {
	framework, role string
}

// candidates orders (framework, role) pairs: roles by weighted dominant
// share, then frameworks in each role by dominant share in that role.
func (a *Allocator) candidates() []candidate {
	roleShare := map[string]float64{}
	var cands []candidate
	for id, fw := range a.frameworks {
		if !fw.Active {
			continue
		}
		for _, role := range fw.Roles {
			if fw.suppressed[role] {
				continue
			}
			cands = append(cands, candidate{id, role})
			roleShare[role] += a.share(fw.allocated[role])
		}
	}
	weight := func(role string) float64 {
		if w, ok := a.weights[role]; ok {
			return w
		}
		return 1
	}
	sort.Slice(cands, func(i, j int) bool {
		ci, cj := cands[i], cands[j]
		if ci.role != cj.role {
			si, sj := roleShare[ci.role]/weight(ci.role), roleShare[cj.role]/weight(cj.role)
			if si != sj {
				return si < sj
			}
			return ci.role < cj.role
		}
		si := a.share(a.frameworks[ci.framework].allocated[ci.role])
		sj := a.share(a.frameworks[cj.framework].allocated[cj.role])
		if si != sj {
			return si < sj
		}
		return ci.framework < cj.framework
	})
	return cands
}

// share is the dominant share of q in the cluster total.
func (a *Allocator) share(q resources.Quantities) float64 {
	var max float64
	for _, name := range q.Names() {
		total := a.total.Get(name)
		if total <= 0 {
			continue
		}
		if s := float64(q.Get(name)) / float64(total); s > max {
			max = s
		}
	}
	return max
}

func (a *Allocator) allocatable(res resources.Resources) bool {
	q := res.Quantities()
	for _, min := range a.minAllocatable {
		if q.Contains(min) {
			return true
		}
	}
	return false
}

func (a *Allocator) filtered(c candidate, agentID string, res resources.Resources, now time.Time) bool {
	f, ok := a.filters[filterKey{c.framework, c.role, agentID}]
	if !ok {
		return false
	}
	if !now.Before(f.expires) {
		delete(a.filters, filterKey{c.framework, c.role, agentID})
		return false
	}
	return f.refused.Contains(res)
}

func (a *Allocator) sortedAgentIDs() []string {
	ids := make([]string, 0, len(a.agents))
	for id := range a.agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func allocatedTo(role string) func(r *mesos.Resource) bool {
	return func(r *mesos.Resource) bool { return r.GetAllocationInfo().GetRole() == role }
}

// Allocated records resources as used by a framework on an agent without an
// offer (a task that became reachable again).
func (a *Allocator) Allocated(frameworkID, agentID string, res resources.Resources) {
	if s, ok := a.agents[agentID]; ok {
		s.allocated = s.allocated.Add(res)
	}
	a.chargeFramework(frameworkID, res, true)
}
