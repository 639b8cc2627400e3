package executor

import "time"

// alarm is a one-shot timer owned by the loop goroutine. Its channel is nil
// while it is not set, so a select on an unset alarm never fires.
type alarm struct {
	t  *time.Timer
	at time.Time
}

// set (re)arms the alarm to fire after d.
func (a *alarm) set(d time.Duration) {
	a.stop()
	a.t = time.NewTimer(d)
	a.at = time.Now().Add(d)
}

// shorten arms the alarm to fire after d unless it is set to fire sooner.
func (a *alarm) shorten(d time.Duration) {
	if a.active() && !time.Now().Add(d).Before(a.at) {
		return
	}
	a.set(d)
}

func (a *alarm) stop() {
	if a.t != nil {
		a.t.Stop()
		a.t = nil
	}
}

// fired disarms the alarm after its channel delivered.
func (a *alarm) fired() { a.t = nil }

func (a *alarm) active() bool { return a.t != nil }

// C is the alarm's channel, nil while it is not set.
func (a *alarm) C() <-chan time.Time {
	if a.t == nil {
		return nil
	}
	return a.t.C
}
