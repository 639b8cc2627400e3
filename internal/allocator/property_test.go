package allocator

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/agoraproject/agora/internal/resources"
)

// TestMatchesReference drives Allocator and the naive refAllocator with the
// same random calls — agents, frameworks, weights, quota, declines with
// filters, accepted tasks, suppression — and checks after every cycle that
// both made the same offers and that the invariants hold.
func TestMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newWorld(t)
		for range rapid.IntRange(1, 8).Draw(t, "agents") {
			w.addAgent()
		}
		for range rapid.IntRange(1, 5).Draw(t, "frameworks") {
			w.addFramework()
		}
		steps := rapid.IntRange(5, 60).Draw(t, "steps")
		for range steps {
			w.step()
		}
		w.allocate()
	})
}

var (
	topRoles = []string{"a", "b", "c"}
	allRoles = []string{"a", "b", "c", "a/x", "a/y", "b/z", "a/x/w"}
)

// world holds what the master would: agents, frameworks and the state of
// every offer, task and filter, to drive both allocators and judge them.
type world struct {
	t      *rapid.T
	a      *Allocator
	ref    *refAllocator
	now    time.Time
	agents map[string]*worldAgent
	fws    map[string]Framework
	offers map[holding]resources.Resources   // outstanding
	tasks  map[holding][]resources.Resources // running
	// filters mirrors the refusal filters both allocators should have.
	filters []*refFilter
	quotas  map[string]Quota
	next    int
}

type worldAgent struct {
	total  resources.Resources
	active bool
}

func newWorld(t *rapid.T) *world {
	opts := DefaultOptions()
	opts.ShuffleAgents = false
	if rapid.Bool().Draw(t, "exclude gpus") {
		opts.FairnessExcludedResourceNames = []string{"gpus"}
	}
	return &world{t: t, a: NewWithOptions(opts), ref: newRefAllocator(opts), now: epoch,
		agents: map[string]*worldAgent{}, fws: map[string]Framework{},
		offers: map[holding]resources.Resources{}, tasks: map[holding][]resources.Resources{},
		quotas: map[string]Quota{}}
}

func (w *world) step() {
	ops := []func(){
		w.allocate, w.allocate, w.allocate, w.decline, w.decline, w.accept, w.accept, w.finish,
		w.suppress, w.toggleAgent, w.addAgent, w.removeAgent, w.addFramework, w.removeFramework,
		w.updateFramework, w.setWeight, w.setQuota, w.reappear,
	}
	ops[rapid.IntRange(0, len(ops)-1).Draw(w.t, "op")]()
}

func (w *world) newID(prefix string) string {
	w.next++
	return fmt.Sprintf("%s%d", prefix, w.next)
}

func (w *world) addAgent() {
	var parts []string
	parts = append(parts, fmt.Sprintf("cpus:%d", rapid.IntRange(1, 8).Draw(w.t, "cpus")))
	parts = append(parts, fmt.Sprintf("mem:%d", 256*rapid.IntRange(1, 16).Draw(w.t, "mem")))
	if rapid.IntRange(0, 4).Draw(w.t, "gpus") == 0 {
		parts = append(parts, "gpus:1")
	}
	if rapid.Bool().Draw(w.t, "ports") {
		parts = append(parts, "ports:[31000-31009]")
	}
	if rapid.IntRange(0, 2).Draw(w.t, "reserved") == 0 {
		role := rapid.SampledFrom(allRoles).Draw(w.t, "reservation role")
		parts = append(parts, fmt.Sprintf("cpus(%s):%d;mem(%s):%d", role, rapid.IntRange(1, 4).Draw(w.t, "rcpus"),
			role, 128*rapid.IntRange(1, 8).Draw(w.t, "rmem")))
	}
	total, err := resources.Parse(strings.Join(parts, ";"), "*")
	if err != nil {
		w.t.Fatal(err)
	}
	if rapid.IntRange(0, 4).Draw(w.t, "revocable") == 0 {
		total = total.Add(revocable(mustParse(w.t, "cpus:2")))
	}
	id := w.newID("ag")
	spec := Agent{Hostname: id, Total: total, Active: rapid.IntRange(0, 5).Draw(w.t, "inactive") > 0}
	w.agents[id] = &worldAgent{total: total, active: spec.Active}
	w.a.AddAgent(id, spec, nil)
	w.ref.AddAgent(id, spec, nil)
}

