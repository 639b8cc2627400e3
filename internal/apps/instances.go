package apps

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/launch"
	"github.com/agoraproject/agora/internal/apps/plan"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// current reports whether an instance runs (or will launch with) the
// app's current config.
func current(in *instance, def *marathon.App) bool {
	return in.scheduled() || in.ConfigVersion >= def.VersionInfo.LastConfigChangeAt
}

// defFor is the definition an instance was launched with (its version if
// still stored, else the current one).
func (f *Framework) defFor(in *instance) *marathon.App {
	a := f.apps[in.AppID]
	if a == nil {
		return nil
	}
	if v := a.versions[in.Version]; v != nil {
		return v
	}
	return a.def
}

// healthy reports whether an instance runs and passes every health check
// (Mesos-side: the executor's verdict; Marathon-side: each check alive).
func (f *Framework) healthy(in *instance, def *marathon.App) bool {
	if in.Condition != condRunning {
		return false
	}
	if v := f.defFor(in); v != nil {
		def = v
	}
	if len(def.HealthChecks) == 0 {
		return true
	}
	if spec.IsMesosHealthCheck(def.HealthChecks[0]) {
		return in.MesosHealthy != nil && *in.MesosHealthy
	}
	if len(in.health) < len(def.HealthChecks) {
		return false
	}
	for _, h := range in.health[:len(def.HealthChecks)] {
		if !h.HasResult() || !h.Alive() {
			return false
		}
	}
	return true
}

// ready reports whether an instance passed its readiness check (or has
// none).
func ready(in *instance, def *marathon.App) bool {
	return len(def.ReadinessChecks) == 0 || (in.readiness != nil && in.readiness.ready)
}

// views describes an app's instances for the plan package.
func (f *Framework) views(def *marathon.App) []plan.Instance {
	ins := f.byApp[def.ID]
	out := make([]plan.Instance, 0, len(ins))
	for _, in := range ins {
		cur := current(in, def)
		since := in.StartedAt
		if since.IsZero() {
			since = in.StagedAt
		}
		if since.IsZero() {
			since = in.ScheduledAt
		}
		out = append(out, plan.Instance{
			ID: in.ID, Current: cur, GoalRunning: in.Goal == goalRunning, Scheduled: in.scheduled(), Live: in.live(),
			Healthy: f.healthy(in, def), Ready: !cur || ready(in, def), Condition: in.Condition,
			Unreachable: in.Condition == condUnreachable || in.Condition == condUnreachableInactive,
			Inactive:    in.Condition == condUnreachableInactive, Since: since, Values: in.Values,
		})
	}
	slices.SortFunc(out, func(a, b plan.Instance) int { return cmpTimeThenID(a.Since, b.Since, a.ID, b.ID) })
	return out
}

// schedule adds n instances of def to the launch queue.
func (f *Framework) schedule(def *marathon.App, n int, now time.Time) {
	for range n {
		in := &instance{
			ID: launch.NewInstanceID(def.ID, uuid.New()), AppID: def.ID, Goal: goalRunning, Condition: condScheduled,
			Version: def.Version, ConfigVersion: def.VersionInfo.LastConfigChangeAt, ScheduledAt: now,
		}
		f.track(in)
		f.markDirty(in)
	}
}

// decommission stops an instance for good: a scheduled one is dropped, a
// launched one killed and expunged when terminal.
func (f *Framework) decommission(id string) {
	in := f.instances[id]
	if in == nil {
		return
	}
	in.Goal = goalDecommissioned
	if !in.live() {
		f.expunge(in)
		return
	}
	f.markDirty(in)
	if in.KillSentAt.IsZero() {
		f.kill(in)
	}
}

// scaleApp brings an app to its instance count now.
func (f *Framework) scaleApp(def *marathon.App, sentenced map[string]bool, now time.Time) plan.Scale {
	s := plan.ScaleTo(def.Instances, f.views(def), def, sentenced)
	for _, id := range s.Decommission {
		f.decommission(id)
	}
	f.schedule(def, s.Start, now)
	return s
}

// locked reports whether a running deployment affects the app.
func (f *Framework) locked(id string) bool {
	for _, d := range f.deployments {
		if d.affects(id) {
			return true
		}
	}
	return false
}

// healIfUnlocked runs the scale check for one app outside deployments.
func (f *Framework) healIfUnlocked(id string, now time.Time) {
	if a := f.apps[id]; a != nil && !f.locked(id) {
		f.scaleApp(a.def, nil, now)
	}
}

// scaleCheck heals every app without a deployment and decommissions the
// instances of apps that no longer exist (reference §4.10).
func (f *Framework) scaleCheck(now time.Time) {
	for id, a := range f.apps {
		if !f.locked(id) {
			f.scaleApp(a.def, nil, now)
		}
	}
	for id, ins := range f.byApp {
		if f.apps[id] == nil && !f.locked(id) {
			for iid := range ins {
				f.decommission(iid)
			}
		}
	}
}
