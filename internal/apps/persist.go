package apps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/spec"
	"github.com/agoraproject/agora/internal/apps/store"
)

// Store namespaces.
const (
	nsFramework   = "framework"
	nsApps        = "apps"
	nsVersions    = "appversions"
	nsGroups      = "groups"
	nsDeployments = "deployments"
	nsInstances   = "instances"
)

// versionKey is the appversions key of one version: "<id> <version>".
func versionKey(id, version string) string { return id + " " + version }

// load reads everything stored into the state.
func (f *Framework) load(ctx context.Context) error {
	st := f.cfg.Store
	id, err := st.Get(ctx, nsFramework, "id")
	switch {
	case err == nil:
		f.frameworkID = string(id)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("apps: loading framework id: %w", err)
	}
	if err := loadEach(ctx, st, nsApps, func(k string, a *marathon.App) {
		f.apps[k] = &app{def: a, versions: map[string]*marathon.App{}}
		f.noteVersion(a.Version)
	}); err != nil {
		return err
	}
	if err := loadEach(ctx, st, nsVersions, func(k string, a *marathon.App) {
		if cur := f.apps[a.ID]; cur != nil {
			cur.versions[a.Version] = a
		}
	}); err != nil {
		return err
	}
	if err := loadEach(ctx, st, nsGroups, func(k string, g *group) { f.groups[k] = g }); err != nil {
		return err
	}
	if err := loadEach(ctx, st, nsDeployments, func(k string, d *deployment) { f.deployments[k] = d }); err != nil {
		return err
	}
	return loadEach(ctx, st, nsInstances, func(k string, in *instance) { f.track(in) })
}

func loadEach[T any](ctx context.Context, st store.Store, ns string, put func(key string, v *T)) error {
	kvs, err := st.List(ctx, ns)
	if err != nil {
		return fmt.Errorf("apps: loading %s: %w", ns, err)
	}
	for _, kv := range kvs {
		v := new(T)
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return fmt.Errorf("apps: decoding %s/%s: %w", ns, kv.Key, err)
		}
		put(kv.Key, v)
	}
	return nil
}

func (f *Framework) noteVersion(v string) {
	if t, err := spec.ParseVersion(v); err == nil && t.After(f.lastVersion) {
		f.lastVersion = t
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("apps: marshal %T: %v", v, err))
	}
	return b
}

// pruneOps deletes the oldest stored versions of an app so that, with
// one more version, it keeps at most MaxVersions.
func (f *Framework) pruneOps(id string) []store.Op {
	a := f.apps[id]
	if a == nil {
		return nil
	}
	var ops []store.Op
	versions := sortedVersions(a)
	for len(versions) >= f.cfg.MaxVersions {
		ops = append(ops, store.DeleteOp(nsVersions, versionKey(id, versions[0])))
		versions = versions[1:]
	}
	return ops
}

// deleteAppOps removes an app and all its versions.
func (f *Framework) deleteAppOps(id string) []store.Op {
	ops := []store.Op{store.DeleteOp(nsApps, id)}
	if a := f.apps[id]; a != nil {
		for v := range a.versions {
			ops = append(ops, store.DeleteOp(nsVersions, versionKey(id, v)))
		}
	}
	return ops
}

func sortedVersions(a *app) []string {
	out := make([]string, 0, len(a.versions))
	for v := range a.versions {
		out = append(out, v)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}

// markDirty queues an instance write (or delete) for the end of the turn.
func (f *Framework) markDirty(in *instance) { f.dirty[in.ID] = in }

// flush writes the dirty instances in one atomic write.
func (f *Framework) flush(ctx context.Context) error {
	if len(f.dirty) == 0 {
		return nil
	}
	ops := make([]store.Op, 0, len(f.dirty))
	for id, in := range f.dirty {
		if f.instances[id] == nil {
			ops = append(ops, store.DeleteOp(nsInstances, id))
			continue
		}
		ops = append(ops, store.PutOp(nsInstances, id, mustJSON(in)))
	}
	if err := f.cfg.Store.Write(ctx, ops); err != nil {
		return err
	}
	clear(f.dirty)
	return nil
}

// track adds an instance to the indexes.
func (f *Framework) track(in *instance) {
	f.instances[in.ID] = in
	m := f.byApp[in.AppID]
	if m == nil {
		m = map[string]*instance{}
		f.byApp[in.AppID] = m
	}
	m[in.ID] = in
}

// expunge forgets an instance.
func (f *Framework) expunge(in *instance) {
	delete(f.instances, in.ID)
	if m := f.byApp[in.AppID]; m != nil {
		delete(m, in.ID)
		if len(m) == 0 {
			delete(f.byApp, in.AppID)
		}
	}
	f.markDirty(in)
}
