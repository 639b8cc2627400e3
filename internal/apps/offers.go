package apps

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/client/scheduler"
	"github.com/agoraproject/agora/internal/apps/constraints"
	"github.com/agoraproject/agora/internal/apps/launch"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// Labels enabling Agora's opt-in extensions per app.
const (
	labelDeploymentTimeout = "AGORA_DEPLOYMENT_TIMEOUT_SECONDS"
	labelCountOld          = "AGORA_CONSTRAINTS_COUNT_OLD_INSTANCES"
)

// demand is an app's instances waiting for an offer, oldest first.
type demand struct {
	app       *marathon.App
	instances []*instance
}

// launchable returns the scheduled instances whose backoff has expired,
// by app id.
func (f *Framework) launchable(now time.Time) []*demand {
	var out []*demand
	for id, ins := range f.byApp {
		a := f.apps[id]
		if a == nil || !f.delays[backoffKey{id, a.def.VersionInfo.LastConfigChangeAt}].Ready(now) {
			continue
		}
		d := &demand{app: a.def}
		for _, in := range ins {
			if in.scheduled() && in.Goal == goalRunning {
				d.instances = append(d.instances, in)
			}
		}
		if len(d.instances) > 0 {
			slices.SortFunc(d.instances, func(a, b *instance) int {
				return cmpTimeThenID(a.ScheduledAt, b.ScheduledAt, a.ID, b.ID)
			})
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b *demand) int { return strings.Compare(a.app.ID, b.app.ID) })
	return out
}

func cmpTimeThenID(a, b time.Time, ida, idb string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(ida, idb)
}

// onOffers places waiting instances on the offers and declines the rest:
// for a short while when instances are waiting, for DeclineOfferDuration
// otherwise.
func (f *Framework) onOffers(offers []*mesos.Offer) {
	now := f.now()
	f.metrics.offers += int64(len(offers))
	demands := f.launchable(now)
	for _, o := range offers {
		tasks := f.placeOn(o, demands, now)
		remaining := waiting(demands)
		refuse := f.cfg.DeclineOfferDuration
		if remaining > 0 {
			refuse = f.cfg.UnusedOfferRefuse
		}
		if len(tasks) == 0 {
			f.decline(o, refuse)
			continue
		}
		if remaining > 0 {
			refuse = 0
		}
		f.launchTasks(o, tasks, refuse)
	}
}

func waiting(ds []*demand) int {
	n := 0
	for _, d := range ds {
		n += len(d.instances)
	}
	return n
}

// placeOn matches instances to one offer, one per app per round so apps
// share it fairly, up to MaxInstancesPerOffer.
func (f *Framework) placeOn(o *mesos.Offer, demands []*demand, now time.Time) []*mesos.TaskInfo {
	pool := launch.NewPool(o)
	values := constraints.OfferValues(o)
	var tasks []*mesos.TaskInfo
	refused := map[string]bool{}
	for progress := true; progress && len(tasks) < f.cfg.MaxInstancesPerOffer; {
		progress = false
		for _, d := range demands {
			if len(d.instances) == 0 || refused[d.app.ID] || len(tasks) >= f.cfg.MaxInstancesPerOffer {
				continue
			}
			task, reasons := f.placeOne(pool, values, d, now)
			f.countOffer(d.app.ID, o, reasons, now)
			if task == nil {
				refused[d.app.ID] = true
				continue
			}
			tasks = append(tasks, task)
			d.instances = d.instances[1:]
			progress = true
		}
	}
	return tasks
}

// placeOne tries to place the first waiting instance of d on pool.
func (f *Framework) placeOne(pool *launch.Pool, values constraints.Values, d *demand, now time.Time) (*mesos.TaskInfo, []string) {
	def := d.app
	if len(def.Constraints) > 0 {
		if ok, _ := constraints.MeetsAll(def.Constraints, values, f.placedValues(def), def.Instances); !ok {
			return nil, []string{marathon.ReasonUnfulfilledConstraint}
		}
	}
	m, reasons := pool.Take(def, f.rng)
	if reasons != nil {
		return nil, reasons
	}
	in := d.instances[0]
	in.Incarnation++
	in.TaskID = launch.TaskID(in.ID, in.Incarnation)
	in.AgentID, in.Host, in.HostPorts, in.Values = pool.Offer.GetAgentId().GetValue(), pool.Offer.GetHostname(), m.HostPorts, values
	in.Condition, in.StagedAt, in.KillSentAt = condProvisioned, now, time.Time{}
	in.Version, in.ConfigVersion = def.Version, def.VersionInfo.LastConfigChangeAt
	f.markDirty(in)
	f.publishInstanceChanged(in)
	f.metrics.launched++
	return launch.BuildTask(def, launch.TaskIDs{InstanceID: in.ID, TaskID: in.TaskID}, pool.Offer, m), nil
}

