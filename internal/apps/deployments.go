package apps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/plan"
	"github.com/agoraproject/agora/internal/apps/spec"
	"github.com/agoraproject/agora/internal/apps/store"
)

// change is one mutation of the app set, committed as one deployment.
type change struct {
	upsert  []*marathon.App // normalised, validated, unstamped
	remove  []string
	restart map[string]bool
	// sentenced are instances a kill&scale chose, by app.
	sentenced map[string][]string
	groups    []*group
	dropGroup []string
	force     bool
	rollback  bool
	// skipUnchanged drops upserts identical to the current definition
	// (group updates restate every app).
	skipUnchanged bool
}

// conflictError is a change blocked by running deployments (409).
type conflictError struct {
	deployments []string
}

func (e *conflictError) Error() string {
	return "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'."
}

// errStore is a failed write; nothing changed.
var errStore = errors.New("apps: storing the change failed")

// commit stamps the change's apps, checks it against running deployments
// (409 unless force, which cancels them), plans it, stores apps, versions
// and the deployment in one atomic write, and only then applies it to
// the in-memory state and starts the deployment.
func (f *Framework) commit(ctx context.Context, ch change) (*deployment, error) {
	now := f.now()
	version := f.nextVersion(now)
	original, target := f.appDefs(), f.appDefs()
	affected := map[string]bool{}
	for _, def := range ch.upsert {
		if a := f.apps[def.ID]; a != nil {
			inheritServicePorts(def, a.def)
		}
	}
	if ch.skipUnchanged {
		ch.upsert = slices.DeleteFunc(ch.upsert, func(def *marathon.App) bool {
			a := f.apps[def.ID]
			return a != nil && !ch.restart[def.ID] && a.def.Instances == def.Instances && !spec.ConfigChanged(a.def, def)
		})
	}
	for _, def := range ch.upsert {
		var prev *marathon.App
		if a := f.apps[def.ID]; a != nil {
			prev = a.def
		}
		spec.Stamp(def, prev, version, ch.restart[def.ID])
		if err := spec.AssignServicePorts(def, f.usedServicePorts(def.ID), f.cfg.ServicePortMin, f.cfg.ServicePortMax); err != nil {
			return nil, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/portDefinitions", Errors: []string{err.Error()}}}}
		}
		target[def.ID] = def
		affected[def.ID] = true
	}
	for _, id := range ch.remove {
		delete(target, id)
		affected[id] = true
	}
	blocking := f.blocking(affected)
	if len(blocking) > 0 && !ch.force {
		return nil, &conflictError{deployments: blocking}
	}
	steps, err := plan.Diff(original, target, f.groupDeps(ch), ch.restart)
	if err != nil {
		return nil, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/dependencies", Errors: []string{err.Error()}}}}
	}
	d := f.newDeployment(version, steps, original, target, affected, ch, now)
	if err := f.store(ctx, ch, d, blocking); err != nil {
		return nil, err
	}
	f.apply(ch, d, blocking, now)
	return d, nil
}

// inheritServicePorts keeps the service ports of prev for ports an update
// leaves at 0, so restating a definition is not a config change.
func inheritServicePorts(def, prev *marathon.App) {
	old := spec.ServicePorts(prev)
	for i := range def.PortDefinitions {
		if def.PortDefinitions[i].Port == 0 && i < len(old) && spec.HostNetworking(prev) {
			def.PortDefinitions[i].Port = old[i]
		}
	}
	if def.Container == nil || spec.HostNetworking(prev) {
		return
	}
	for i := range def.Container.PortMappings {
		if def.Container.PortMappings[i].ServicePort == 0 && i < len(old) {
			def.Container.PortMappings[i].ServicePort = old[i]
		}
	}
}

func (f *Framework) appDefs() plan.Apps {
	out := plan.Apps{}
	for id, a := range f.apps {
		out[id] = a.def
	}
	return out
}

// usedServicePorts are the service ports of every app but skip.
func (f *Framework) usedServicePorts(skip string) map[int]bool {
	used := map[int]bool{}
	for id, a := range f.apps {
		if id == skip {
			continue
		}
		for _, p := range spec.ServicePorts(a.def) {
			used[p] = true
		}
	}
	return used
}

