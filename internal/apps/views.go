package apps

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/constraints"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// embeds are the AppInfo extras a request asked for.
type embeds struct {
	tasks, readiness, lastFailure, taskStats bool
}

// parseEmbeds reads embed parameters with the given prefix ("apps." or
// "app.").
func parseEmbeds(values []string, prefix string) embeds {
	var e embeds
	for _, v := range values {
		switch strings.TrimPrefix(v, prefix) {
		case "tasks":
			e.tasks = true
		case "readiness":
			e.readiness = true
		case "lastTaskFailure":
			e.lastFailure = true
		case "taskStats":
			e.taskStats = true
		case "failures":
			e.lastFailure = true
		}
	}
	return e
}

// appInfo renders an app with its counts and the requested extras.
func (f *Framework) appInfo(a *app, e embeds) marathon.AppInfo {
	info := marathon.AppInfo{App: *a.def, Deployments: []marathon.DeploymentID{}}
	for _, id := range slices.Sorted(maps.Keys(f.deployments)) {
		if f.deployments[id].affects(a.def.ID) {
			info.Deployments = append(info.Deployments, marathon.DeploymentID{ID: id})
		}
	}
	hasChecks := len(a.def.HealthChecks) > 0
	for _, in := range f.sortedInstances(a.def.ID) {
		switch taskState(in) {
		case "TASK_STAGING", "TASK_STARTING":
			// An instance still waiting for an offer has no task yet;
			// Marathon counts only launched tasks as staged.
			if !in.scheduled() {
				info.TasksStaged++
			}
		case "TASK_RUNNING":
			info.TasksRunning++
			if hasChecks {
				if f.healthy(in, a.def) {
					info.TasksHealthy++
				} else if f.hasHealthResult(in) {
					info.TasksUnhealthy++
				}
			}
		}
		if e.tasks && !in.scheduled() {
			info.Tasks = append(info.Tasks, f.task(in))
		}
		if e.readiness && in.readiness != nil && in.readiness.last != nil {
			info.ReadinessCheckResults = append(info.ReadinessCheckResults, readinessResult(in, a.def))
		}
	}
	if e.tasks && info.Tasks == nil {
		info.Tasks = []marathon.Task{}
	}
	if e.lastFailure {
		info.LastTaskFailure = f.lastFailure[a.def.ID]
	}
	if e.taskStats {
		info.TaskStats = f.taskStats(a.def)
	}
	return info
}

func readinessResult(in *instance, def *marathon.App) marathon.ReadinessCheckResult {
	return marathon.ReadinessCheckResult{Name: def.ReadinessChecks[0].Name, TaskID: in.TaskID, Ready: in.readiness.ready,
		LastResponse: in.readiness.last}
}

func (f *Framework) hasHealthResult(in *instance) bool {
	if in.MesosHealthy != nil {
		return true
	}
	for _, h := range in.health {
		if h.HasResult() {
			return true
		}
	}
	return false
}

