package allocator

import (
	"strings"

	"github.com/agoraproject/agora/internal/resources"
)

// role is a node of the role tree ("a" is the parent of "a/b"). It exists
// while it has frameworks, allocations, reservations, a weight, quota or
// children. Its quantities cover its whole subtree, as Mesos counts them.
type role struct {
	name     string
	parent   *role // the root (name "") for top-level roles; nil for the root
	children map[string]*role

	weight     float64 // 0: default (1)
	hasQuota   bool
	guarantees resources.Quantities
	limits     []bound              // sorted by name; absent names are unlimited
	needBelow  resources.Quantities // scratch for requiredHeadroom

	alloc    resources.Quantities // offered or allocated, subtree
	allocUNR resources.Quantities // the unreserved non-revocable part of alloc
	reserved resources.Quantities // reserved to this role or a descendant, on all agents

	frameworks map[string]*fwRole // frameworks subscribed or holding resources here
	fwSorter   *sorter[*fwRole]   // nil without frameworks
	leaf       *snode[*role]      // in the role sorter; nil without frameworks
	offersMade uint64             // offers made to this role (stats)
	filters    int                // active refusal filters in this role (stats)
}

// consumption is what counts against the role's quota: its reservations
// (allocated or not) plus the unreserved resources allocated to it, both
// including descendants.
func (r *role) consumption() resources.Quantities { return r.reserved.Add(r.allocUNR) }

// roleFor returns the role, creating it and its ancestors as needed.
func (a *Allocator) roleFor(name string) *role {
	if r, ok := a.roles[name]; ok {
		return r
	}
	parent := a.root
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		parent = a.roleFor(name[:i])
	}
	r := &role{name: name, parent: parent, children: map[string]*role{}, frameworks: map[string]*fwRole{}}
	parent.children[name] = r
	a.roles[name] = r
	return r
}

func (r *role) idle() bool {
	return r.weight == 0 && !r.hasQuota && len(r.frameworks) == 0 && len(r.children) == 0 &&
		r.alloc.IsEmpty() && r.reserved.IsEmpty()
}

// tryRemoveRole forgets a role, and then its ancestors, while they are idle.
func (a *Allocator) tryRemoveRole(r *role) {
	for r != nil && r != a.root && r.idle() {
		delete(r.parent.children, r.name)
		delete(a.roles, r.name)
		r = r.parent
	}
}

// Weight returns a role's weight (1 unless set).
func (a *Allocator) Weight(role string) float64 {
	if r, ok := a.roles[role]; ok && r.weight > 0 {
		return r.weight
	}
	return 1
}

// SetWeight sets a role's weight; a weight ≤ 0 restores the default 1. The
// role's share (and its subtree's) is divided by it. Outstanding offers stay
// valid: a weight change only reorders later cycles.
func (a *Allocator) SetWeight(role string, weight float64) {
	r := a.roleFor(role)
	r.weight = max(weight, 0)
	a.roleSorter.setWeight(role, a.Weight(role))
	a.tryRemoveRole(r)
}
