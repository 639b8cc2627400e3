package cluster

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

func TestClockFiresInDeadlineOrderTiesByCreation(t *testing.T) {
	c := NewClock(time.Unix(0, 0))
	var fired []string
	at := func(name string, d time.Duration) *Timer {
		return c.After(d, func() { fired = append(fired, name+"@"+c.Now().Sub(time.Unix(0, 0)).String()) })
	}
	at("c", 3*time.Second)
	at("a", time.Second)
	at("b1", 2*time.Second)
	at("b2", 2*time.Second)
	at("stopped", time.Second).Stop()
	c.After(1500*time.Millisecond, func() { at("chained", time.Second) }) // due at 2.5s, within the Advance
	at("late", 10*time.Second)
	if n := c.Advance(5 * time.Second); n != 6 {
		t.Errorf("Advance fired %d timers, want 6", n)
	}
	want := []string{"a@1s", "b1@2s", "b2@2s", "chained@2.5s", "c@3s"}
	if !slices.Equal(fired, want) {
		t.Errorf("fired %v, want %v", fired, want)
	}
	if got := c.Now().Sub(time.Unix(0, 0)); got != 5*time.Second {
		t.Errorf("now is %s, want 5s", got)
	}
	var _ master.Clock = c
}

func TestLifetimeClockStopsWithItsProcess(t *testing.T) {
	c := NewClock(time.Unix(0, 0))
	lc := &lifetimeClock{Clock: c}
	fired := false
	lc.AfterFunc(time.Second, func() { fired = true })
	lc.dead = true
	c.Advance(2 * time.Second)
	if fired {
		t.Error("a dead process's timer fired")
	}
}

func TestHistoryHashIgnoresOrderWithinAStep(t *testing.T) {
	a, b := newHistory(nil), newHistory(nil)
	a.record("x")
	a.record("y")
	b.record("y")
	b.record("x")
	a.endStep()
	b.endStep()
	if a.hash() != b.hash() {
		t.Error("the same lines in another order hash differently")
	}
	a.record("z")
	b.endStep()
	a.endStep()
	b.record("z")
	b.endStep()
	a.endStep()
	if a.hash() == b.hash() {
		t.Error("the same lines in different steps hash the same")
	}
	if got := FirstDivergence(a.steps, b.steps); got != 2 {
		t.Errorf("FirstDivergence = %d, want 2", got)
	}
}

func TestFrameworkEventsCanonicalOrder(t *testing.T) {
	upd := func(task string, state mesos.TaskState) *scheduler.Event {
		return &scheduler.Event{Type: scheduler.Event_UPDATE.Enum(), Update: &scheduler.Event_Update{
			Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: state.Enum()}}}
	}
	evs := []*scheduler.Event{
		{Type: scheduler.Event_OFFERS.Enum()},
		upd("t2", mesos.TaskState_TASK_RUNNING),
		upd("t1", mesos.TaskState_TASK_RUNNING),
		upd("t2", mesos.TaskState_TASK_FINISHED),
		{Type: scheduler.Event_SUBSCRIBED.Enum()},
	}
	sortFrameworkEvents(evs)
	var got []string
	for _, ev := range evs {
		got = append(got, describe(ev))
	}
	want := []string{"SUBSCRIBED", "UPDATE t1 RUNNING", "UPDATE t2 RUNNING", "UPDATE t2 FINISHED", "OFFERS "}
	if !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

