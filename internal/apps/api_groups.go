package apps

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/plan"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// groupBody is a group update as sent: apps stay raw so each is decoded
// with its defaults.
type groupBody struct {
	ID           string            `json:"id"`
	Apps         []json.RawMessage `json:"apps"`
	Groups       []json.RawMessage `json:"groups"`
	Dependencies []string          `json:"dependencies"`
	Version      *string           `json:"version"`
	ScaleBy      *float64          `json:"scaleBy"`
	EnforceRole  *bool             `json:"enforceRole"`
}

// serveGroups is /v2/groups[/{id}][/versions[/{v}]].
func (f *Framework) serveGroups(w http.ResponseWriter, r *http.Request) (any, error) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2/groups"), "/")
	segs := strings.Split(rest, "/")
	version, versions := "", false
	if n := len(segs); n >= 2 && segs[n-2] == "versions" {
		version, versions, segs = segs[n-1], true, segs[:n-2]
	} else if n >= 1 && segs[n-1] == "versions" {
		versions, segs = true, segs[:n-1]
	}
	id, err := spec.Resolve(strings.Join(segs, "/"), spec.Root)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid group id: %v", err)
	}
	switch {
	case versions && r.Method == http.MethodGet:
		return f.groupVersions(r, id, version)
	case r.Method == http.MethodGet:
		return f.getGroup(r, id)
	case r.Method == http.MethodPost:
		return f.createGroup(w, r, id)
	case r.Method == http.MethodPut:
		return f.updateGroup(w, r, id)
	case r.Method == http.MethodPatch:
		return f.patchGroup(w, r, id)
	case r.Method == http.MethodDelete:
		return f.deleteGroup(w, r, id)
	}
	return nil, errorf(http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
}

func groupNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "Group '%s' does not exist", id)
}

// groupIDs are all groups: explicit ones and the parents of apps.
func (f *Framework) groupIDs() map[string]bool {
	out := map[string]bool{spec.Root: true}
	for id := range f.groups {
		for g := id; g != spec.Root; g = spec.Parent(g) {
			out[g] = true
		}
	}
	for id := range f.apps {
		for g := spec.Parent(id); g != spec.Root; g = spec.Parent(g) {
			out[g] = true
		}
	}
	return out
}

func (f *Framework) getGroup(r *http.Request, id string) (any, error) {
	e := parseEmbeds(r.URL.Query()["embed"], "group.apps.")
	var out marathon.GroupInfo
	err := f.do(r.Context(), func() error {
		ids := f.groupIDs()
		if !ids[id] {
			return groupNotFound(id)
		}
		out = f.groupInfo(id, ids, e)
		return nil
	})
	return out, err
}

func (f *Framework) groupInfo(id string, ids map[string]bool, e embeds) marathon.GroupInfo {
	g := marathon.GroupInfo{ID: id, Apps: []marathon.AppInfo{}, Pods: []any{}, Groups: []marathon.GroupInfo{},
		Dependencies: []string{}, Version: f.groupVersion(id)}
	if eg := f.groups[id]; eg != nil {
		g.Dependencies = append(g.Dependencies, eg.Dependencies...)
		g.EnforceRole = eg.EnforceRole
	}
	for _, appID := range slices.Sorted(maps.Keys(f.apps)) {
		if spec.Parent(appID) == id {
			g.Apps = append(g.Apps, f.appInfo(f.apps[appID], e))
		}
	}
	for _, sub := range slices.Sorted(maps.Keys(ids)) {
		if sub != spec.Root && spec.Parent(sub) == id {
			g.Groups = append(g.Groups, f.groupInfo(sub, ids, e))
		}
	}
	return g
}

// groupVersion is the newest version of anything in the group.
func (f *Framework) groupVersion(id string) string {
	v := ""
	if g := f.groups[id]; g != nil {
		v = g.Version
	}
	for appID, a := range f.apps {
		if spec.IsUnder(appID, id) && a.def.Version > v {
			v = a.def.Version
		}
	}
	return v
}

// groupVersions lists the versions of the apps in a group, newest first;
// with a version, it answers the group as it was then.
func (f *Framework) groupVersions(r *http.Request, id, version string) (any, error) {
	var out any
	err := f.do(r.Context(), func() error {
		if !f.groupIDs()[id] {
			return groupNotFound(id)
		}
		if version != "" {
			g := marathon.Group{ID: id, Apps: []marathon.App{}, Pods: []any{}, Groups: []marathon.Group{}, Dependencies: []string{}, Version: version}
			for _, def := range f.appsAt(id, version) {
				g.Apps = append(g.Apps, *def)
			}
			out = g
			return nil
		}
		seen := map[string]bool{}
		for appID, a := range f.apps {
			if spec.IsUnder(appID, id) {
				for v := range a.versions {
					seen[v] = true
				}
			}
		}
		vs := slices.Sorted(maps.Keys(seen))
		slices.Reverse(vs)
		out = append([]string{}, vs...)
		return nil
	})
	return out, err
}

