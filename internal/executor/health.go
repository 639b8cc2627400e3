package executor

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Health checks and checks (reference §3), run for each task that has
// one. A probe goroutine per check waits delay_seconds, then probes every
// interval_seconds (each probe bounded by timeout_seconds) and hands the
// results to the loop, which decides:
//
//	health check  success ──▶ healthy=true  update (the first one, and after failures)
//	              failure ──▶ ignored while in grace_period_seconds and never healthy yet
//	                      ──▶ healthy=false update; consecutive_failures in a row ⇒ kill
//	check         result  ──▶ TASK_RUNNING with check_status when it changed; never acted on
//
// Updates are TASK_RUNNING with reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
// or REASON_TASK_CHECK_STATUS_UPDATED. A task killed for its health ends
// TASK_KILLED with healthy=false.

// probeKind says which of a task's probes a result is from.
type probeKind int

const (
	probeHealth probeKind = iota
	probeCheck
)

// probeResult is one probe's outcome, for the loop.
type probeResult struct {
	t       *task
	kind    probeKind
	outcome probeOutcome
}

// healthState is a task's health check bookkeeping.
type healthState struct {
	check        *mesos.HealthCheck
	graceEnds    time.Time
	maxFailures  uint32
	failures     uint32
	initializing bool // no success yet
}

func secondsOf(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// startProbes starts t's health check and check, if it has them, against
// target.
func (e *executor) startProbes(t *task, target probeTarget) {
	hc, ck := t.info.GetHealthCheck(), t.info.GetCheck()
	if hc == nil && ck == nil {
		return
	}
	ctx, cancel := context.WithCancel(e.ctx)
	t.probes = cancel
	if hc != nil {
		t.health = &healthState{
			check:        hc,
			graceEnds:    time.Now().Add(secondsOf(hc.GetGracePeriodSeconds())),
			maxFailures:  max(1, hc.GetConsecutiveFailures()),
			initializing: true,
		}
		p := healthProbe(hc, target)
		sched := probeSchedule{secondsOf(hc.GetDelaySeconds()), secondsOf(hc.GetIntervalSeconds()), secondsOf(hc.GetTimeoutSeconds())}
		e.helpers.Go(func() { e.runProbes(ctx, t, probeHealth, sched, p) })
	}
	if ck != nil {
		t.checkStatus = &mesos.CheckStatusInfo{Type: ck.Type}
		p := checkProbe(ck, target)
		sched := probeSchedule{secondsOf(ck.GetDelaySeconds()), secondsOf(ck.GetIntervalSeconds()), secondsOf(ck.GetTimeoutSeconds())}
		e.helpers.Go(func() { e.runProbes(ctx, t, probeCheck, sched, p) })
	}
}

// probeSchedule is when a probe runs and how long it may take (0: no
// bound).
type probeSchedule struct {
	delay, interval, timeout time.Duration
}

// runProbes probes on schedule until ctx ends.
func (e *executor) runProbes(ctx context.Context, t *task, kind probeKind, s probeSchedule, p probeFunc) {
	wait := s.delay
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = s.interval
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if s.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, s.timeout)
		}
		out := p(pctx)
		cancel()
		select {
		case e.probeCh <- probeResult{t: t, kind: kind, outcome: out}:
		case <-ctx.Done():
			return
		}
	}
}

func (e *executor) onProbe(r probeResult) {
	t := r.t
	if t.exited || t.killing {
		return
	}
	switch r.kind {
	case probeHealth:
		e.onHealthResult(t, r.outcome)
	case probeCheck:
		e.onCheckResult(t, r.outcome)
	}
}

func (e *executor) onHealthResult(t *task, out probeOutcome) {
	h := t.health
	if out.healthy() {
		if h.failures > 0 || h.initializing {
			h.failures, h.initializing = 0, false
			e.sendHealth(t, true)
		}
		return
	}
	if h.initializing && time.Now().Before(h.graceEnds) {
		e.log.Info("health check failed within the grace period", "task_id", t.id().GetValue(), "err", out.err)
		return
	}
	h.failures++
	e.log.Warn("health check failed", "task_id", t.id().GetValue(), "consecutive_failures", h.failures, "err", out.err)
	e.sendHealth(t, false)
	if h.failures >= h.maxFailures {
		e.log.Warn("killing unhealthy task", "task_id", t.id().GetValue())
		for _, member := range e.killScope(t) {
			cause := endKilled
			if member == t {
				cause = endUnhealthy
			}
			e.killTask(member, killGrace(member.info.GetKillPolicy()), cause)
		}
	}
}

func (e *executor) sendHealth(t *task, healthy bool) {
	s := e.newStatus(t, mesos.TaskState_TASK_RUNNING)
	s.Healthy = proto.Bool(healthy)
	s.Reason = mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum()
	e.queue(s)
}

func (e *executor) onCheckResult(t *task, out probeOutcome) {
	status := out.checkStatus(t.checkStatus.GetType())
	if proto.Equal(status, t.checkStatus) {
		return
	}
	t.checkStatus = status
	s := e.newStatus(t, mesos.TaskState_TASK_RUNNING)
	s.Reason = mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED.Enum()
	e.queue(s)
}
