package allocator

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// refAllocator is a deliberately naive allocator with the same policy as
// Allocator: it keeps only the raw facts (who holds what where, weights,
// quota, filters, allocation counts) and recomputes every share, order,
// consumption and headroom from scratch whenever it needs one. It is slow
// and obviously follows the rules; the property tests check that Allocator,
// with its incremental sorters and caches, gives the same offers.
//
// Simplifications the generator respects: quota only on top-level roles,
// every Recover/Allocated within one role, plain scalar resources (one
// entry per name and reservation), no shared resources or refinements,
// agents visited in the order added (Options.ShuffleAgents off, DRF).
type refAllocator struct {
	opts    Options
	agents  []*refAgent // in the order added
	fws     map[string]*refFramework
	weights map[string]float64
	quotas  map[string]Quota
	filters []*refFilter
	// Allocation counts, the DRF tie-breaker, per sorter node; a node's
	// count is forgotten when the node would disappear.
	fwCount   map[[2]string]uint64 // (role, framework)
	leafCount map[string]uint64    // a role's own clients
	nodeCount map[string]uint64    // a role path's subtree
}

type refAgent struct {
	id     string
	total  resources.Resources
	active bool
	held   map[[2]string]resources.Resources // (framework, role) → allocated form
}

type refFramework struct {
	spec       Framework
	suppressed map[string]bool
}

type refFilter struct {
	fw, role, agent string
	refused         resources.Resources
	expires         time.Time
}

func newRefAllocator(opts Options) *refAllocator {
	return &refAllocator{opts: opts, fws: map[string]*refFramework{}, weights: map[string]float64{},
		quotas: map[string]Quota{}, fwCount: map[[2]string]uint64{}, leafCount: map[string]uint64{},
		nodeCount: map[string]uint64{}}
}

func (r *refAllocator) agent(id string) *refAgent {
	for _, ag := range r.agents {
		if ag.id == id {
			return ag
		}
	}
	return nil
}

func (ag *refAgent) free() resources.Resources {
	f := ag.total
	for _, k := range slices.SortedFunc(maps.Keys(ag.held), compareKeys) {
		f = f.Subtract(ag.held[k].Unallocated())
	}
	return f
}

func compareKeys(x, y [2]string) int {
	return cmp.Or(strings.Compare(x[0], y[0]), strings.Compare(x[1], y[1]))
}

func onlyRole(res resources.Resources) string {
	roles := res.AllocationRoles()
	if len(roles) != 1 {
		panic(fmt.Sprintf("reference: resources in %d roles", len(roles)))
	}
	return roles[0]
}

// subrole reports whether role is path or below it.
func subrole(role, path string) bool { return role == path || strings.HasPrefix(role, path+"/") }

// --- the API, mirrored ---

func (r *refAllocator) AddAgent(id string, spec Agent, used map[string]resources.Resources) {
	if r.agent(id) != nil {
		r.RemoveAgent(id)
	}
	ag := &refAgent{id: id, total: spec.Total, active: spec.Active, held: map[[2]string]resources.Resources{}}
	r.agents = append(r.agents, ag)
	for _, fid := range slices.Sorted(maps.Keys(used)) {
		r.hold(ag, fid, used[fid])
	}
	r.gc()
}

func (r *refAllocator) RemoveAgent(id string) {
	r.agents = slices.DeleteFunc(r.agents, func(ag *refAgent) bool { return ag.id == id })
	r.filters = slices.DeleteFunc(r.filters, func(f *refFilter) bool { return f.agent == id })
	r.gc()
}

func (r *refAllocator) SetAgentActive(id string, active bool) {
	if ag := r.agent(id); ag != nil {
		ag.active = active
	}
}

func (r *refAllocator) AddFramework(id string, spec Framework) {
	fw := &refFramework{spec: spec, suppressed: map[string]bool{}}
	for _, role := range spec.Suppressed {
		fw.suppressed[role] = true
	}
	r.fws[id] = fw
	r.filters = slices.DeleteFunc(r.filters, func(f *refFilter) bool {
		return f.fw == id && !slices.Contains(spec.Roles, f.role)
	})
	r.gc()
}

func (r *refAllocator) RemoveFramework(id string) {
	for _, ag := range r.agents {
		maps.DeleteFunc(ag.held, func(k [2]string, _ resources.Resources) bool { return k[0] == id })
	}
	delete(r.fws, id)
	r.filters = slices.DeleteFunc(r.filters, func(f *refFilter) bool { return f.fw == id })
	r.gc()
}