func TestAgentEventsKeepEachFrameworksOrder(t *testing.T) {
	fw := func(id string) *mesos.FrameworkID { return &mesos.FrameworkID{Value: proto.String(id)} }
	run := &protocol.AgentEvent{Type: protocol.AgentEvent_RUN_TASK.Enum(), RunTask: &protocol.AgentEvent_RunTask{
		Framework: &mesos.FrameworkInfo{Id: fw("f2")}, Task: &mesos.TaskInfo{TaskId: &mesos.TaskID{Value: proto.String("t")}}}}
	shutdown := &protocol.AgentEvent{Type: protocol.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
		ShutdownFramework: &protocol.AgentEvent_ShutdownFramework{FrameworkId: fw("f2")}}
	kill := &protocol.AgentEvent{Type: protocol.AgentEvent_KILL_TASK.Enum(),
		KillTask: &protocol.AgentEvent_KillTask{FrameworkId: fw("f1"), TaskId: &mesos.TaskID{Value: proto.String("u")}}}
	evs := []*protocol.AgentEvent{run, shutdown, kill}
	sortAgentEvents(evs)
	if evs[0] != kill || evs[1] != run || evs[2] != shutdown {
		t.Errorf("order %v %v %v, want f1's kill, then f2's run before its shutdown", evs[0].GetType(), evs[1].GetType(), evs[2].GetType())
	}
}

func TestQuotaAllowanceShrinks(t *testing.T) {
	s := unitSim()
	w := &quotaWatch{role: "r", limit: map[string]resources.Scalar{"cpus": resources.ScalarFromFloat(4)}, rebase: true}
	s.quotas = []*quotaWatch{w}
	view := func(cpus string) *master.Snapshot {
		return &master.Snapshot{
			Agents:     []master.AgentView{{ID: "a1", Connected: true}},
			Frameworks: []master.FrameworkView{{ID: "f", Roles: []string{"r"}, Used: mustRes(t, cpus)}},
		}
	}
	s.checkConsumption(view("cpus:6")) // a forced limit: 6 is allowed
	s.checkConsumption(view("cpus:6"))
	wantNoViolation(t, s)
	s.checkConsumption(view("cpus:3")) // under the limit: it must stay there
	s.checkConsumption(view("cpus:4"))
	wantNoViolation(t, s)
	s.checkConsumption(view("cpus:5"))
	wantViolation(t, s, "quota", "above its limit")
}

// TestScenariosExerciseTheirFaults guards against scenarios that pass
// because nothing happened: each one's faults must show in its stats.
func TestScenariosExerciseTheirFaults(t *testing.T) {
	checks := map[string]func(Stats) bool{
		"delayed-acks":      func(st Stats) bool { return st.Duplicates > 0 },
		"stream-cuts":       func(st Stats) bool { return st.Cuts > 0 && st.Lost > 0 },
		"message-loss":      func(st Stats) bool { return st.Dropped > 0 && st.AckedDuplicates > 0 },
		"agent-unreachable": func(st Stats) bool { return st.Unreachable > 0 },
		"failover-repeated": func(st Stats) bool { return st.Elections >= 4 },
		"leader-partition":  func(st Stats) bool { return st.Elections >= 2 && st.Lost > 0 },
		"decline-storm":     func(st Stats) bool { return st.Declines > 200 },
	}
	for _, sc := range loadScenarios(t) {
		check, ok := checks[sc.Name]
		if !ok {
			continue
		}
		delete(checks, sc.Name)
		res, err := sc.Run(Options{Seed: 1})
		if err != nil {
			var v *Violation
			if !errors.As(err, &v) {
				t.Fatal(err)
			}
			continue // TestScenarios reports it
		}
		if !check(res.Stats) {
			t.Errorf("%s did not exercise its faults: %+v", sc.Name, res.Stats)
		}
	}
	for name := range checks {
		t.Errorf("no scenario %s", name)
	}
}

func TestSetQuotaWatchesTheRole(t *testing.T) {
	sc, err := ParseScenario("quota", "masters 1\nagents 1 cpus:2;mem:1024\nset-quota web limits=cpus:1\nrun 1s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Run(Options{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	s := unitSim()
	if err := s.addMasters(1); err != nil {
		t.Fatal(err)
	}
	if err := s.setQuota(&quota.QuotaConfig{Role: proto.String("web")}); err != nil {
		t.Fatal(err)
	}
	if len(s.quotas) != 0 {
		t.Error("a quota without limits is watched")
	}
}
