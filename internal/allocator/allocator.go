package allocator

import (
	"maps"
	"slices"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// Offer is one allocation decision: resources of one agent for one framework
// in one role. Resources carry allocation_info.role = Role.
type Offer struct {
	FrameworkID string
	AgentID     string
	Role        string
	Resources   resources.Resources
}

// Agent describes an agent as the allocator sees it.
type Agent struct {
	Hostname string
	// Total is everything the agent has, reservations included.
	Total resources.Resources
	// Active is false for deactivated (or disconnected) agents: they keep
	// their allocations but get no offers.
	Active bool
}

// Capabilities are the FrameworkInfo capabilities that change what a
// framework may be offered.
type Capabilities struct {
	GPUResources          bool // may be offered agents with GPUs (see Options.FilterGPUResources)
	RevocableResources    bool // may be offered revocable resources
	SharedResources       bool // may be offered shared persistent volumes
	ReservationRefinement bool // may be offered refined (hierarchical) reservations
}

// Framework describes a framework as the allocator sees it.
type Framework struct {
	// Roles the framework is subscribed to; a MULTI_ROLE framework gets
	// separate offers for each.
	Roles []string
	// Suppressed lists roles for which the framework wants no offers.
	Suppressed []string
	// Active is false while the framework is disconnected.
	Active       bool
	Capabilities Capabilities
	// MinAllocatable overrides Options.MinAllocatable for a role
	// (FrameworkInfo.offer_filters[role].min_allocatable_resources). A role
	// that is present with no sets accepts any non-empty offer.
	MinAllocatable map[string][]resources.Quantities
}

// SorterKind selects how clients (roles, or the frameworks of a role) are
// ordered: Mesos' --role_sorter and --framework_sorter.
type SorterKind int

const (
	// SortDRF orders by dominant share ÷ weight (weighted DRF).
	SortDRF SorterKind = iota
	// SortRandom draws a weighted random order for every agent.
	SortRandom
)

// Options are the allocator's knobs (Mesos master flags).
type Options struct {
	// Seed seeds the agent shuffle and the random sorters.
	Seed            uint64
	RoleSorter      SorterKind
	FrameworkSorter SorterKind
	// FairnessExcludedResourceNames are left out of dominant shares
	// (--fair_sharing_excluded_resource_names).
	FairnessExcludedResourceNames []string
	// FilterGPUResources offers agents with GPUs only to frameworks with
	// the GPU_RESOURCES capability (--filter_gpu_resources).
	FilterGPUResources bool
	// MinAllocatable: an offer must contain at least one of these sets
	// (--min_allocatable_resources). Empty: any non-empty offer.
	MinAllocatable []resources.Quantities
	// ShuffleAgents visits agents in a seeded random order each cycle, as
	// Mesos does; off, agents are visited in ID order.
	ShuffleAgents bool
}

// DefaultOptions are Mesos' defaults: DRF sorters, GPU filtering, shuffled
// agents and min_allocatable_resources cpus:0.01|mem:32.
func DefaultOptions() Options {
	return Options{
		FilterGPUResources: true,
		ShuffleAgents:      true,
		MinAllocatable: []resources.Quantities{
			resources.QuantitiesFromMap(map[string]resources.Scalar{"cpus": resources.ScalarFromFloat(0.01)}),
			resources.QuantitiesFromMap(map[string]resources.Scalar{"mem": resources.ScalarFromFloat(32)}),
		},
	}
}

// Allocator is the hierarchical weighted DRF allocator. It is not safe for
// concurrent use: the master's state goroutine owns it.
type Allocator struct {
	opts     Options
	minSets  []minSet // opts.MinAllocatable
	rng      *rng
	excluded map[string]bool

	basis       *shareBasis
	total       resources.Quantities // all agents, all resources
	totalUNR    resources.Quantities // all agents, unreserved non-revocable
	scalarNames map[string]int       // agents holding a scalar resource of that name

	agents    map[string]*agent
	agentList []*agent // in the order added

	frameworks map[string]*framework
	roles      map[string]*role
	root       *role // the role tree's root (name ""); its subtree is the cluster
	roleSorter *sorter[*role]
	guaranteed []*role // roles with quota guarantees, by name

	filters      filterHeap
	minOverrides int    // framework roles with their own min_allocatable
	walkGen      uint64 // sorter walk generations
	runs         uint64
	visit        []*agent // scratch: the agents a cycle visits
}

// agent is the allocator's view of one agent.
type agent struct {
	id, hostname string
	total        resources.Resources
	free         resources.Resources            // total minus allocations, unallocated form; set with setFree
	freeQ        resources.Quantities           // free's quantities
	allocated    map[string]resources.Resources // by framework ID; allocation_info set
	active       bool
	// The offers of the current cycle on this agent (indexes into
	// cycle.offers, valid while offersCycle is the current run), so a
	// stage-2 offer merges into a stage-1 one.
	offersCycle uint64
	offers      []int
	// lastAlloc caches the last AllocatedTo: an idle agent is offered the
	// same free resources to the same role cycle after cycle.
	lastAlloc struct {
		role     string
		from, to resources.Resources
	}
	// What the total holds, to skip work for the common plain agent.
	reserved, revocable, refined, shared, gpus bool
}

// framework is the allocator's record of a framework. It exists while the
// framework is added or still holds resources (a removed framework's
// resources are freed at once; a framework the master has not re-added yet
// after failover may hold resources its agents reported).
type framework struct {
	id         string
	registered bool
	active     bool
	caps       Capabilities
	roles      map[string]*fwRole
	heldOn     int // agents where it holds resources
}

// fwRole is a framework in one role: a client of that role's framework
// sorter.
type fwRole struct {
	fw         *framework
	role       *role
	leaf       *snode[*fwRole]
	alloc      resources.Quantities // offered or allocated in this role
	subscribed bool
	suppressed bool
	hasMin     bool
	min        []minSet
	filters    map[*agent][]*offerFilter
}

// New returns an empty allocator with DefaultOptions.
func New() *Allocator { return NewWithOptions(DefaultOptions()) }

// NewWithOptions returns an empty allocator with the given options, used as
// they are (see DefaultOptions for Mesos' defaults).
func NewWithOptions(opts Options) *Allocator {
	opts.MinAllocatable = slices.Clone(opts.MinAllocatable)
	a := &Allocator{
		opts:        opts,
		minSets:     newMinSets(opts.MinAllocatable),
		rng:         newRNG(opts.Seed),
		excluded:    map[string]bool{},
		basis:       &shareBasis{},
		scalarNames: map[string]int{},
		agents:      map[string]*agent{},
		frameworks:  map[string]*framework{},
		roles:       map[string]*role{},
		root:        &role{children: map[string]*role{}},
	}
	for _, n := range opts.FairnessExcludedResourceNames {
		a.excluded[n] = true
	}
	a.roleSorter = newSorter[*role](a.basis, true, a.sorterRNG(opts.RoleSorter), a.Weight)
	return a
}

func (a *Allocator) sorterRNG(k SorterKind) *rng {
	if k == SortRandom {
		return a.rng
	}
	return nil
}

// AddAgent adds an agent with the resources its running tasks and executors
// already use, by framework ID (their roles come from allocation_info). An
// agent already known is replaced.
func (a *Allocator) AddAgent(id string, spec Agent, used map[string]resources.Resources) {
	if _, ok := a.agents[id]; ok {
		a.RemoveAgent(id)
	}
	ag := &agent{
		id: id, hostname: spec.Hostname, total: spec.Total,
		allocated: map[string]resources.Resources{}, active: spec.Active,
	}
	ag.setFree(spec.Total)
	ag.describe()
	a.agents[id] = ag
	a.agentList = append(a.agentList, ag)
	a.addTotal(ag.total, true)
	for _, fid := range slices.Sorted(maps.Keys(used)) {
		a.allocate(a.frameworkRecord(fid), ag, used[fid])
	}
}

// setFree changes the agent's free resources.
func (ag *agent) setFree(free resources.Resources) {
	ag.free, ag.freeQ = free, free.Quantities()
}

// plain reports whether the agent holds only unreserved, non-revocable,
// unshared resources: then every role may have all of its free resources
// and quota counts all of them.
func (ag *agent) plain() bool { return !ag.reserved && !ag.revocable && !ag.shared }

// describe notes what kinds of resources the agent's total holds.
func (ag *agent) describe() {
	t := ag.total
	ag.reserved = len(t.ReservationRoles()) > 0
	ag.revocable = !t.Revocable().IsEmpty()
	ag.refined = ag.reserved && !t.WithoutRefinedReservations().Equal(t)
	ag.shared = !withoutShared(t).Equal(t)
	ag.gpus = t.Scalar("gpus") > 0
}

func withoutShared(r resources.Resources) resources.Resources {
	return r.Filter(func(p *mesos.Resource) bool { return p.Shared == nil })
}

// RemoveAgent forgets an agent, everything allocated on it and every filter
// for it. Later Recover calls for it are ignored.
func (a *Allocator) RemoveAgent(id string) {
	ag, ok := a.agents[id]
	if !ok {
		return
	}
	for _, fid := range slices.Sorted(maps.Keys(ag.allocated)) {
		fw := a.frameworks[fid]
		res := ag.allocated[fid]
		a.release(fw, ag, resources.Resources{})
		a.charge(fw, res, false)
		a.dropIfIdle(fw)
	}
	a.clearAgentFilters(ag)
	a.addTotal(ag.total, false)
	delete(a.agents, id)
	i := slices.Index(a.agentList, ag)
	a.agentList = slices.Delete(a.agentList, i, i+1)
}

// SetAgentActive activates or deactivates an agent for offers.
func (a *Allocator) SetAgentActive(id string, active bool) {
	if ag, ok := a.agents[id]; ok {
		ag.active = active
	}
}

// addTotal adds (or removes) an agent's total to the cluster totals: share
// basis, quota headroom and reservations.
func (a *Allocator) addTotal(total resources.Resources, add bool) {
	q := total.Quantities()
	unr := total.Unreserved().NonRevocable().Quantities()
	if add {
		a.total, a.totalUNR = a.total.Add(q), a.totalUNR.Add(unr)
	} else {
		a.total, a.totalUNR = a.total.Subtract(q), a.totalUNR.Subtract(unr)
	}
	for _, owner := range total.ReservationRoles() {
		r := a.roleFor(owner)
		rq := total.ReservedTo(owner).Quantities()
		for x := r; x != nil; x = x.parent {
			if add {
				x.reserved = x.reserved.Add(rq)
			} else {
				x.reserved = x.reserved.Subtract(rq)
			}
		}
		a.tryRemoveRole(r)
	}
	for _, name := range total.Names() {
		if total.Scalar(name) <= 0 {
			continue
		}
		if add {
			a.scalarNames[name]++
		} else if a.scalarNames[name]--; a.scalarNames[name] <= 0 {
			delete(a.scalarNames, name)
		}
	}
	a.rebuildBasis()
}

// rebuildBasis recomputes the share basis from the totals; every sorter
// re-sorts before its next walk.
func (a *Allocator) rebuildBasis() {
	a.basis.names = a.basis.names[:0]
	for _, name := range slices.Sorted(maps.Keys(a.scalarNames)) {
		if t := a.total.Get(name); t > 0 && !a.excluded[name] {
			a.basis.names = append(a.basis.names, shareName{name, float64(t)})
		}
	}
	a.basis.epoch++
}

// AddFramework adds a framework (or updates one already added).
func (a *Allocator) AddFramework(id string, spec Framework) {
	fw := a.frameworkRecord(id)
	fw.registered = true
	a.applyFramework(fw, spec)
}

// UpdateFramework changes a framework's roles, suppression, capabilities,
// offer filters or activity. Roles it leaves lose their filters; it keeps
// resources it holds in them until they are recovered.
func (a *Allocator) UpdateFramework(id string, spec Framework) { a.AddFramework(id, spec) }

// RemoveFramework forgets a framework: everything it holds is freed (later
// Recover calls for it are ignored) and its filters are dropped.
func (a *Allocator) RemoveFramework(id string) {
	fw, ok := a.frameworks[id]
	if !ok {
		return
	}
	fw.registered = false
	for _, ag := range a.agentList {
		if fw.heldOn == 0 {
			break
		}
		res, ok := ag.allocated[id]
		if !ok {
			continue
		}
		a.release(fw, ag, resources.Resources{})
		ag.setFree(ag.free.Add(res.Unallocated()))
		a.charge(fw, res, false)
	}
	for _, name := range slices.Sorted(maps.Keys(fw.roles)) {
		fr := fw.roles[name]
		fr.subscribed = false
		a.syncActive(fr)
	}
	a.dropIfIdle(fw)
}

// frameworkRecord returns the record of a framework, creating an
// unregistered one if needed.
func (a *Allocator) frameworkRecord(id string) *framework {
	fw, ok := a.frameworks[id]
	if !ok {
		fw = &framework{id: id, roles: map[string]*fwRole{}}
		a.frameworks[id] = fw
	}
	return fw
}

// applyFramework makes the framework's roles match spec.
func (a *Allocator) applyFramework(fw *framework, spec Framework) {
	fw.active, fw.caps = spec.Active, spec.Capabilities
	for _, name := range spec.Roles {
		fr := a.fwRoleFor(fw, name)
		fr.subscribed = true
		fr.suppressed = slices.Contains(spec.Suppressed, name)
		a.setMinAllocatable(fr, spec.MinAllocatable)
	}
	for _, name := range slices.Sorted(maps.Keys(fw.roles)) {
		fr := fw.roles[name]
		if !slices.Contains(spec.Roles, name) && fr.subscribed {
			fr.subscribed, fr.suppressed = false, false
			a.setMinAllocatable(fr, nil)
			a.clearFilters(fr)
		}
		a.syncActive(fr)
		a.dropIfUnused(fr)
	}
}

func (a *Allocator) setMinAllocatable(fr *fwRole, byRole map[string][]resources.Quantities) {
	sets, has := byRole[fr.role.name]
	if has != fr.hasMin {
		if has {
			a.minOverrides++
		} else {
			a.minOverrides--
		}
	}
	fr.hasMin, fr.min = has, newMinSets(sets)
}

// fwRoleFor returns the framework's record in a role, creating it (and the
// role) if needed.
func (a *Allocator) fwRoleFor(fw *framework, name string) *fwRole {
	if fr, ok := fw.roles[name]; ok {
		return fr
	}
	r := a.roleFor(name)
	if r.fwSorter == nil {
		r.fwSorter = newSorter[*fwRole](a.basis, false, a.sorterRNG(a.opts.FrameworkSorter), nil)
		r.leaf = a.roleSorter.add(name, r)
	}
	fr := &fwRole{fw: fw, role: r}
	fr.leaf = r.fwSorter.add(fw.id, fr)
	r.frameworks[fw.id] = fr
	fw.roles[name] = fr
	return fr
}

// syncActive updates whether the framework wants offers in the role, and so
// whether the role has anyone to offer to.
func (a *Allocator) syncActive(fr *fwRole) {
	want := fr.fw.registered && fr.fw.active && fr.subscribed && !fr.suppressed
	r := fr.role
	r.fwSorter.setActive(fr.leaf, want)
	a.roleSorter.setActive(r.leaf, r.fwSorter.root.activeLeaves > 0)
}

// dropIfUnused forgets a framework's role record once the framework left the
// role and holds nothing in it.
func (a *Allocator) dropIfUnused(fr *fwRole) {
	if fr.subscribed || !fr.alloc.IsEmpty() || fr.fw.roles[fr.role.name] != fr {
		return
	}
	a.clearFilters(fr)
	a.setMinAllocatable(fr, nil)
	r := fr.role
	r.fwSorter.remove(fr.leaf)
	delete(r.frameworks, fr.fw.id)
	delete(fr.fw.roles, r.name)
	if len(r.frameworks) == 0 {
		a.roleSorter.remove(r.leaf)
		r.leaf, r.fwSorter = nil, nil
		a.tryRemoveRole(r)
	} else {
		a.roleSorter.setActive(r.leaf, r.fwSorter.root.activeLeaves > 0)
	}
}

// dropIfIdle forgets an unregistered framework that holds nothing.
func (a *Allocator) dropIfIdle(fw *framework) {
	if fw.registered || fw.heldOn > 0 {
		return
	}
	for _, name := range slices.Sorted(maps.Keys(fw.roles)) {
		a.dropIfUnused(fw.roles[name])
	}
	if len(fw.roles) == 0 {
		delete(a.frameworks, fw.id)
	}
}

// Suppress stops offers to the framework for the roles (all its roles when
// empty) until Revive.
func (a *Allocator) Suppress(frameworkID string, roles []string) {
	a.setSuppressed(frameworkID, roles, true)
}

// Revive clears the framework's filters and suppression for the roles (all
// its roles when empty).
func (a *Allocator) Revive(frameworkID string, roles []string) {
	a.setSuppressed(frameworkID, roles, false)
}

func (a *Allocator) setSuppressed(frameworkID string, roles []string, suppressed bool) {
	fw, ok := a.frameworks[frameworkID]
	if !ok || !fw.registered {
		return
	}
	if len(roles) == 0 {
		roles = slices.Sorted(maps.Keys(fw.roles))
	}
	for _, name := range roles {
		fr, ok := fw.roles[name]
		if !ok || !fr.subscribed {
			continue
		}
		if !suppressed {
			a.clearFilters(fr)
		}
		fr.suppressed = suppressed
		a.syncActive(fr)
	}
}