func (f *Framework) sortedInstances(appID string) []*instance {
	out := slices.Collect(maps.Values(f.byApp[appID]))
	slices.SortFunc(out, func(a, b *instance) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// taskState is the Mesos state an instance's task is reported in.
func taskState(in *instance) string {
	switch in.Condition {
	case condScheduled, condProvisioned, condStaging:
		return "TASK_STAGING"
	case condUnreachableInactive:
		return "TASK_UNREACHABLE"
	}
	return "TASK_" + strings.ToUpper(in.Condition)
}

// task renders an instance's task (reference §3.4).
func (f *Framework) task(in *instance) marathon.Task {
	t := marathon.Task{
		ID: in.TaskID, AppID: in.AppID, Host: in.Host, SlaveID: in.AgentID, ServicePorts: []int{},
		IPAddresses: in.IPAddresses, State: taskState(in), LocalVolumes: []any{}, Role: "*",
	}
	if t.IPAddresses == nil {
		t.IPAddresses = []marathon.IPAddress{}
	}
	if def := f.defFor(in); def != nil {
		t.ServicePorts = spec.ServicePorts(def)
		t.Role = def.Role
		t.HealthCheckResults = f.healthResults(in, def)
	}
	if in.Values != nil {
		t.Region, t.Zone = in.Values[constraints.Region], in.Values[constraints.Zone]
	}
	if in.live() {
		t.Ports = in.HostPorts
		if t.Ports == nil {
			t.Ports = []int{}
		}
		t.StagedAt, t.Version = formatTime(in.StagedAt), in.Version
		t.StartedAt = formatTime(in.StartedAt)
	}
	return t
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return spec.FormatTime(t)
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := spec.FormatTime(t)
	return &s
}

func (f *Framework) healthResults(in *instance, def *marathon.App) []marathon.HealthCheckResult {
	if len(def.HealthChecks) == 0 {
		return nil
	}
	out := []marathon.HealthCheckResult{}
	if in.MesosHealthy != nil {
		return append(out, marathon.HealthCheckResult{Alive: *in.MesosHealthy, InstanceID: in.ID})
	}
	for _, h := range in.health {
		if !h.HasResult() {
			continue
		}
		r := marathon.HealthCheckResult{Alive: h.Alive(), ConsecutiveFailures: h.ConsecutiveFailures,
			FirstSuccess: optTime(h.FirstSuccess), LastSuccess: optTime(h.LastSuccess), LastFailure: optTime(h.LastFailure),
			InstanceID: in.ID}
		if h.LastFailureCause != "" {
			r.LastFailureCause = &h.LastFailureCause
		}
		out = append(out, r)
	}
	return out
}

// taskStats computes the embed=taskStats summary of an app.
func (f *Framework) taskStats(def *marathon.App) *marathon.TaskStats {
	var all, latest, outdated, afterScaling []*instance
	lastScaling := def.VersionInfo.LastScalingAt
	for _, in := range f.sortedInstances(def.ID) {
		if in.scheduled() {
			continue
		}
		all = append(all, in)
		if current(in, def) {
			latest = append(latest, in)
		} else {
			outdated = append(outdated, in)
		}
		if formatTime(in.StagedAt) >= lastScaling {
			afterScaling = append(afterScaling, in)
		}
	}
	return &marathon.TaskStats{
		StartedAfterLastScaling: f.statsEntry(afterScaling, def), WithLatestConfig: f.statsEntry(latest, def),
		WithOutdatedConfig: f.statsEntry(outdated, def), TotalSummary: f.statsEntry(all, def),
	}
}

func (f *Framework) statsEntry(ins []*instance, def *marathon.App) *marathon.TaskStatsEntry {
	if len(ins) == 0 {
		return nil
	}
	e := &marathon.TaskStatsEntry{}
	now := f.now()
	var lifetimes []float64
	for _, in := range ins {
		switch taskState(in) {
		case "TASK_STAGING", "TASK_STARTING":
			e.Stats.Counts.Staged++
		case "TASK_RUNNING":
			e.Stats.Counts.Running++
			lifetimes = append(lifetimes, now.Sub(in.StartedAt).Seconds())
		}
		if f.healthy(in, def) && len(def.HealthChecks) > 0 {
			e.Stats.Counts.Healthy++
		} else if f.hasHealthResult(in) {
			e.Stats.Counts.Unhealthy++
		}
	}
	if len(lifetimes) > 0 {
		slices.Sort(lifetimes)
		var sum float64
		for _, l := range lifetimes {
			sum += l
		}
		e.Stats.LifeTime = &marathon.TaskLifeTime{AverageSeconds: sum / float64(len(lifetimes)), MedianSeconds: lifetimes[len(lifetimes)/2]}
	}
	return e
}

// deploymentView renders a running deployment for /v2/deployments.
func (f *Framework) deploymentView(d *deployment) marathon.Deployment {
	v := marathon.Deployment{ID: d.ID, Version: d.Version, AffectedApps: affectedList(d), AffectedPods: []string{},
		Steps: stepView(d.Steps), CurrentActions: []marathon.CurrentAction{}, CurrentStep: min(d.Current+1, len(d.Steps)),
		TotalSteps: len(d.Steps)}
	if d.Current < len(d.Steps) {
		for _, a := range d.Steps[d.Current] {
			ca := marathon.CurrentAction{Action: a.Type, App: a.App, ReadinessCheckResults: []marathon.ReadinessCheckResult{}}
			if app := f.apps[a.App]; app != nil && len(app.def.ReadinessChecks) > 0 {
				for _, in := range f.sortedInstances(a.App) {
					if in.readiness != nil && in.readiness.last != nil {
						ca.ReadinessCheckResults = append(ca.ReadinessCheckResults, readinessResult(in, app.def))
					}
				}
			}
			v.CurrentActions = append(v.CurrentActions, ca)
		}
	}
	return v
}

// sortedDeployments are the running deployments, oldest first (by
// version, which is unique and increasing).
func (f *Framework) sortedDeployments() []*deployment {
	ds := slices.Collect(maps.Values(f.deployments))
	slices.SortFunc(ds, func(a, b *deployment) int {
		return cmp.Or(strings.Compare(a.Version, b.Version), strings.Compare(a.ID, b.ID))
	})
	return ds
}
