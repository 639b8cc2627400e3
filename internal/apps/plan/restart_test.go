package plan

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/spec"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestBoundsTable is the table of reference §4.3.
func TestBoundsTable(t *testing.T) {
	tests := []struct {
		n            int
		minHC, maxOC float64
		minHealthy   int
		maxCap       int
		killNow      int
	}{
		{4, 1, 1, 4, 8, 0},
		{4, 0.5, 0, 2, 4, 2},
		{3, 1, 0, 3, 4, 0},
		{10, 0.7, 0.2, 7, 12, 3},
		{5, 0, 0, 0, 5, 5},
	}
	for _, tc := range tests {
		b := Bounds(tc.n, marathon.UpgradeStrategy{MinimumHealthCapacity: tc.minHC, MaximumOverCapacity: tc.maxOC})
		if b.MinHealthy != tc.minHealthy || b.MaxCapacity != tc.maxCap {
			t.Errorf("%d/%v/%v: bounds %+v, want minHealthy %d maxCap %d", tc.n, tc.minHC, tc.maxOC, b, tc.minHealthy, tc.maxCap)
		}
		r := RestartStep(tc.n, marathon.UpgradeStrategy{MinimumHealthCapacity: tc.minHC, MaximumOverCapacity: tc.maxOC},
			spec.KillYoungestFirst, oldInstances(tc.n))
		if len(r.Kill) != tc.killNow {
			t.Errorf("%d/%v/%v: first step kills %d, want %d", tc.n, tc.minHC, tc.maxOC, len(r.Kill), tc.killNow)
		}
	}
}

func oldInstances(n int) []Instance {
	var out []Instance
	for i := range n {
		out = append(out, Instance{ID: fmt.Sprintf("old-%d", i), GoalRunning: true, Live: true, Healthy: true, Ready: true, Condition: "Running"})
	}
	return out
}

// simInstance is an instance of the restart simulator.
type simInstance struct {
	Instance
	age int // ticks since launch (new) or kill (old)
}

// TestRollingRestartGolden runs each worked example of §4.3 through a
// small simulator (a killed task ends one tick later; a launched one is
// healthy and ready two ticks later), checks the capacity invariants at
// every tick, and compares the transcript with testdata/restart-*.txt.
func TestRollingRestartGolden(t *testing.T) {
	for _, tc := range []struct {
		n            int
		minHC, maxOC float64
	}{{4, 1, 1}, {4, 0.5, 0}, {3, 1, 0}, {10, 0.7, 0.2}, {5, 0, 0}} {
		name := fmt.Sprintf("restart-%d-%g-%g", tc.n, tc.minHC, tc.maxOC)
		t.Run(name, func(t *testing.T) {
			got := simulateRestart(t, tc.n, marathon.UpgradeStrategy{MinimumHealthCapacity: tc.minHC, MaximumOverCapacity: tc.maxOC})
			golden(t, filepath.Join("testdata", name+".txt"), got)
		})
	}
}

func simulateRestart(t *testing.T, n int, s marathon.UpgradeStrategy) string {
	var b strings.Builder
	bounds := Bounds(n, s)
	fmt.Fprintf(&b, "instances=%d minimumHealthCapacity=%g maximumOverCapacity=%g minHealthy=%d maxCapacity=%d\n",
		n, s.MinimumHealthCapacity, s.MaximumOverCapacity, bounds.MinHealthy, bounds.MaxCapacity)
	var ins []*simInstance
	for _, in := range oldInstances(n) {
		ins = append(ins, &simInstance{Instance: in})
	}
	next := 0
	for tick := 0; tick < 50; tick++ {
		view := make([]Instance, len(ins))
		for i, in := range ins {
			view[i] = in.Instance
		}
		r := RestartStep(n, s, spec.KillYoungestFirst, view)
		old, nw, healthy, live := census(ins)
		fmt.Fprintf(&b, "t=%02d old=%d new=%d healthy=%d live=%d kill=%d launch=%d", tick, old, nw, healthy, live, len(r.Kill), r.Launch)
		if r.Done {
			b.WriteString(" done\n")
			return b.String()
		}
		b.WriteString("\n")
		if live > bounds.MaxCapacity {
			t.Errorf("t=%d: %d live instances exceed maxCapacity %d", tick, live, bounds.MaxCapacity)
		}
		if healthy < bounds.MinHealthy {
			t.Errorf("t=%d: %d healthy instances below minHealthy %d", tick, healthy, bounds.MinHealthy)
		}
		for _, id := range r.Kill {
			for _, in := range ins {
				if in.ID == id {
					in.GoalRunning, in.Healthy, in.age = false, false, 0
				}
			}
		}
		for range r.Launch {
			ins = append(ins, &simInstance{Instance: Instance{ID: fmt.Sprintf("new-%d", next), Current: true, GoalRunning: true, Live: true, Condition: "Staging"}})
			next++
		}
		ins = advance(ins)
	}
	t.Errorf("restart did not finish in 50 ticks:\n%s", b.String())
	return b.String()
}

