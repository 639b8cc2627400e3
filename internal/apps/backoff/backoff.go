// Package backoff is Marathon's launch backoff (reference §4.6) as a pure
// value: failures grow the delay by the app's factor up to its maximum,
// launches wait for the deadline, and the delay is forgotten once the app
// has run for maxLaunchDelay without a failure. Time is an argument.
package backoff

import (
	"math"
	"time"
)

// Policy is an app's backoff settings.
type Policy struct {
	Initial time.Duration // backoffSeconds
	Factor  float64       // backoffFactor
	Max     time.Duration // maxLaunchDelaySeconds
}

// Delay is the backoff state of one (app, lastConfigChangeAt) key. The
// zero value means "no delay".
type Delay struct {
	// Current is the last delay applied; zero when there is no entry.
	Current time.Duration
	// Deadline is when launches may resume.
	Deadline time.Time
	// Reference is the last time a task was seen alive or failed; the
	// entry expires maxLaunchDelay after it.
	Reference time.Time
}

// Active reports whether there is an entry.
func (d Delay) Active() bool { return d.Current > 0 || !d.Deadline.IsZero() }

// Failed applies one failure at now: no entry ⇒ min(initial, max); else
// min(max, current × factor).
func (d Delay) Failed(p Policy, now time.Time) Delay {
	next := min(p.Initial, p.Max)
	if d.Active() {
		next = time.Duration(math.Min(float64(p.Max), float64(d.Current)*p.Factor))
	}
	return Delay{Current: next, Deadline: now.Add(next), Reference: now}
}

// Alive records a task seen staging, starting or running at now: the delay
// is kept, its reference time moves.
func (d Delay) Alive(now time.Time) Delay {
	if !d.Active() {
		return d
	}
	d.Reference = now
	return d
}

// Expired reports whether the entry should be dropped at now: now is past
// reference + max.
func (d Delay) Expired(p Policy, now time.Time) bool {
	return d.Active() && now.After(d.Reference.Add(p.Max))
}

// Ready reports whether launches may happen at now.
func (d Delay) Ready(now time.Time) bool { return !now.Before(d.Deadline) }

// TimeLeft is how long launches still wait at now (zero when ready).
func (d Delay) TimeLeft(now time.Time) time.Duration {
	if d.Ready(now) {
		return 0
	}
	return d.Deadline.Sub(now)
}
