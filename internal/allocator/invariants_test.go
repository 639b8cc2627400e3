package allocator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/agoraproject/agora/internal/resources"
)

func (w *world) pickOffer() (holding, bool) {
	keys := slices.SortedFunc(maps.Keys(w.offers), compareHoldings)
	if len(keys) == 0 {
		return holding{}, false
	}
	return rapid.SampledFrom(keys).Draw(w.t, "offer"), true
}

func (w *world) refuse() time.Duration {
	return rapid.SampledFrom([]time.Duration{0, time.Second, 5 * time.Second, 30 * time.Second}).Draw(w.t, "refuse")
}

// recover gives resources back to both allocators, as the master does.
func (w *world) recover(k holding, res resources.Resources, refuse time.Duration) {
	w.a.Recover(k.fw, k.agent, res, refuse, w.now)
	w.ref.Recover(k.fw, k.agent, res, refuse, w.now)
	if _, registered := w.fws[k.fw]; refuse > 0 && !res.IsEmpty() && registered && slices.Contains(w.fws[k.fw].Roles, k.role) {
		w.filters = append(w.filters, &refFilter{k.fw, k.role, k.agent, res.Unallocated(), w.now.Add(refuse)})
	}
}

func (w *world) decline() {
	if k, ok := w.pickOffer(); ok {
		w.recover(k, w.offers[k], w.refuse())
		delete(w.offers, k)
	}
}

// accept launches a task — the whole offer or one cpu and 256 MB of it —
// and declines the rest.
func (w *world) accept() {
	k, ok := w.pickOffer()
	if !ok {
		return
	}
	offer := w.offers[k]
	task := offer
	if piece := mustParse(w.t, "cpus:1;mem:256").AllocatedTo(k.role); rapid.Bool().Draw(w.t, "piece") && offer.Contains(piece) {
		task = piece
	}
	w.tasks[k] = append(w.tasks[k], task)
	delete(w.offers, k)
	if rest := offer.Subtract(task); !rest.IsEmpty() {
		w.recover(k, rest, w.refuse())
	}
}

func (w *world) finish() {
	keys := slices.SortedFunc(maps.Keys(w.tasks), compareHoldings)
	if len(keys) == 0 {
		return
	}
	k := rapid.SampledFrom(keys).Draw(w.t, "task holder")
	i := rapid.IntRange(0, len(w.tasks[k])-1).Draw(w.t, "task")
	w.recover(k, w.tasks[k][i], 0)
	if w.tasks[k] = slices.Delete(w.tasks[k], i, i+1); len(w.tasks[k]) == 0 {
		delete(w.tasks, k)
	}
}

// reappear reports a task the allocator did not offer (Allocated).
func (w *world) reappear() {
	id, ok1 := w.pickAgent()
	fid, ok2 := w.pickFramework()
	if !ok1 || !ok2 {
		return
	}
	role := rapid.SampledFrom(w.fws[fid].Roles).Draw(w.t, "task role")
	task := mustParse(w.t, "cpus:1;mem:128").AllocatedTo(role)
	if !w.free(id).Contains(task.Unallocated()) {
		return
	}
	k := holding{fid, role, id}
	w.tasks[k] = append(w.tasks[k], task)
	w.a.Allocated(fid, id, task)
	w.ref.Allocated(fid, id, task)
}