// appsAt reconstructs the apps of a group at a version: each app's newest
// stored version not after it.
func (f *Framework) appsAt(group, version string) []*marathon.App {
	var out []*marathon.App
	for _, appID := range slices.Sorted(maps.Keys(f.apps)) {
		if !spec.IsUnder(appID, group) {
			continue
		}
		var best *marathon.App
		for v, def := range f.apps[appID].versions {
			if v <= version && (best == nil || v > best.Version) {
				best = def
			}
		}
		if best != nil {
			out = append(out, best)
		}
	}
	return out
}

// flatten decodes a group body into apps and groups with absolute ids.
func (f *Framework) flatten(body groupBody, id string, path string) ([]*marathon.App, []*group, error) {
	var apps []*marathon.App
	groups := []*group{{ID: id, Dependencies: body.Dependencies, EnforceRole: body.EnforceRole != nil && *body.EnforceRole}}
	for i, raw := range body.Apps {
		a, fields, err := spec.DecodeApp(raw)
		if err != nil {
			return nil, nil, spec.Prefixed(err, fmt.Sprintf("%s/apps/%d", path, i))
		}
		appID, err := spec.Resolve(a.ID, id)
		if err != nil || a.ID == "" {
			return nil, nil, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: fmt.Sprintf("%s/apps/%d/id", path, i), Errors: []string{"error.path.missing"}}}}
		}
		def, _, err := f.finishApp(a, fields, appID)
		if err != nil {
			return nil, nil, spec.Prefixed(err, fmt.Sprintf("%s/apps/%d", path, i))
		}
		apps = append(apps, def)
	}
	for i, raw := range body.Groups {
		var sub groupBody
		if err := json.Unmarshal(raw, &sub); err != nil {
			return nil, nil, &spec.Malformed{Details: []marathon.ErrorDetail{{Path: fmt.Sprintf("%s/groups/%d", path, i), Errors: []string{err.Error()}}}}
		}
		subID, err := spec.Resolve(sub.ID, id)
		if err != nil || sub.ID == "" {
			return nil, nil, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: fmt.Sprintf("%s/groups/%d/id", path, i), Errors: []string{"error.path.missing"}}}}
		}
		a, g, err := f.flatten(sub, subID, fmt.Sprintf("%s/groups/%d", path, i))
		if err != nil {
			return nil, nil, err
		}
		apps, groups = append(apps, a...), append(groups, g...)
	}
	return apps, groups, nil
}

func decodeGroupBody(r *http.Request) (groupBody, []byte, error) {
	body, err := readBody(r)
	if err != nil {
		return groupBody{}, nil, err
	}
	var g groupBody
	if err := strictJSON(body, &g); err != nil {
		return groupBody{}, nil, err
	}
	return g, body, nil
}