// blocking lists the running deployments touching any affected app.
func (f *Framework) blocking(affected map[string]bool) []string {
	var out []string
	for id, d := range f.deployments {
		for app := range affected {
			if d.affects(app) {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func (f *Framework) groupDeps(ch change) map[string][]string {
	out := map[string][]string{}
	for id, g := range f.groups {
		out[id] = g.Dependencies
	}
	for _, g := range ch.groups {
		out[g.ID] = g.Dependencies
	}
	return out
}

func (f *Framework) newDeployment(version string, steps []plan.Step, original, target plan.Apps, affected map[string]bool, ch change, now time.Time) *deployment {
	d := &deployment{
		ID: uuid.NewString(), Version: version, Steps: steps, StartedAt: now,
		Original: map[string]*marathon.App{}, Target: map[string]*marathon.App{},
		Sentenced: ch.sentenced, Rollback: ch.rollback,
	}
	for id := range affected {
		d.Original[id] = original[id]
		d.Target[id] = target[id]
	}
	if !ch.rollback {
		d.Timeout = f.deploymentTimeout(d)
	}
	return d
}

// deploymentTimeout is the opt-in timeout: the largest of the apps'
// AGORA_DEPLOYMENT_TIMEOUT_SECONDS labels, or Config.DeploymentTimeout.
func (f *Framework) deploymentTimeout(d *deployment) time.Duration {
	t := f.cfg.DeploymentTimeout
	for _, def := range d.Target {
		if def == nil {
			continue
		}
		if s, err := strconv.Atoi(def.Labels[labelDeploymentTimeout]); err == nil && s > 0 {
			t = max(t, time.Duration(s)*time.Second)
		}
	}
	return t
}

func (f *Framework) store(ctx context.Context, ch change, d *deployment, cancelled []string) error {
	var ops []store.Op
	for _, def := range ch.upsert {
		ops = append(ops, f.pruneOps(def.ID)...)
		ops = append(ops, store.PutOp(nsApps, def.ID, mustJSON(def)),
			store.PutOp(nsVersions, versionKey(def.ID, def.Version), mustJSON(def)))
	}
	for _, id := range ch.remove {
		ops = append(ops, f.deleteAppOps(id)...)
	}
	for _, g := range ch.groups {
		ops = append(ops, store.PutOp(nsGroups, g.ID, mustJSON(g)))
	}
	for _, id := range ch.dropGroup {
		ops = append(ops, store.DeleteOp(nsGroups, id))
	}
	for _, id := range cancelled {
		ops = append(ops, store.DeleteOp(nsDeployments, id))
	}
	ops = append(ops, store.PutOp(nsDeployments, d.ID, mustJSON(d)))
	if err := f.cfg.Store.Write(ctx, ops); err != nil {
		return fmt.Errorf("%w: %w", errStore, err)
	}
	return nil
}

// apply makes a stored change visible and starts its deployment.
func (f *Framework) apply(ch change, d *deployment, cancelled []string, now time.Time) {
	for _, id := range cancelled {
		f.dropDeployment(f.deployments[id], "canceled by a forced deployment "+d.ID)
	}
	for _, def := range ch.upsert {
		a := f.apps[def.ID]
		if a == nil {
			a = &app{versions: map[string]*marathon.App{}}
			f.apps[def.ID] = a
		}
		a.def = def
		a.versions[def.Version] = def
		f.pruneVersions(a)
	}
	for _, id := range ch.remove {
		delete(f.apps, id)
		f.clearDelays(id)
	}
	for _, g := range ch.groups {
		f.groups[g.ID] = g
	}
	for _, id := range ch.dropGroup {
		delete(f.groups, id)
	}
	f.deployments[d.ID] = d
	f.metrics.deployments++
	if len(d.Steps) > 0 {
		f.publishDeployment(marathon.EventDeploymentInfo, d)
	}
	f.publish(marathon.EventGroupChangeSuccess, marathon.GroupChangeEvent{EventHeader: f.hdr(marathon.EventGroupChangeSuccess),
		GroupID: spec.Root, Version: d.Version})
}

// pruneVersions drops versions beyond MaxVersions from memory, as
// pruneOps did in the store.
func (f *Framework) pruneVersions(a *app) {
	vs := sortedVersions(a)
	for len(vs) > f.cfg.MaxVersions {
		delete(a.versions, vs[0])
		vs = vs[1:]
	}
}

func (f *Framework) clearDelays(appID string) {
	for k := range f.delays {
		if k.app == appID {
			delete(f.delays, k)
		}
	}
}

// dropDeployment forgets a deployment (cancelled or failed); its
// instances stay as they are.
func (f *Framework) dropDeployment(d *deployment, reason string) {
	if d == nil {
		return
	}
	delete(f.deployments, d.ID)
	f.publish(marathon.EventDeploymentFailed, marathon.DeploymentDoneEvent{EventHeader: f.hdr(marathon.EventDeploymentFailed),
		ID: d.ID, Plan: f.planView(d), Reason: reason})
}

// advanceDeployments runs the current step of every deployment, oldest
// first; a step is done when all its actions are.
func (f *Framework) advanceDeployments(now time.Time) {
	for _, d := range f.sortedDeployments() {
		for d.Current < len(d.Steps) && f.runStep(d, now) {
			f.publishDeployment(marathon.EventDeploymentStepSuccess, d)
			f.publishTerminated(d.Steps[d.Current])
			d.Current++
			if d.Current < len(d.Steps) {
				f.persistDeployment(d)
				f.publishDeployment(marathon.EventDeploymentInfo, d)
			}
		}
		if d.Current >= len(d.Steps) {
			f.finishDeployment(d)
		}
	}
}

// publishTerminated sends app_terminated_event for the stopped apps of a
// completed step.
func (f *Framework) publishTerminated(step plan.Step) {
	for _, a := range step {
		if a.Type == marathon.ActionStop {
			f.publish(marathon.EventAppTerminated, marathon.AppTerminatedEvent{EventHeader: f.hdr(marathon.EventAppTerminated), AppID: a.App})
		}
	}
}

func (f *Framework) runStep(d *deployment, now time.Time) bool {
	done := true
	for _, a := range d.Steps[d.Current] {
		if !f.runAction(d, a, now) {
			done = false
		}
	}
	return done
}

func (f *Framework) persistDeployment(d *deployment) {
	if err := f.cfg.Store.Put(context.Background(), nsDeployments, d.ID, mustJSON(d)); err != nil {
		f.log.Error("storing deployment progress failed", "deployment", d.ID, "error", err)
	}
}

func (f *Framework) finishDeployment(d *deployment) {
	if err := f.cfg.Store.Delete(context.Background(), nsDeployments, d.ID); err != nil {
		f.log.Error("removing a finished deployment failed", "deployment", d.ID, "error", err)
		return
	}
	delete(f.deployments, d.ID)
	f.publish(marathon.EventDeploymentSuccess, marathon.DeploymentDoneEvent{EventHeader: f.hdr(marathon.EventDeploymentSuccess),
		ID: d.ID, Plan: f.planView(d)})
}

// runAction carries out one action as far as it can now and reports
// whether it is complete. Every action is recomputed from the instances,
// so running it again (or after a failover) is safe.
func (f *Framework) runAction(d *deployment, act plan.Action, now time.Time) bool {
	switch act.Type {
	case marathon.ActionStart:
		return true
	case marathon.ActionStop:
		return f.runStop(act.App)
	}
	a := f.apps[act.App]
	if a == nil {
		return true
	}
	def := a.def
	if act.Type == marathon.ActionRestart {
		r := plan.RestartStep(def.Instances, *def.UpgradeStrategy, def.KillSelection, f.views(def))
		for _, id := range r.Kill {
			f.decommission(id)
		}
		f.schedule(def, r.Launch, now)
		return r.Done
	}
	sentenced := map[string]bool{}
	for _, id := range d.Sentenced[act.App] {
		sentenced[id] = true
	}
	f.scaleApp(def, sentenced, now)
	return f.scaled(def)
}

// scaled reports whether an app has exactly its instances, all healthy
// and ready, and nothing left to stop.
func (f *Framework) scaled(def *marathon.App) bool {
	running, good := 0, 0
	for _, in := range f.byApp[def.ID] {
		if in.Goal != goalRunning {
			return false
		}
		running++
		if f.healthy(in, def) && (!current(in, def) || ready(in, def)) {
			good++
		}
	}
	return running == def.Instances && good >= def.Instances
}

// runStop decommissions all instances of a removed app; done when none is
// left.
func (f *Framework) runStop(id string) bool {
	ins := f.byApp[id]
	if len(ins) == 0 {
		return true
	}
	for iid, in := range ins {
		if in.Goal == goalRunning || in.KillSentAt.IsZero() {
			f.decommission(iid)
		}
	}
	return len(f.byApp[id]) == 0
}

// cancel removes a deployment. Without force it also reverts: the
// original definitions of its apps are restored (on top of the current
// state) by a new deployment, which is returned.
func (f *Framework) cancel(ctx context.Context, d *deployment, force bool) (*deployment, error) {
	if force {
		if err := f.cfg.Store.Delete(ctx, nsDeployments, d.ID); err != nil {
			return nil, fmt.Errorf("%w: %w", errStore, err)
		}
		f.dropDeployment(d, "canceled")
		return nil, nil
	}
	return f.revert(ctx, d, false)
}

// revert deploys the original definitions of d's apps, cancelling d.
func (f *Framework) revert(ctx context.Context, d *deployment, rollback bool) (*deployment, error) {
	ch := change{force: true, rollback: rollback, restart: map[string]bool{}}
	for _, id := range slices.Sorted(maps.Keys(d.Original)) {
		orig := d.Original[id]
		if orig == nil {
			if f.apps[id] != nil {
				ch.remove = append(ch.remove, id)
			}
			continue
		}
		c := *orig
		c.Version, c.VersionInfo = "", nil
		ch.upsert = append(ch.upsert, &c)
	}
	return f.commit(ctx, ch)
}

// checkTimeouts rolls back deployments past their opt-in timeout.
func (f *Framework) checkTimeouts(ctx context.Context, now time.Time) {
	for _, d := range slices.Collect(maps.Values(f.deployments)) {
		if d.Timeout <= 0 || d.Rollback || now.Sub(d.StartedAt) <= d.Timeout {
			continue
		}
		f.log.Warn("deployment timed out; rolling back", "deployment", d.ID, "timeout", d.Timeout)
		f.publish(marathon.EventDeploymentFailed, marathon.DeploymentDoneEvent{EventHeader: f.hdr(marathon.EventDeploymentFailed),
			ID: d.ID, Plan: f.planView(d), Reason: "timed out after " + d.Timeout.String() + "; rolling back"})
		f.metrics.rollbacks++
		if _, err := f.revert(ctx, d, true); err != nil {
			f.log.Error("automatic rollback failed", "deployment", d.ID, "error", err)
		}
	}
}

// stepView renders plan steps for the API and events.
func stepView(steps []plan.Step) []marathon.Step {
	out := make([]marathon.Step, 0, len(steps))
	for _, s := range steps {
		st := marathon.Step{Actions: []marathon.Action{}}
		for _, a := range s {
			st.Actions = append(st.Actions, marathon.Action{Action: a.Type, App: a.App})
		}
		out = append(out, st)
	}
	return out
}

func (f *Framework) planView(d *deployment) marathon.DeploymentPlanView {
	return marathon.DeploymentPlanView{ID: d.ID, Original: f.groupOf(d.Original), Target: f.groupOf(d.Target),
		Steps: stepView(d.Steps), Version: d.Version}
}

// groupOf is a flat root group holding the given apps (for plan views).
func (f *Framework) groupOf(apps map[string]*marathon.App) *marathon.Group {
	g := &marathon.Group{ID: spec.Root, Apps: []marathon.App{}, Pods: []any{}, Groups: []marathon.Group{}, Dependencies: []string{}}
	for _, id := range slices.Sorted(maps.Keys(apps)) {
		if apps[id] != nil {
			g.Apps = append(g.Apps, *apps[id])
		}
	}
	return g
}

func (f *Framework) publishDeployment(eventType string, d *deployment) {
	cur := marathon.Step{Actions: []marathon.Action{}}
	if d.Current < len(d.Steps) {
		cur = stepView(d.Steps[d.Current : d.Current+1])[0]
	}
	f.publish(eventType, marathon.DeploymentEvent{EventHeader: f.hdr(eventType), Plan: f.planView(d), CurrentStep: cur})
}

// affectedList lists a deployment's apps, sorted.
func affectedList(d *deployment) []string {
	out := slices.Sorted(maps.Keys(d.Target))
	return slices.CompactFunc(out, strings.EqualFold)
}