func (r *refAllocator) setSuppressed(id string, roles []string, on bool) {
	fw := r.fws[id]
	if fw == nil {
		return
	}
	if len(roles) == 0 {
		roles = fw.spec.Roles
	}
	for _, role := range roles {
		if !slices.Contains(fw.spec.Roles, role) {
			continue
		}
		fw.suppressed[role] = on
		if !on {
			r.filters = slices.DeleteFunc(r.filters, func(f *refFilter) bool { return f.fw == id && f.role == role })
		}
	}
}

func (r *refAllocator) Recover(fid, agentID string, res resources.Resources, refuse time.Duration, now time.Time) {
	ag := r.agent(agentID)
	if ag == nil || res.IsEmpty() {
		return
	}
	k := [2]string{fid, onlyRole(res)}
	held := ag.held[k]
	res = held.Subtract(held.Subtract(res))
	if res.IsEmpty() {
		return
	}
	if rest := held.Subtract(res); rest.IsEmpty() {
		delete(ag.held, k)
	} else {
		ag.held[k] = rest
	}
	if refuse > 0 && r.subscribed(fid, k[1]) {
		r.filters = append(r.filters, &refFilter{fid, k[1], agentID, res.Unallocated(), now.Add(refuse)})
	}
	r.gc()
}

func (r *refAllocator) Allocated(fid, agentID string, res resources.Resources) {
	if ag := r.agent(agentID); ag != nil && !res.IsEmpty() {
		r.hold(ag, fid, res)
		r.gc()
	}
}

// hold records res as held and counts one allocation along its path.
func (r *refAllocator) hold(ag *refAgent, fid string, res resources.Resources) {
	role := onlyRole(res)
	k := [2]string{fid, role}
	ag.held[k] = ag.held[k].Add(res)
	r.fwCount[[2]string{role, fid}]++
	r.leafCount[role]++
	for p := role; ; {
		r.nodeCount[p]++
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			break
		}
		p = p[:i]
	}
}

func (r *refAllocator) SetWeight(role string, w float64) {
	if w <= 0 {
		delete(r.weights, role)
		return
	}
	r.weights[role] = w
}

// --- derived facts, recomputed every time ---

func (r *refAllocator) subscribed(fid, role string) bool {
	fw := r.fws[fid]
	return fw != nil && slices.Contains(fw.spec.Roles, role)
}

func (r *refAllocator) active(fid, role string) bool {
	fw := r.fws[fid]
	return r.subscribed(fid, role) && fw.spec.Active && !fw.suppressed[role]
}

