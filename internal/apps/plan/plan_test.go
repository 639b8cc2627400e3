package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/constraints"
	"github.com/agoraproject/agora/internal/apps/spec"
)

func app(id string, instances int, cmd string, deps ...string) *marathon.App {
	a := spec.Defaults()
	a.ID, a.Instances, a.Cmd, a.Dependencies = id, instances, cmd, deps
	spec.Normalize(&a, nil, spec.Options{DefaultRole: "*"})
	return &a
}

func TestDiff(t *testing.T) {
	original := Apps{
		"/gone":     app("/gone", 1, "x"),
		"/db":       app("/db", 1, "db"),
		"/web":      app("/web", 2, "web", "/db"),
		"/scaled":   app("/scaled", 1, "s"),
		"/same":     app("/same", 1, "same"),
		"/restart":  app("/restart", 1, "r"),
		"/ui/front": app("/ui/front", 1, "f"),
	}
	target := Apps{
		"/db":       app("/db", 1, "db v2"),
		"/web":      app("/web", 3, "web", "/db"),
		"/scaled":   app("/scaled", 4, "s"),
		"/same":     app("/same", 1, "same"),
		"/restart":  app("/restart", 1, "r"),
		"/new":      app("/new", 2, "n", "/ui"),
		"/ui/front": app("/ui/front", 1, "f2", "/web"),
	}
	steps, err := Diff(original, target, nil, map[string]bool{"/restart": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{{marathon.ActionStop, "/gone"}},
		{{marathon.ActionStart, "/new"}},
		{{marathon.ActionRestart, "/db"}, {marathon.ActionRestart, "/restart"}, {marathon.ActionScale, "/scaled"}},
		{{marathon.ActionScale, "/web"}},
		{{marathon.ActionRestart, "/ui/front"}},
		{{marathon.ActionScale, "/new"}},
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got := AffectedApps(steps); len(got) != 7 {
		t.Errorf("affected %v", got)
	}
}

func TestDiffGroupDependenciesAndCycles(t *testing.T) {
	target := Apps{"/a/x": app("/a/x", 1, "x"), "/b/y": app("/b/y", 1, "y")}
	steps, err := Diff(nil, target, map[string][]string{"/a": {"/b"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{{marathon.ActionStart, "/a/x"}, {marathon.ActionStart, "/b/y"}},
		{{marathon.ActionScale, "/b/y"}},
		{{marathon.ActionScale, "/a/x"}},
	}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("group dependency (-want +got):\n%s", diff)
	}
	cyclic := Apps{"/p": app("/p", 1, "p", "/q"), "/q": app("/q", 1, "q", "/p")}
	if _, err := Diff(nil, cyclic, nil, nil); err == nil {
		t.Error("cycle accepted")
	}
}

func TestDiffOfNothingIsEmpty(t *testing.T) {
	a := Apps{"/a": app("/a", 1, "x")}
	steps, err := Diff(a, a, nil, nil)
	if err != nil || len(steps) != 0 {
		t.Errorf("steps %v, err %v", steps, err)
	}
}

func at(sec int) time.Time { return time.Unix(int64(1000+sec), 0) }

func TestScaleDownKillSelection(t *testing.T) {
	ins := []Instance{
		{ID: "old", GoalRunning: true, Live: true, Condition: "Running", Since: at(1)},
		{ID: "young", GoalRunning: true, Live: true, Condition: "Running", Since: at(9)},
		{ID: "mid", GoalRunning: true, Live: true, Condition: "Running", Since: at(5)},
		{ID: "staging", GoalRunning: true, Live: true, Condition: "Staging", Since: at(2)},
		{ID: "waiting", GoalRunning: true, Scheduled: true, Since: at(3)},
		{ID: "dying", GoalRunning: false, Live: true, Condition: "Killing"},
	}
	a := app("/a", 2, "x")
	got := ScaleTo(2, ins, a, nil)
	if diff := cmp.Diff(Scale{Decommission: []string{"waiting", "staging", "young"}}, got); diff != "" {
		t.Errorf("YOUNGEST_FIRST (-want +got):\n%s", diff)
	}
	a.KillSelection = spec.KillOldestFirst
	got = ScaleTo(2, ins, a, nil)
	if diff := cmp.Diff(Scale{Decommission: []string{"waiting", "staging", "old"}}, got); diff != "" {
		t.Errorf("OLDEST_FIRST (-want +got):\n%s", diff)
	}
}

func TestScaleUpAndSentenced(t *testing.T) {
	ins := []Instance{
		{ID: "a", GoalRunning: true, Live: true, Condition: "Running"},
		{ID: "b", GoalRunning: true, Live: true, Condition: "Running"},
		{ID: "lost", GoalRunning: true, Unreachable: true, Inactive: true},
	}
	if got := ScaleTo(4, ins, app("/a", 4, "x"), nil); got.Start != 2 || len(got.Decommission) != 0 {
		t.Errorf("scale up from 2 candidates to 4: %+v", got)
	}
	got := ScaleTo(1, ins, app("/a", 1, "x"), map[string]bool{"b": true})
	if diff := cmp.Diff(Scale{Decommission: []string{"b"}}, got); diff != "" {
		t.Errorf("sentenced (-want +got):\n%s", diff)
	}
}

func TestScaleDownRebalancesGroupBy(t *testing.T) {
	rack := func(r string) constraints.Values { return constraints.Values{"rack": r} }
	ins := []Instance{
		{ID: "r1-a", GoalRunning: true, Live: true, Condition: "Running", Since: at(9), Values: rack("r1")},
		{ID: "r2-a", GoalRunning: true, Live: true, Condition: "Running", Since: at(1), Values: rack("r2")},
		{ID: "r2-b", GoalRunning: true, Live: true, Condition: "Running", Since: at(2), Values: rack("r2")},
		{ID: "r2-c", GoalRunning: true, Live: true, Condition: "Running", Since: at(3), Values: rack("r2")},
	}
	a := app("/a", 2, "x")
	a.Constraints = []marathon.Constraint{{"rack", "GROUP_BY", "2"}}
	got := ScaleTo(2, ins, a, nil)
	if diff := cmp.Diff(Scale{Decommission: []string{"r2-c", "r2-b"}}, got); diff != "" {
		t.Errorf("GROUP_BY rebalance (-want +got):\n%s", diff)
	}
}