// free is what the world knows to be free on an agent.
func (w *world) free(id string) resources.Resources {
	f := w.agents[id].total
	for _, k := range slices.SortedFunc(maps.Keys(w.offers), compareHoldings) {
		if k.agent == id {
			f = f.Subtract(w.offers[k].Unallocated())
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(w.tasks), compareHoldings) {
		for _, t := range w.tasks[k] {
			if k.agent == id {
				f = f.Subtract(t.Unallocated())
			}
		}
	}
	return f
}

// consumption is a role's quota consumption as the world sees it.
func (w *world) consumption(role string) resources.Quantities {
	var q resources.Quantities
	for _, ag := range w.agents {
		q = q.Add(ag.total.ReservedToSubtree(role).Quantities())
	}
	add := func(k holding, res resources.Resources) {
		if subrole(k.role, role) {
			q = q.Add(res.Unreserved().NonRevocable().Quantities())
		}
	}
	for k, res := range w.offers {
		add(k, res)
	}
	for k, ts := range w.tasks {
		for _, t := range ts {
			add(k, t)
		}
	}
	return q
}

// allocate runs a cycle on both allocators, compares them and checks the
// invariants.
func (w *world) allocate() {
	w.now = w.now.Add(rapid.SampledFrom([]time.Duration{0, 500 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second}).Draw(w.t, "tick"))
	w.filters = slices.DeleteFunc(w.filters, func(f *refFilter) bool { return !w.now.Before(f.expires) })
	free := map[string]resources.Resources{}
	for id := range w.agents {
		free[id] = w.free(id)
	}
	consumed := map[string]resources.Quantities{}
	for _, role := range topRoles {
		consumed[role] = w.consumption(role)
	}
	got := w.a.Allocate(w.now)
	want := w.ref.Allocate(w.now)
	if g, r := formatOffers(got), formatOffers(want); g != r {
		w.t.Fatalf("allocator and reference differ at %v\nallocator:\n%s\nreference:\n%s", w.now.Sub(epoch), g, r)
	}
	for _, o := range got {
		w.checkOffer(o, free)
		k := holding{o.FrameworkID, o.Role, o.AgentID}
		w.offers[k] = w.offers[k].Add(o.Resources)
	}
	w.checkLimits(consumed)
	w.checkGuarantees()
	if n := w.a.Stats().ActiveFilters; n != len(w.filters) {
		w.t.Fatalf("%d active filters, want %d", n, len(w.filters))
	}
}

func formatOffers(offers []Offer) string {
	var lines []string
	for _, o := range offers {
		lines = append(lines, fmt.Sprintf("%s %s %s %s", o.FrameworkID, o.Role, o.AgentID, o.Resources))
	}
	return strings.Join(lines, "\n")
}

// checkOffer holds the per-offer invariants: offered only what was free
// (so nothing twice, nothing allocated, nothing beyond the agent), only to
// whom may have it, and nothing a live filter hides.
func (w *world) checkOffer(o Offer, free map[string]resources.Resources) {
	ag, spec := w.agents[o.AgentID], w.fws[o.FrameworkID]
	res := o.Resources.Unallocated()
	switch {
	case ag == nil || !ag.active:
		w.t.Fatalf("offer on missing or inactive agent: %v", o)
	case !slices.Equal(o.Resources.AllocationRoles(), []string{o.Role}):
		w.t.Fatalf("offer resources not allocated to its role: %v", o)
	case !free[o.AgentID].Contains(res):
		w.t.Fatalf("offer %v is not within the agent's free %s", o, free[o.AgentID])
	case !ag.total.AllocatableTo(o.Role).Contains(res):
		w.t.Fatalf("offer %v holds resources reserved to another role", o)
	case !spec.Active || !slices.Contains(spec.Roles, o.Role) || slices.Contains(spec.Suppressed, o.Role):
		w.t.Fatalf("offer %v to a framework that wants none in the role (%+v)", o, spec)
	case ag.total.Scalar("gpus") > 0 && !spec.Capabilities.GPUResources:
		w.t.Fatalf("GPU agent offered to a framework without GPU_RESOURCES: %v", o)
	case !res.Revocable().IsEmpty() && !spec.Capabilities.RevocableResources:
		w.t.Fatalf("revocable resources to a framework without REVOCABLE_RESOURCES: %v", o)
	}
	for _, f := range w.filters {
		if f.fw == o.FrameworkID && f.role == o.Role && f.agent == o.AgentID && f.refused.Contains(res) {
			w.t.Fatalf("offer %v re-offers resources refused until %v", o, f.expires.Sub(epoch))
		}
	}
	free[o.AgentID] = free[o.AgentID].Subtract(res)
}

// checkLimits: a cycle never takes a role's consumption above a limit (it
// may already be above one that was lowered).
func (w *world) checkLimits(before map[string]resources.Quantities) {
	for role, q := range w.quotas {
		after := w.consumption(role)
		for name, limit := range q.Limits {
			if a := after.Get(name); a > before[role].Get(name) && a > limit {
				w.t.Fatalf("role %s consumes %s %s, above its limit %s", role, a, name, limit)
			}
		}
	}
}

// checkGuarantees: after a cycle, a role still short of its guarantee in
// cpus or mem sees none of it free on any active agent where one of its
// frameworks could take it (wants offers, capable, not filtered there).
func (w *world) checkGuarantees() {
	for _, role := range slices.Sorted(maps.Keys(w.quotas)) {
		unmet := w.quotas[role].Guarantees.Subtract(w.consumption(role))
		for _, name := range unmet.Names() {
			for _, id := range slices.Sorted(maps.Keys(w.agents)) {
				if w.agents[id].active && w.free(id).Unreserved().NonRevocable().Scalar(name) > 0 && w.couldTake(role, id) {
					w.t.Fatalf("role %s is short of %s %s while agent %s has some free", role, unmet.Get(name), name, id)
				}
			}
		}
	}
}

// couldTake reports whether a framework of role could be offered on agent:
// it wants offers there, may have the agent, uses the default minimum and
// has no filter there.
func (w *world) couldTake(role, agent string) bool {
	for _, fid := range slices.Sorted(maps.Keys(w.fws)) {
		spec := w.fws[fid]
		_, ownMin := spec.MinAllocatable[role]
		switch {
		case !spec.Active || !slices.Contains(spec.Roles, role) || slices.Contains(spec.Suppressed, role) || ownMin:
			continue
		case w.agents[agent].total.Scalar("gpus") > 0 && !spec.Capabilities.GPUResources:
			continue
		case slices.ContainsFunc(w.filters, func(f *refFilter) bool { return f.fw == fid && f.role == role && f.agent == agent }):
			continue
		}
		return true
	}
	return false
}