// members lists the frameworks a role's sorter holds: subscribed, or still
// holding resources in the role.
func (r *refAllocator) members(role string) []string {
	set := map[string]bool{}
	for fid, fw := range r.fws {
		if slices.Contains(fw.spec.Roles, role) {
			set[fid] = true
		}
	}
	for _, ag := range r.agents {
		for k := range ag.held {
			if k[1] == role {
				set[k[0]] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// clientRoles lists the roles with members.
func (r *refAllocator) clientRoles() []string {
	set := map[string]bool{}
	for _, fw := range r.fws {
		for _, role := range fw.spec.Roles {
			set[role] = true
		}
	}
	for _, ag := range r.agents {
		for k := range ag.held {
			set[k[1]] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// gc forgets the counts of sorter nodes that no longer exist.
func (r *refAllocator) gc() {
	roles := r.clientRoles()
	maps.DeleteFunc(r.fwCount, func(k [2]string, _ uint64) bool { return !slices.Contains(r.members(k[0]), k[1]) })
	maps.DeleteFunc(r.leafCount, func(role string, _ uint64) bool { return !slices.Contains(roles, role) })
	maps.DeleteFunc(r.nodeCount, func(p string, _ uint64) bool {
		return !slices.ContainsFunc(roles, func(role string) bool { return subrole(role, p) })
	})
}

// basis recomputes the share basis from the agents' totals.
func (r *refAllocator) basis() *shareBasis {
	totals := map[string]resources.Scalar{}
	for _, ag := range r.agents {
		for _, n := range ag.total.Names() {
			totals[n] += ag.total.Scalar(n)
		}
	}
	b := &shareBasis{}
	for _, n := range slices.Sorted(maps.Keys(totals)) {
		if totals[n] > 0 && !slices.Contains(r.opts.FairnessExcludedResourceNames, n) {
			b.names = append(b.names, shareName{n, float64(totals[n])})
		}
	}
	return b
}

// allocation sums what matching (framework, role) pairs hold.
func (r *refAllocator) allocation(match func(fid, role string) bool) resources.Quantities {
	var q resources.Quantities
	for _, ag := range r.agents {
		for k, res := range ag.held {
			if match(k[0], k[1]) {
				q = q.Add(res.Quantities())
			}
		}
	}
	return q
}

func (r *refAllocator) weight(path string) float64 {
	if w, ok := r.weights[path]; ok {
		return w
	}
	return 1
}

// refNode is a node of the role tree as the reference builds it for one
// ordering: a role path (internal) or a role's own clients (leaf).
type refNode struct {
	path  string // the tie-breaker: "a/b", or "a/b/." for a leaf
	role  string
	leaf  bool
	share float64
	count uint64
}

// roleOrder lists the roles with active frameworks in DRF tree order.
func (r *refAllocator) roleOrder() []string {
	b := r.basis()
	clients := r.clientRoles()
	activeRole := func(role string) bool {
		return slices.ContainsFunc(r.members(role), func(fid string) bool { return r.active(fid, role) })
	}
	var visit func(parent string) []string
	visit = func(parent string) []string {
		var kids []refNode
		seen := map[string]bool{}
		for _, role := range clients {
			if parent != "" && !strings.HasPrefix(role, parent+"/") {
				continue
			}
			rest := strings.TrimPrefix(role, parent+"/")
			if parent == "" {
				rest = role
			}
			child := parent + "/" + strings.SplitN(rest, "/", 2)[0]
			if parent == "" {
				child = strings.SplitN(rest, "/", 2)[0]
			}
			active := slices.ContainsFunc(clients, func(c string) bool { return subrole(c, child) && activeRole(c) })
			if seen[child] || !active {
				continue
			}
			seen[child] = true
			alloc := r.allocation(func(_, role string) bool { return subrole(role, child) })
			kids = append(kids, refNode{path: child, role: child, share: b.share(alloc) / r.weight(child), count: r.nodeCount[child]})
		}
		if parent != "" && slices.Contains(clients, parent) && activeRole(parent) {
			alloc := r.allocation(func(_, role string) bool { return role == parent })
			kids = append(kids, refNode{path: parent + "/.", role: parent, leaf: true, share: b.share(alloc), count: r.leafCount[parent]})
		}
		slices.SortFunc(kids, func(x, y refNode) int {
			return cmp.Or(cmp.Compare(x.share, y.share), cmp.Compare(x.count, y.count), strings.Compare(x.path, y.path))
		})
		var out []string
		for _, k := range kids {
			if k.leaf {
				out = append(out, k.role)
			} else {
				out = append(out, visit(k.path)...)
			}
		}
		return out
	}
	return visit("")
}

// frameworkOrder lists a role's active frameworks in DRF order.
func (r *refAllocator) frameworkOrder(role string) []string {
	b := r.basis()
	type fwKey struct {
		id    string
		share float64
		count uint64
	}
	var ks []fwKey
	for _, fid := range r.members(role) {
		if r.active(fid, role) {
			alloc := r.allocation(func(f, ro string) bool { return f == fid && ro == role })
			ks = append(ks, fwKey{fid, b.share(alloc), r.fwCount[[2]string{role, fid}]})
		}
	}
	slices.SortFunc(ks, func(x, y fwKey) int {
		return cmp.Or(cmp.Compare(x.share, y.share), cmp.Compare(x.count, y.count), strings.Compare(x.id, y.id))
	})
	var out []string
	for _, k := range ks {
		out = append(out, k.id)
	}
	return out
}

// consumption of a role: reservations to its subtree plus its subtree's
// unreserved non-revocable allocations.
func (r *refAllocator) consumption(role string) resources.Quantities {
	var q resources.Quantities
	for _, ag := range r.agents {
		q = q.Add(ag.total.ReservedToSubtree(role).Quantities())
		for k, res := range ag.held {
			if subrole(k[1], role) {
				q = q.Add(res.Unreserved().NonRevocable().Quantities())
			}
		}
	}
	return q
}

func (r *refAllocator) unmet(role string) resources.Quantities {
	return r.quotas[role].Guarantees.Subtract(r.consumption(role))
}

// required is Mesos' headroom: the sum of the unmet guarantees.
func (r *refAllocator) required() resources.Quantities {
	var q resources.Quantities
	for _, role := range slices.Sorted(maps.Keys(r.quotas)) {
		q = q.Add(r.unmet(role))
	}
	return q
}

func (r *refAllocator) availableHeadroom() resources.Quantities {
	var q resources.Quantities
	for _, ag := range r.agents {
		q = q.Add(ag.free().Unreserved().NonRevocable().Quantities())
	}
	return q
}

// room is how much more of each limited name the role (and so each of its
// top-level ancestor's limits) allows.
func (r *refAllocator) room(role string) (map[string]resources.Scalar, bool) {
	top := strings.SplitN(role, "/", 2)[0]
	quota, ok := r.quotas[top]
	if !ok || quota.Limits == nil || len(quota.Limits) == 0 {
		return nil, false
	}
	consumed := r.consumption(top)
	room := map[string]resources.Scalar{}
	for n, l := range quota.Limits {
		room[n] = max(l-consumed.Get(n), 0)
	}
	return room, true
}
