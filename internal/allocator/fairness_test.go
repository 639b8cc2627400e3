package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// demandLoop plays frameworks with unbounded demand: every cycle, each
// offer that fits one task launches exactly one and gives the rest back.
// It runs until the cluster is full and calls check after every cycle with
// the number of tasks each framework runs.
func demandLoop(t *testing.T, a *Allocator, frameworks []string, task resources.Resources, check func(tasks map[string]int)) map[string]int {
	t.Helper()
	tasks := map[string]int{}
	now := epoch
	for cycle := 0; ; cycle++ {
		if cycle > 1000 {
			t.Fatal("no convergence after 1000 cycles")
		}
		launched := 0
		for _, o := range a.Allocate(now) {
			use := task.AllocatedTo(o.Role)
			if !o.Resources.Contains(use) {
				a.Recover(o.FrameworkID, o.AgentID, o.Resources, 0, now)
				continue
			}
			tasks[o.FrameworkID]++
			launched++
			a.Recover(o.FrameworkID, o.AgentID, o.Resources.Subtract(use), 0, now)
		}
		if launched == 0 {
			return tasks
		}
		check(tasks)
		now = now.Add(time.Second)
	}
}

func fairnessCluster(t *testing.T, agents int) *Allocator {
	a := NewWithOptions(DefaultOptions())
	total, err := resources.Parse("cpus:8;mem:16384", "*")
	if err != nil {
		t.Fatal(err)
	}
	for i := range agents {
		a.AddAgent(fmt.Sprintf("a%03d", i), Agent{Total: total, Active: true}, nil)
	}
	return a
}

// TestFairnessEqualFrameworks: identical frameworks in one role stay within
// one task of each other (dominant share within one task's share) at every
// cycle, and end with the cluster split evenly.
func TestFairnessEqualFrameworks(t *testing.T) {
	const agents, n = 50, 4 // 400 tasks in all
	a := fairnessCluster(t, agents)
	var fws []string
	for i := range n {
		id := fmt.Sprintf("f%d", i)
		fws = append(fws, id)
		a.AddFramework(id, Framework{Roles: []string{"r"}, Active: true})
	}
	task := mustResources(t, "cpus:1;mem:2048")
	final := demandLoop(t, a, fws, task, func(tasks map[string]int) {
		lo, hi := spread(fws, tasks, func(string) float64 { return 1 })
		if hi-lo > 1 {
			t.Fatalf("tasks %v differ by more than one", tasks)
		}
	})
	for _, f := range fws {
		if final[f] != agents*8/n {
			t.Errorf("final tasks %v, want %d each", final, agents*8/n)
		}
	}
}

// TestFairnessWeights: roles weighted 1:2:3 converge to tasks in 1:2:3 —
// each role's tasks ÷ weight within one task of the others' at every cycle.
func TestFairnessWeights(t *testing.T) {
	const agents = 60 // 480 tasks: 80, 160, 240
	a := fairnessCluster(t, agents)
	weights := map[string]float64{"f1": 1, "f2": 2, "f3": 3}
	var fws []string
	for _, id := range []string{"f1", "f2", "f3"} {
		role := "r" + id[1:]
		fws = append(fws, id)
		a.AddFramework(id, Framework{Roles: []string{role}, Active: true})
		a.SetWeight(role, weights[id])
	}
	task := mustResources(t, "cpus:1;mem:2048")
	final := demandLoop(t, a, fws, task, func(tasks map[string]int) {
		lo, hi := spread(fws, tasks, func(f string) float64 { return weights[f] })
		if hi-lo > 1 {
			t.Fatalf("tasks per weight unit %v spread %.2f > 1", tasks, hi-lo)
		}
	})
	if final["f1"] != 80 || final["f2"] != 160 || final["f3"] != 240 {
		t.Errorf("final tasks %v, want 80:160:240", final)
	}
}

// spread returns the lowest and highest tasks ÷ weight.
func spread(fws []string, tasks map[string]int, weight func(string) float64) (lo, hi float64) {
	for i, f := range fws {
		v := float64(tasks[f]) / weight(f)
		if i == 0 || v < lo {
			lo = v
		}
		if i == 0 || v > hi {
			hi = v
		}
	}
	return lo, hi
}

func mustResources(t testing.TB, s string) resources.Resources {
	t.Helper()
	r, err := resources.Parse(s, "*")
	if err != nil {
		t.Fatal(err)
	}
	return r
}