// census counts old and new instances with goal Running, healthy ones
// (old healthy + new healthy and ready) and live ones (any task alive).
func census(ins []*simInstance) (old, nw, healthy, live int) {
	for _, in := range ins {
		if in.GoalRunning && in.Current {
			nw++
		} else if in.GoalRunning {
			old++
		}
		if in.GoalRunning && in.Healthy && in.Ready {
			healthy++
		}
		if in.Live {
			live++
		}
	}
	return
}

// advance moves the simulated world one tick.
func advance(ins []*simInstance) []*simInstance {
	var out []*simInstance
	for _, in := range ins {
		in.age++
		if !in.GoalRunning && in.age >= 1 {
			continue // the kill took effect: terminal and expunged
		}
		if in.Current && in.age >= 2 {
			in.Healthy, in.Ready, in.Condition = true, true, "Running"
		}
		out = append(out, in)
	}
	return out
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update after checking):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

func TestRestartReplacesOldInstancesThatDied(t *testing.T) {
	ins := oldInstances(3)
	ins[1].Live, ins[1].Healthy, ins[1].Scheduled = false, false, true
	r := RestartStep(3, marathon.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0}, spec.KillYoungestFirst, ins)
	if len(r.Kill) != 1 || r.Kill[0] != "old-1" {
		t.Errorf("dead old instance not decommissioned: %+v", r)
	}
	if r.Launch != 2 {
		t.Errorf("launch %d, want 2 (maxCapacity 4 - 2 old alive)", r.Launch)
	}
}

func TestRestartKillsUnhealthyOldFirst(t *testing.T) {
	ins := oldInstances(4)
	ins[2].Healthy = false
	r := RestartStep(4, marathon.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0}, spec.KillYoungestFirst, ins)
	if len(r.Kill) != 1 || r.Kill[0] != "old-2" {
		t.Errorf("kill %v, want [old-2] (3 healthy - 2 minHealthy = 1, unhealthy first)", r.Kill)
	}
}

func TestRestartOfZeroInstancesIsDone(t *testing.T) {
	r := RestartStep(0, marathon.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1}, spec.KillYoungestFirst, nil)
	if !r.Done || r.Launch != 0 {
		t.Errorf("%+v", r)
	}
}

// An old instance that was killed keeps the restart open until its task
// has ended, unless its agent is unreachable.
func TestRestartEndsWhenKilledOldInstancesHaveEnded(t *testing.T) {
	s := marathon.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0}
	ins := []Instance{
		{ID: "old-0", Live: true, Condition: "Killing"},
		{ID: "new-0", Current: true, GoalRunning: true, Live: true, Healthy: true, Ready: true, Condition: "Running"},
	}
	if r := RestartStep(1, s, spec.KillYoungestFirst, ins); r.Done {
		t.Errorf("done while the killed old instance still runs: %+v", r)
	}
	ins[0].Unreachable, ins[0].Condition = true, "Unreachable"
	if r := RestartStep(1, s, spec.KillYoungestFirst, ins); !r.Done {
		t.Errorf("an unreachable killed instance holds the restart: %+v", r)
	}
	if r := RestartStep(1, s, spec.KillYoungestFirst, ins[1:]); !r.Done {
		t.Errorf("not done once the old instance is gone: %+v", r)
	}
}