func (f *Framework) createGroup(w http.ResponseWriter, r *http.Request, pathID string) (any, error) {
	body, _, err := decodeGroupBody(r)
	if err != nil {
		return nil, err
	}
	id := pathID
	if body.ID != "" {
		if id, err = spec.Resolve(body.ID, pathID); err != nil {
			return nil, errorf(http.StatusUnprocessableEntity, "invalid group id: %v", err)
		}
	}
	if id == spec.Root {
		return nil, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/id", Errors: []string{"error.path.missing"}}}}
	}
	var d *deployment
	err = f.do(r.Context(), func() error {
		if f.groupIDs()[id] {
			return errorf(http.StatusConflict, "Group %s is already created. Use PUT to change this group.", id)
		}
		apps, groups, err := f.flatten(body, id, "")
		if err != nil {
			return err
		}
		for _, g := range groups {
			g.Version = f.nextVersionPeek()
		}
		d, err = f.commit(r.Context(), change{upsert: apps, groups: groups, force: flag(r, "force", false)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return deploymentResult(w, http.StatusCreated, d)
}

// nextVersionPeek is a version for explicit groups (the commit's version
// follows it).
func (f *Framework) nextVersionPeek() string { return spec.FormatTime(f.now()) }

// updateGroup is PUT /v2/groups/{id}: a version rolls the subtree back, a
// scaleBy multiplies every instance count, anything else replaces the
// subtree. dryRun answers the plan's steps without deploying.
func (f *Framework) updateGroup(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	body, _, err := decodeGroupBody(r)
	if err != nil {
		return nil, err
	}
	dryRun := flag(r, "dryRun", false)
	var d *deployment
	var steps []plan.Step
	err = f.do(r.Context(), func() error {
		ch, err := f.groupChange(body, id)
		if err != nil {
			return err
		}
		ch.force, ch.skipUnchanged = flag(r, "force", false), true
		if dryRun {
			steps, err = f.dryRun(ch)
			return err
		}
		d, err = f.commit(r.Context(), ch)
		return err
	})
	if err != nil {
		return nil, err
	}
	if dryRun {
		return marathon.DryRun{Steps: stepView(steps)}, nil
	}
	return deploymentResult(w, http.StatusOK, d)
}

func (f *Framework) groupChange(body groupBody, id string) (change, error) {
	switch {
	case body.Version != nil && body.ScaleBy == nil && len(body.Apps) == 0 && len(body.Groups) == 0:
		return f.rollbackGroup(id, *body.Version)
	case body.ScaleBy != nil:
		return f.scaleGroup(id, *body.ScaleBy)
	}
	apps, groups, err := f.flatten(body, id, "")
	if err != nil {
		return change{}, err
	}
	ch := change{upsert: apps, groups: groups}
	keep := map[string]bool{}
	for _, a := range apps {
		keep[a.ID] = true
	}
	for appID := range f.apps {
		if spec.IsUnder(appID, id) && !keep[appID] {
			ch.remove = append(ch.remove, appID)
		}
	}
	return ch, nil
}

func (f *Framework) rollbackGroup(id, version string) (change, error) {
	if !f.groupIDs()[id] {
		return change{}, groupNotFound(id)
	}
	var ch change
	keep := map[string]bool{}
	for _, def := range f.appsAt(id, version) {
		c := *def
		c.Version, c.VersionInfo = "", nil
		ch.upsert = append(ch.upsert, &c)
		keep[c.ID] = true
	}
	for appID := range f.apps {
		if spec.IsUnder(appID, id) && !keep[appID] {
			ch.remove = append(ch.remove, appID)
		}
	}
	return ch, nil
}

func (f *Framework) scaleGroup(id string, by float64) (change, error) {
	if !f.groupIDs()[id] {
		return change{}, groupNotFound(id)
	}
	if by < 0 {
		return change{}, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/scaleBy", Errors: []string{"must be 0 or more"}}}}
	}
	var ch change
	for _, appID := range slices.Sorted(maps.Keys(f.apps)) {
		if spec.IsUnder(appID, id) {
			c := *f.apps[appID].def
			c.Instances = int(math.Ceil(float64(c.Instances)*by - 1e-9))
			ch.upsert = append(ch.upsert, &c)
		}
	}
	return ch, nil
}

// dryRun plans a change without storing it.
func (f *Framework) dryRun(ch change) ([]plan.Step, error) {
	original, target := f.appDefs(), f.appDefs()
	for _, def := range ch.upsert {
		c := *def
		var prev *marathon.App
		if a := f.apps[def.ID]; a != nil {
			prev = a.def
		}
		spec.Stamp(&c, prev, "dry-run", false)
		target[def.ID] = &c
	}
	for _, id := range ch.remove {
		delete(target, id)
	}
	return plan.Diff(original, target, f.groupDeps(ch), nil)
}

func (f *Framework) patchGroup(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	body, _, err := decodeGroupBody(r)
	if err != nil {
		return nil, err
	}
	err = f.do(r.Context(), func() error {
		if !f.groupIDs()[id] {
			return groupNotFound(id)
		}
		if spec.Parent(id) != spec.Root && body.EnforceRole != nil {
			return &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/enforceRole", Errors: []string{"enforceRole can only be set on top-level groups"}}}}
		}
		g := f.groups[id]
		if g == nil {
			g = &group{ID: id, Dependencies: []string{}}
		}
		c := *g
		if body.EnforceRole != nil {
			c.EnforceRole = *body.EnforceRole
		}
		c.Version = f.nextVersion(f.now())
		if err := f.cfg.Store.Put(r.Context(), nsGroups, id, mustJSON(&c)); err != nil {
			return err
		}
		f.groups[id] = &c
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.WriteHeader(http.StatusOK)
	return nil, nil
}

func (f *Framework) deleteGroup(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	var d *deployment
	err := f.do(r.Context(), func() error {
		ids := f.groupIDs()
		if !ids[id] {
			return groupNotFound(id)
		}
		ch := change{force: flag(r, "force", false)}
		for appID := range f.apps {
			if spec.IsUnder(appID, id) {
				ch.remove = append(ch.remove, appID)
			}
		}
		for gid := range f.groups {
			if spec.IsUnder(gid, id) {
				ch.dropGroup = append(ch.dropGroup, gid)
			}
		}
		var err error
		d, err = f.commit(r.Context(), ch)
		return err
	})
	if err != nil {
		return nil, err
	}
	return deploymentResult(w, http.StatusOK, d)
}