func mustParse(t *rapid.T, s string) resources.Resources {
	r, err := resources.Parse(s, "*")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (w *world) removeAgent() {
	id, ok := w.pickAgent()
	if !ok {
		return
	}
	delete(w.agents, id)
	w.forget(func(k holding) bool { return k.agent == id })
	w.filters = slices.DeleteFunc(w.filters, func(f *refFilter) bool { return f.agent == id })
	w.a.RemoveAgent(id)
	w.ref.RemoveAgent(id)
}

func (w *world) toggleAgent() {
	id, ok := w.pickAgent()
	if !ok {
		return
	}
	ag := w.agents[id]
	ag.active = !ag.active
	w.a.SetAgentActive(id, ag.active)
	w.ref.SetAgentActive(id, ag.active)
}

func (w *world) pickAgent() (string, bool) {
	ids := slices.Sorted(maps.Keys(w.agents))
	if len(ids) == 0 {
		return "", false
	}
	return rapid.SampledFrom(ids).Draw(w.t, "agent"), true
}

func (w *world) pickFramework() (string, bool) {
	ids := slices.Sorted(maps.Keys(w.fws))
	if len(ids) == 0 {
		return "", false
	}
	return rapid.SampledFrom(ids).Draw(w.t, "framework"), true
}

func (w *world) forget(match func(holding) bool) {
	maps.DeleteFunc(w.offers, func(k holding, _ resources.Resources) bool { return match(k) })
	maps.DeleteFunc(w.tasks, func(k holding, _ []resources.Resources) bool { return match(k) })
}

func (w *world) frameworkSpec() Framework {
	roles := rapid.SliceOfNDistinct(rapid.SampledFrom(allRoles), 1, 2, rapid.ID[string]).Draw(w.t, "roles")
	spec := Framework{Roles: roles, Active: rapid.IntRange(0, 5).Draw(w.t, "fw inactive") > 0}
	spec.Capabilities.GPUResources = rapid.Bool().Draw(w.t, "gpu cap")
	spec.Capabilities.RevocableResources = rapid.Bool().Draw(w.t, "revocable cap")
	if rapid.IntRange(0, 5).Draw(w.t, "suppressed") == 0 {
		spec.Suppressed = roles[:1]
	}
	if rapid.IntRange(0, 5).Draw(w.t, "min override") == 0 {
		spec.MinAllocatable = map[string][]resources.Quantities{roles[0]: nil}
		if rapid.Bool().Draw(w.t, "min cpus") {
			spec.MinAllocatable[roles[0]] = []resources.Quantities{
				resources.QuantitiesFromMap(map[string]resources.Scalar{"cpus": 2 * resources.ScalarUnit})}
		}
	}
	return spec
}

func (w *world) addFramework() {
	id := w.newID("fw")
	spec := w.frameworkSpec()
	w.fws[id] = spec
	w.a.AddFramework(id, spec)
	w.ref.AddFramework(id, spec)
}

func (w *world) updateFramework() {
	id, ok := w.pickFramework()
	if !ok {
		return
	}
	spec := w.frameworkSpec()
	w.fws[id] = spec
	w.filters = slices.DeleteFunc(w.filters, func(f *refFilter) bool {
		return f.fw == id && !slices.Contains(spec.Roles, f.role)
	})
	w.a.UpdateFramework(id, spec)
	w.ref.AddFramework(id, spec)
}

func (w *world) removeFramework() {
	id, ok := w.pickFramework()
	if !ok {
		return
	}
	delete(w.fws, id)
	w.forget(func(k holding) bool { return k.fw == id })
	w.filters = slices.DeleteFunc(w.filters, func(f *refFilter) bool { return f.fw == id })
	w.a.RemoveFramework(id)
	w.ref.RemoveFramework(id)
}

func (w *world) suppress() {
	id, ok := w.pickFramework()
	if !ok {
		return
	}
	spec := w.fws[id]
	var roles []string
	if rapid.Bool().Draw(w.t, "some roles") {
		roles = spec.Roles[:1]
	}
	if rapid.Bool().Draw(w.t, "suppress") {
		for _, r := range cmpOr(roles, spec.Roles) {
			if !slices.Contains(spec.Suppressed, r) {
				spec.Suppressed = append(spec.Suppressed, r)
			}
		}
		w.a.Suppress(id, roles)
		w.ref.setSuppressed(id, roles, true)
	} else {
		revived := cmpOr(roles, spec.Roles)
		spec.Suppressed = slices.DeleteFunc(slices.Clone(spec.Suppressed), func(r string) bool { return slices.Contains(revived, r) })
		w.filters = slices.DeleteFunc(w.filters, func(f *refFilter) bool { return f.fw == id && slices.Contains(revived, f.role) })
		w.a.Revive(id, roles)
		w.ref.setSuppressed(id, roles, false)
	}
	w.fws[id] = spec
}

func cmpOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

func (w *world) setWeight() {
	role := rapid.SampledFrom(allRoles).Draw(w.t, "weight role")
	weight := rapid.SampledFrom([]float64{0, 0.5, 1, 2, 3}).Draw(w.t, "weight")
	w.a.SetWeight(role, weight)
	w.ref.SetWeight(role, weight)
}

func (w *world) setQuota() {
	role := rapid.SampledFrom(topRoles).Draw(w.t, "quota role")
	if rapid.IntRange(0, 3).Draw(w.t, "remove quota") == 0 {
		delete(w.quotas, role)
		w.a.RemoveQuota(role)
		w.ref.RemoveQuota(role)
		return
	}
	gc := rapid.IntRange(0, 6).Draw(w.t, "guarantee cpus")
	gm := 512 * rapid.IntRange(0, 4).Draw(w.t, "guarantee mem")
	g := resources.QuantitiesFromMap(map[string]resources.Scalar{
		"cpus": resources.Scalar(gc) * resources.ScalarUnit, "mem": resources.Scalar(gm) * resources.ScalarUnit})
	var l Limits
	if rapid.Bool().Draw(w.t, "limits") {
		l = Limits{"cpus": resources.Scalar(gc+rapid.IntRange(0, 6).Draw(w.t, "limit cpus")) * resources.ScalarUnit}
		if rapid.Bool().Draw(w.t, "limit mem") {
			l["mem"] = resources.Scalar(gm+512*rapid.IntRange(0, 4).Draw(w.t, "limit mem")) * resources.ScalarUnit
		}
	}
	w.quotas[role] = Quota{Guarantees: g, Limits: l}
	w.a.SetQuota(role, g, l)
	w.ref.SetQuota(role, g, l)
}
