package cluster

import (
	"container/heap"
	"time"

	"github.com/agoraproject/agora/internal/master"
)

// Clock is a fake clock: time moves only in Advance, and the timers due
// fire there, in deadline order, ties in the order they were created. It
// implements master.Clock. It is not safe for concurrent use; the
// simulator has one goroutine.
type Clock struct {
	now    time.Time
	seq    uint64
	timers timerHeap
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the fake time.
func (c *Clock) Now() time.Time { return c.now }

// AfterFunc runs f from Advance once d has passed.
func (c *Clock) AfterFunc(d time.Duration, f func()) master.Timer { return c.After(d, f) }

// After is AfterFunc returning the concrete timer.
func (c *Clock) After(d time.Duration, f func()) *Timer {
	if d < 0 {
		d = 0
	}
	c.seq++
	t := &Timer{at: c.now.Add(d), seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	return t
}

// Advance moves time forward by d, firing every timer due by then; timers
// that those create fire too if they fall due within d. It returns how many
// fired.
func (c *Clock) Advance(d time.Duration) int {
	target := c.now.Add(d)
	fired := 0
	for len(c.timers) > 0 {
		next := c.timers[0]
		if next.at.After(target) {
			break
		}
		heap.Pop(&c.timers)
		if next.stopped {
			continue
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.fired = true
		next.f()
		fired++
	}
	c.now = target
	return fired
}

// Pending is how many timers are waiting (stopped ones included until
// their deadline passes).
func (c *Clock) Pending() int { return len(c.timers) }

// Timer is a pending AfterFunc.
type Timer struct {
	at             time.Time
	seq            uint64
	f              func()
	stopped, fired bool
}

// Stop cancels the timer; it reports whether it was still pending.
func (t *Timer) Stop() bool {
	if t == nil || t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(*Timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// lifetimeClock is one simulated master process's view of the clock: when
// the process dies its timers stop firing, as a killed process's would.
type lifetimeClock struct {
	*Clock
	dead bool
}

func (c *lifetimeClock) AfterFunc(d time.Duration, f func()) master.Timer {
	return c.After(d, func() {
		if !c.dead {
			f()
		}
	})
}
