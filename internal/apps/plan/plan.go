// Package plan is the apps framework's decision logic, pure and
// deterministic: the deployment planner (the diff of two app sets into
// ordered steps, reference §4.1), the rolling-restart arithmetic of
// minimumHealthCapacity/maximumOverCapacity (§4.3), and scaling with kill
// selection (§4.4). The framework feeds it a view of its instances and
// carries out what it returns; calling it again after every change is
// safe, which is what makes deployments resumable after a failover.
package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// Action is one app's part of a deployment step.
type Action struct {
	Type string `json:"action"` // marathon.ActionStart, ...
	App  string `json:"app"`
}

// Step is a set of actions that run concurrently.
type Step []Action

// Apps is a set of app definitions by id.
type Apps map[string]*marathon.App

// Diff plans the change from original to target (reference §4.1): one
// step stopping removed apps, one starting new ones (placeholders), then
// the new and changed apps layered by the length of their longest
// dependency path. groupDeps are the dependencies of groups, which apply to
// every app inside them; restart names apps to restart though unchanged.
func Diff(original, target Apps, groupDeps map[string][]string, restart map[string]bool) ([]Step, error) {
	var stop, start Step
	for _, id := range sortedIDs(original) {
		if target[id] == nil {
			stop = append(stop, Action{marathon.ActionStop, id})
		}
	}
	affected := map[string]string{}
	for _, id := range sortedIDs(target) {
		old, app := original[id], target[id]
		switch {
		case old == nil:
			start = append(start, Action{marathon.ActionStart, id})
			affected[id] = marathon.ActionScale
		case restart[id] || spec.ConfigChanged(old, app):
			affected[id] = marathon.ActionRestart
		case old.Instances != app.Instances:
			affected[id] = marathon.ActionScale
		}
	}
	depth, err := dependencyDepths(target, groupDeps)
	if err != nil {
		return nil, err
	}
	steps := []Step{stop, start}
	steps = append(steps, layers(affected, depth)...)
	return slices.DeleteFunc(steps, func(s Step) bool { return len(s) == 0 }), nil
}

func sortedIDs(apps Apps) []string {
	ids := make([]string, 0, len(apps))
	for id := range apps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// layers groups affected apps by dependency depth, shallowest first.
func layers(affected map[string]string, depth map[string]int) []Step {
	maxDepth := 0
	for id := range affected {
		maxDepth = max(maxDepth, depth[id])
	}
	out := make([]Step, maxDepth+1)
	ids := make([]string, 0, len(affected))
	for id := range affected {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out[depth[id]] = append(out[depth[id]], Action{affected[id], id})
	}
	return out
}

// dependencyDepths is, for each app, the length of its longest dependency
// path. A dependency naming a group means every app under it.
func dependencyDepths(apps Apps, groupDeps map[string][]string) (map[string]int, error) {
	edges := map[string][]string{}
	for _, id := range sortedIDs(apps) {
		var deps []string
		deps = append(deps, apps[id].Dependencies...)
		for g, gd := range groupDeps {
			if spec.IsUnder(id, g) {
				deps = append(deps, gd...)
			}
		}
		for _, d := range deps {
			abs, err := spec.Resolve(d, spec.Parent(id))
			if err != nil {
				continue
			}
			for _, other := range sortedIDs(apps) {
				if other != id && spec.IsUnder(other, abs) && !spec.IsUnder(id, abs) {
					edges[id] = append(edges[id], other)
				}
			}
		}
	}
	depth := map[string]int{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(id string, path []string) error
	visit = func(id string, path []string) error {
		switch state[id] {
		case 1:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(path, id), " -> "))
		case 2:
			return nil
		}
		state[id] = 1
		d := 0
		for _, dep := range edges[id] {
			if err := visit(dep, append(path, id)); err != nil {
				return err
			}
			d = max(d, depth[dep]+1)
		}
		depth[id], state[id] = d, 2
		return nil
	}
	for _, id := range sortedIDs(apps) {
		if err := visit(id, nil); err != nil {
			return nil, err
		}
	}
	return depth, nil
}

// AffectedApps lists the apps a plan's steps touch, sorted.
func AffectedApps(steps []Step) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range steps {
		for _, a := range s {
			if !seen[a.App] {
				seen[a.App] = true
				out = append(out, a.App)
			}
		}
	}
	slices.Sort(out)
	return out
}