// placedValues are the constraint values of the app's placed instances
// of the current config (of every config when counting old instances is
// enabled), excluding scheduled and lost ones.
func (f *Framework) placedValues(def *marathon.App) []constraints.Values {
	countOld := f.cfg.ConstraintsCountOldInstances || def.Labels[labelCountOld] == "true"
	var out []constraints.Values
	for _, in := range f.byApp[def.ID] {
		if in.Values == nil || in.scheduled() || in.Condition == condUnreachableInactive || terminal(in.Condition) {
			continue
		}
		if !countOld && (in.ConfigVersion < def.VersionInfo.LastConfigChangeAt || in.Goal != goalRunning) {
			continue
		}
		out = append(out, in.Values)
	}
	return out
}

func (f *Framework) countOffer(appID string, o *mesos.Offer, reasons []string, now time.Time) {
	s := f.stats[appID]
	if s == nil {
		s = &offerStats{rejects: map[string]int{}}
		f.stats[appID] = s
	}
	s.processed++
	if reasons == nil {
		s.lastUsedAt = now
		return
	}
	s.unused++
	s.lastUnusedAt = now
	for _, r := range reasons {
		s.rejects[r]++
	}
	s.lastUnused = append(s.lastUnused, marathon.UnusedOffer{Offer: offerView(o), Reason: reasons, Timestamp: spec.FormatTime(now)})
	if len(s.lastUnused) > 10 {
		s.lastUnused = s.lastUnused[len(s.lastUnused)-10:]
	}
}

func offerView(o *mesos.Offer) marathon.OfferView {
	v := marathon.OfferView{ID: o.GetId().GetValue(), AgentID: o.GetAgentId().GetValue(), Hostname: o.GetHostname(),
		Resources: []marathon.ResourceView{}, Attributes: []any{}}
	for _, r := range o.GetResources() {
		rv := marathon.ResourceView{Name: r.GetName(), Role: launch.ResourceRole(r), Scalar: r.GetScalar().GetValue(), Set: r.GetSet().GetItem()}
		for _, rg := range r.GetRanges().GetRange() {
			rv.Ranges = append(rv.Ranges, marathon.RangeView{Begin: int64(rg.GetBegin()), End: int64(rg.GetEnd())})
		}
		v.Resources = append(v.Resources, rv)
	}
	return v
}

func (f *Framework) decline(o *mesos.Offer, refuse time.Duration) {
	id := o.GetId()
	filters := &mesos.Filters{RefuseSeconds: ptr(refuse.Seconds())}
	f.enqueue(call{name: "DECLINE", do: func(ctx context.Context, c *scheduler.Client) error {
		return c.Decline(ctx, []*mesos.OfferID{id}, filters)
	}})
}

// launchTasks accepts an offer with the tasks; if the call fails, the
// instances go back to the queue.
func (f *Framework) launchTasks(o *mesos.Offer, tasks []*mesos.TaskInfo, refuse time.Duration) {
	id := o.GetId()
	filters := &mesos.Filters{RefuseSeconds: ptr(refuse.Seconds())}
	f.enqueue(call{
		name: "LAUNCH",
		do: func(ctx context.Context, c *scheduler.Client) error {
			return c.Launch(ctx, id, tasks, filters)
		},
		failed: func(error) {
			for _, t := range tasks {
				f.launchFailed(t.GetTaskId().GetValue())
			}
		},
	})
}

func (f *Framework) launchFailed(taskID string) {
	parsed, err := launch.ParseTaskID(taskID)
	if err != nil {
		return
	}
	in := f.instances[parsed.InstanceID]
	if in == nil || in.TaskID != taskID || in.Condition != condProvisioned {
		return
	}
	if a := f.apps[in.AppID]; a != nil && in.Goal == goalRunning {
		f.reschedule(in, a.def, f.now())
		return
	}
	f.expunge(in)
}

// updateOfferInterest revives when instances wait (new demand, or every
// ReviveInterval while they keep waiting; never more often than
// MinReviveInterval) and suppresses offers when none do, so an idle
// framework holds no offers.
func (f *Framework) updateOfferInterest(now time.Time) {
	if !f.subscribed {
		return
	}
	if waiting(f.launchable(now)) > 0 {
		need := f.suppressed || !f.wantOffers || now.Sub(f.lastRevive) >= f.cfg.ReviveInterval
		if need && now.Sub(f.lastRevive) >= f.cfg.MinReviveInterval {
			f.suppressed, f.wantOffers, f.lastRevive = false, true, now
			f.metrics.revives++
			f.enqueue(call{name: "REVIVE", do: func(ctx context.Context, c *scheduler.Client) error { return c.Revive(ctx) }})
		}
		return
	}
	if !f.suppressed {
		f.suppressed, f.wantOffers = true, false
		f.metrics.suppresses++
		f.enqueue(call{name: "SUPPRESS", do: func(ctx context.Context, c *scheduler.Client) error { return c.Suppress(ctx) }})
	}
}
