// Package health holds Marathon-side health checking (reference §4.8):
// the per-task check state with its grace period and consecutive-failure
// kill rule (pure, time is an argument), and the probes themselves (HTTP,
// HTTPS without certificate verification, TCP), run by the caller.
package health

import (
	"time"
)

// State is one check's state for one task.
type State struct {
	ConsecutiveFailures int
	FirstSuccess        time.Time
	LastSuccess         time.Time
	LastFailure         time.Time
	LastFailureCause    string
}

// HasResult reports whether any probe has counted.
func (s State) HasResult() bool { return !s.LastSuccess.IsZero() || !s.LastFailure.IsZero() }

// Alive is true when the last success is newer than the last failure.
func (s State) Alive() bool {
	return !s.LastSuccess.IsZero() && s.LastSuccess.After(s.LastFailure)
}

// Outcome is what a probe result leads to.
type Outcome struct {
	// Ignored is true for a failure inside the grace period before the
	// first success.
	Ignored bool
	// Flipped is true when Alive changed.
	Flipped bool
	// Kill is true when the task has failed too often.
	Kill bool
}

// Policy is a check's timing and kill rule.
type Policy struct {
	GracePeriod            time.Duration
	MaxConsecutiveFailures int
}

// Record applies one probe result at now to a task running since
// runningSince. A failure is ignored before the first success while inside
// the grace period; otherwise it counts, and the task is killed when the
// count before this failure already reached MaxConsecutiveFailures (> 0).
func (s *State) Record(p Policy, ok bool, cause string, now, runningSince time.Time) Outcome {
	was := s.Alive()
	if ok {
		if s.FirstSuccess.IsZero() {
			s.FirstSuccess = now
		}
		s.LastSuccess = now
		s.ConsecutiveFailures = 0
		return Outcome{Flipped: !was}
	}
	if s.FirstSuccess.IsZero() && now.Before(runningSince.Add(p.GracePeriod)) {
		return Outcome{Ignored: true}
	}
	before := s.ConsecutiveFailures
	s.ConsecutiveFailures++
	s.LastFailure, s.LastFailureCause = now, cause
	out := Outcome{Flipped: was}
	out.Kill = p.MaxConsecutiveFailures > 0 && before >= p.MaxConsecutiveFailures
	return out
}

// FirstProbeDelay is when the first probe runs after a task starts
// running: min(interval, 5 s).
func FirstProbeDelay(interval time.Duration) time.Duration { return min(interval, 5*time.Second) }
