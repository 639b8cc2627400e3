package backoff

import (
	"math"
	"testing"
	"time"
)

var defaults = Policy{Initial: time.Second, Factor: 1.15, Max: 300 * time.Second}

func TestDelaysFollowTheFormula(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var d Delay
	for n := 1; n <= 60; n++ {
		d = d.Failed(defaults, now)
		want := math.Min(300, math.Pow(1.15, float64(n-1)))
		if got := d.Current.Seconds(); math.Abs(got-want) > 1e-6*want {
			t.Fatalf("failure %d: delay %.6fs, want %.6fs", n, got, want)
		}
		if !d.Deadline.Equal(now.Add(d.Current)) {
			t.Fatalf("failure %d: deadline %v, want now+delay", n, d.Deadline)
		}
	}
	if d.Current != 300*time.Second {
		t.Errorf("delay not capped at max: %v", d.Current)
	}
}

func TestFirstFailureIsCappedByMax(t *testing.T) {
	p := Policy{Initial: 10 * time.Second, Factor: 2, Max: 3 * time.Second}
	if d := (Delay{}).Failed(p, time.Time{}); d.Current != 3*time.Second {
		t.Errorf("first delay %v, want min(initial, max) = 3s", d.Current)
	}
}

func TestReadyAndTimeLeft(t *testing.T) {
	now := time.Unix(1000, 0)
	d := Delay{}.Failed(defaults, now)
	if d.Ready(now) || d.TimeLeft(now) != time.Second {
		t.Errorf("at failure: ready=%v left=%v", d.Ready(now), d.TimeLeft(now))
	}
	if !d.Ready(now.Add(time.Second)) || d.TimeLeft(now.Add(2*time.Second)) != 0 {
		t.Error("not ready after the delay")
	}
	if !(Delay{}).Ready(now) {
		t.Error("no entry is not ready")
	}
}

func TestEntryExpiresMaxAfterTheLastSign(t *testing.T) {
	now := time.Unix(1000, 0)
	d := Delay{}.Failed(defaults, now).Failed(defaults, now)
	d = d.Alive(now.Add(100 * time.Second))
	if d.Current == 0 {
		t.Fatal("Alive dropped the delay; it must only move the reference")
	}
	if d.Expired(defaults, now.Add(400*time.Second)) {
		t.Error("expired before reference+max")
	}
	if !d.Expired(defaults, now.Add(401*time.Second)) {
		t.Error("not expired after reference+max")
	}
	if (Delay{}).Alive(now).Active() {
		t.Error("Alive created an entry")
	}
}
