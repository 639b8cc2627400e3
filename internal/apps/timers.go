package apps

import (
	"context"
	"time"
)

// tick runs the time-driven work: backoff expiry, unreachable strategy,
// overdue and retried kills, health and readiness probes, deployment
// timeouts, and the periodic reconciliation and scale check.
func (f *Framework) tick(now time.Time) {
	for k, d := range f.delays {
		if a := f.apps[k.app]; a == nil || d.Expired(backoffPolicy(a.def), now) {
			delete(f.delays, k)
		}
	}
	for _, in := range f.instances {
		f.checkInstanceTimers(in, now)
	}
	f.probeHealth(now)
	f.probeReadiness(now)
	f.checkTimeouts(f.runCtx(), now)
	if f.subscribed && !now.Before(f.nextReconcile) {
		f.nextReconcile = now.Add(f.cfg.ReconciliationInterval)
		f.reconcile()
	}
	if f.nextScaleCheck.IsZero() {
		f.nextScaleCheck = now.Add(min(15*time.Second, f.cfg.ScaleCheckInterval))
	}
	if !now.Before(f.nextScaleCheck) {
		f.nextScaleCheck = now.Add(f.cfg.ScaleCheckInterval)
		f.scaleCheck(now)
	}
}

// checkInstanceTimers applies the unreachable strategy, kills tasks stuck
// before running for TaskLaunchTimeout, and resends KILLs that had no
// effect within KillRetryTimeout.
func (f *Framework) checkInstanceTimers(in *instance, now time.Time) {
	switch in.Condition {
	case condUnreachable, condUnreachableInactive:
		f.checkUnreachable(in, now)
		return
	case condProvisioned, condStaging, condStarting:
		if !in.StagedAt.IsZero() && now.Sub(in.StagedAt) > f.cfg.TaskLaunchTimeout && in.KillSentAt.IsZero() {
			f.log.Warn("killing an overdue task", "task", in.TaskID, "condition", in.Condition)
			f.kill(in)
			return
		}
	}
	if in.live() && !in.KillSentAt.IsZero() && now.Sub(in.KillSentAt) > f.cfg.KillRetryTimeout {
		f.kill(in)
	}
}

// runCtx is the context of the current Run (Background before it).
func (f *Framework) runCtx() context.Context {
	if c := f.ctx.Load(); c != nil {
		return *c
	}
	return context.Background()
}
