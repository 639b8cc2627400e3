package registry

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/agoraproject/agora/api/v1/maintenance"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"google.golang.org/protobuf/proto"
)

var t0 = time.Unix(1_700_000_000, 0)

func testAgent(id string) *Agent {
	info := &mesos.AgentInfo{Hostname: proto.String(id + ".example"), Id: agentID(id)}
	return &Agent{Info: info}
}

func testFramework(id string) *mesos.FrameworkInfo {
	return &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("fw " + id), Id: frameworkID(id), FailoverTimeout: proto.Float64(60)}
}

func testMasterInfo(id string) *mesos.MasterInfo {
	return &mesos.MasterInfo{Id: proto.String(id), Ip: proto.Uint32(0x7f000002), Port: proto.Uint32(5050)}
}

func machine(host string) *mesos.MachineID { return &mesos.MachineID{Hostname: proto.String(host)} }

func window(hosts ...string) *maintenance.Window {
	w := &maintenance.Window{Unavailability: &mesos.Unavailability{Start: TimeInfo(t0)}}
	for _, h := range hosts {
		w.MachineIds = append(w.MachineIds, machine(h))
	}
	return w
}

func schedule(windows ...*maintenance.Window) *maintenance.Schedule {
	return &maintenance.Schedule{Windows: windows}
}

func quotaConfig(role string, guarantees, limits map[string]float64) *quota.QuotaConfig {
	c := &quota.QuotaConfig{Role: proto.String(role), Guarantees: map[string]*mesos.Value_Scalar{}, Limits: map[string]*mesos.Value_Scalar{}}
	for k, v := range guarantees {
		c.Guarantees[k] = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	for k, v := range limits {
		c.Limits[k] = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	return c
}

// applyTxns runs transactions through the same path as a Registry: encode,
// decode, applyEntry. It returns the next state and each verdict.
func applyTxns(t *testing.T, s *State, index uint64, txns ...[]*Operation) (*State, []error) {
	t.Helper()
	var entry []byte
	for _, ops := range txns {
		txn, err := encodeTransaction(ops)
		if err != nil {
			errs := make([]error, len(txns))
			for i := range errs {
				errs[i] = err
			}
			return s, errs
		}
		entry = appendTransaction(entry, txn)
	}
	var e Entry
	if err := proto.Unmarshal(entry, &e); err != nil {
		t.Fatalf("decode entry: %v", err)
	}
	return applyEntry(s, index, &e)
}

// stateAfter applies each op as its own entry, all of which must succeed.
func stateAfter(t *testing.T, ops ...*Operation) *State {
	t.Helper()
	s := emptyState()
	for i, op := range ops {
		var errs []error
		s, errs = applyTxns(t, s, uint64(i+1), []*Operation{op})
		if errs[0] != nil {
			t.Fatalf("setup op %d: %v", i, errs[0])
		}
	}
	return s
}

type applyCase struct {
	name  string
	setup []*Operation
	ops   []*Operation // one transaction
	want  error        // nil, ErrInvalid, ErrNotFound or ErrConflict
	check func(t *testing.T, s *State)
}

func runApplyCases(t *testing.T, cases []applyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := stateAfter(t, tc.setup...)
			beforeBytes, _ := MarshalState(before)
			after, errs := applyTxns(t, before, 1000, tc.ops)
			err := errs[0]
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want success", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			case tc.want != nil && !after.Equal(before):
				t.Fatalf("rejected transaction changed the state:\n%v\n%v", before, after)
			}
			if b, _ := MarshalState(before); string(b) != string(beforeBytes) {
				t.Fatal("applying modified the previous state")
			}
			var opErr *OpError
			if tc.want != nil && errors.As(err, &opErr) && opErr.Op == "" {
				t.Errorf("%v: OpError without the operation's name", err)
			}
			if tc.check != nil && err == nil {
				tc.check(t, after)
			}
		})
	}
}

func ops(o ...*Operation) []*Operation { return o }

func TestAgentOperations(t *testing.T) {
	admitted := AdmitAgent(testAgent("a1"))
	drained := []*Operation{admitted, DrainAgent("a1", nil), MarkAgentDrained("a1")}
	runApplyCases(t, []applyCase{
		{name: "admit", ops: ops(admitted), check: func(t *testing.T, s *State) {
			if a, ok := s.Agent("a1"); !ok || a.GetInfo().GetHostname() != "a1.example" {
				t.Fatalf("agent a1 = %v, %v", a, ok)
			}
		}},
		{name: "admit twice", setup: ops(admitted), ops: ops(admitted), want: ErrConflict},
		{name: "admit without ID", ops: ops(AdmitAgent(&Agent{Info: &mesos.AgentInfo{Hostname: proto.String("h")}})), want: ErrInvalid},
		{name: "admit without info", ops: ops(&Operation{Op: &Operation_AdmitAgent_{AdmitAgent: &Operation_AdmitAgent{}}}), want: ErrInvalid},
		{name: "admit unreachable", setup: ops(admitted, MarkAgentUnreachable("a1", t0)), ops: ops(admitted), want: ErrConflict},
		{name: "admit gone", setup: ops(admitted, MarkAgentGone("a1", t0)), ops: ops(admitted), want: ErrConflict},
		{name: "update keeps flags", setup: ops(admitted, DeactivateAgent("a1")),
			ops: ops(UpdateAgent(&mesos.AgentInfo{Hostname: proto.String("new"), Id: agentID("a1")}, nil)),
			check: func(t *testing.T, s *State) {
				a, _ := s.Agent("a1")
				if a.GetInfo().GetHostname() != "new" || !a.GetDeactivated() {
					t.Fatalf("agent = %v", a)
				}
			}},
		{name: "update unknown", ops: ops(UpdateAgent(testAgent("a9").Info, nil)), want: ErrNotFound},
		{name: "remove", setup: ops(admitted), ops: ops(RemoveAgent("a1")), check: func(t *testing.T, s *State) {
			if len(s.Agents()) != 0 {
				t.Fatalf("agents = %v", s.Agents())
			}
		}},
		{name: "remove unknown", ops: ops(RemoveAgent("a1")), want: ErrNotFound},
		{name: "remove empty ID", ops: ops(RemoveAgent("")), want: ErrInvalid},
		{name: "unreachable", setup: ops(admitted), ops: ops(MarkAgentUnreachable("a1", t0)), check: func(t *testing.T, s *State) {
			u, ok := s.UnreachableAgent("a1")
			if _, admitted := s.Agent("a1"); admitted || !ok || !TimeOf(u.GetTime()).Equal(t0) {
				t.Fatalf("unreachable = %v, %v; admitted %v", u, ok, admitted)
			}
		}},
		{name: "unreachable unknown", ops: ops(MarkAgentUnreachable("a1", t0)), want: ErrNotFound},
		{name: "unreachable twice", setup: ops(admitted, MarkAgentUnreachable("a1", t0)), ops: ops(MarkAgentUnreachable("a1", t0)), want: ErrConflict},
		{name: "reachable", setup: ops(admitted, MarkAgentUnreachable("a1", t0)), ops: ops(MarkAgentReachable(testAgent("a1"))),
			check: func(t *testing.T, s *State) {
				if _, ok := s.Agent("a1"); !ok || len(s.UnreachableAgents()) != 0 {
					t.Fatalf("state %v", s)
				}
			}},
		{name: "reachable unknown", ops: ops(MarkAgentReachable(testAgent("a1"))), want: ErrNotFound},
		{name: "reachable admitted", setup: ops(admitted), ops: ops(MarkAgentReachable(testAgent("a1"))), want: ErrConflict},
		{name: "reachable gone", setup: ops(admitted, MarkAgentGone("a1", t0)), ops: ops(MarkAgentReachable(testAgent("a1"))), want: ErrConflict},
		{name: "gone from admitted", setup: ops(admitted), ops: ops(MarkAgentGone("a1", t0)), check: wantGone("a1")},
		{name: "gone from unreachable", setup: ops(admitted, MarkAgentUnreachable("a1", t0)), ops: ops(MarkAgentGone("a1", t0)), check: wantGone("a1")},
		{name: "gone twice", setup: ops(admitted, MarkAgentGone("a1", t0)), ops: ops(MarkAgentGone("a1", t0)), want: ErrConflict},
		{name: "gone unknown", ops: ops(MarkAgentGone("a1", t0)), want: ErrNotFound},
		{name: "gone empty ID", ops: ops(MarkAgentGone("", t0)), want: ErrInvalid},
		{name: "deactivate", setup: ops(admitted), ops: ops(DeactivateAgent("a1")), check: func(t *testing.T, s *State) {
			if a, _ := s.Agent("a1"); !a.GetDeactivated() {
				t.Fatal("not deactivated")
			}
		}},
		{name: "deactivate twice", setup: ops(admitted, DeactivateAgent("a1")), ops: ops(DeactivateAgent("a1")), want: ErrConflict},
		{name: "deactivate unknown", ops: ops(DeactivateAgent("a1")), want: ErrNotFound},
		{name: "reactivate active", setup: ops(admitted), ops: ops(ReactivateAgent("a1")), want: ErrConflict},
		{name: "reactivate drained", setup: drained, ops: ops(ReactivateAgent("a1")), check: func(t *testing.T, s *State) {
			if a, _ := s.Agent("a1"); a.GetDeactivated() || a.DrainInfo != nil {
				t.Fatalf("agent = %v", a)
			}
		}},
		{name: "drain", setup: ops(admitted), ops: ops(DrainAgent("a1", &mesos.DrainConfig{MarkGone: proto.Bool(true)})),
			check: func(t *testing.T, s *State) {
				a, _ := s.Agent("a1")
				if !a.GetDeactivated() || a.GetDrainInfo().GetState() != mesos.DrainState_DRAINING || !a.GetDrainInfo().GetConfig().GetMarkGone() {
					t.Fatalf("agent = %v", a)
				}
			}},
		{name: "drain negative grace", setup: ops(admitted),
			ops:  ops(DrainAgent("a1", &mesos.DrainConfig{MaxGracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(-1)}})),
			want: ErrInvalid},
		{name: "drain drained", setup: drained, ops: ops(DrainAgent("a1", nil)), want: ErrConflict},
		{name: "drain unknown", ops: ops(DrainAgent("a1", nil)), want: ErrNotFound},
		{name: "drained", setup: drained[:2], ops: ops(MarkAgentDrained("a1")), check: func(t *testing.T, s *State) {
			if a, _ := s.Agent("a1"); a.GetDrainInfo().GetState() != mesos.DrainState_DRAINED {
				t.Fatalf("agent = %v", a)
			}
		}},
		{name: "drained not draining", setup: ops(admitted), ops: ops(MarkAgentDrained("a1")), want: ErrConflict},
		{name: "prune negative age", ops: ops(Prune(t0, -time.Second, 10)), want: ErrInvalid},
	})
}

func wantGone(id string) func(*testing.T, *State) {
	return func(t *testing.T, s *State) {
		_, admitted := s.Agent(id)
		_, unreachable := s.UnreachableAgent(id)
		if _, gone := s.GoneAgent(id); !gone || admitted || unreachable {
			t.Fatalf("agent %s: gone %v admitted %v unreachable %v", id, gone, admitted, unreachable)
		}
	}
}

func TestPruneByAgeAndCount(t *testing.T) {
	var setup []*Operation
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		at := t0.Add(time.Duration(i) * time.Hour)
		setup = append(setup, AdmitAgent(testAgent(id)), MarkAgentUnreachable(id, at))
		setup = append(setup, AddFramework(testFramework("f"+id), at), RemoveFramework("f"+id, at))
	}
	setup = append(setup, AdmitAgent(testAgent("g")), MarkAgentGone("g", t0))
	s := stateAfter(t, setup...)

	// At t0+4h with a maximum age of 2h30, a and b (marked at +0h and +1h)
	// are too old; the gone agent (t0) too.
	next, errs := applyTxns(t, s, 100, ops(Prune(t0.Add(4*time.Hour), 150*time.Minute, 5)))
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := ids(next.UnreachableAgents()); got != "c,d,e" {
		t.Errorf("unreachable after age prune = %s, want c,d,e", got)
	}
	if got := len(next.CompletedFrameworks()); got != 3 {
		t.Errorf("completed frameworks after age prune = %d, want 3", got)
	}
	if len(next.GoneAgents()) != 0 {
		t.Errorf("gone agent marked at t0 survived: %v", next.GoneAgents())
	}
	// Both limits: then only the newest two remain.
	next, _ = applyTxns(t, s, 100, ops(Prune(t0.Add(4*time.Hour), 150*time.Minute, 2)))
	if got := ids(next.UnreachableAgents()); got != "d,e" {
		t.Errorf("unreachable after age and count prune = %s, want d,e", got)
	}
	// Count alone keeps the newest of each list.
	next, _ = applyTxns(t, s, 100, ops(Prune(t0, DefaultMaxAgentAge, 1)))
	if got := ids(next.UnreachableAgents()); got != "e" {
		t.Errorf("unreachable after count prune = %s, want e", got)
	}
	if got := len(next.GoneAgents()); got != 1 {
		t.Errorf("gone after count prune = %d, want 1", got)
	}
}

func ids(as []*RemovedAgent) string {
	var out []string
	for _, a := range as {
		out = append(out, a.GetId().GetValue())
	}
	return strings.Join(out, ",")
}

func TestFrameworkOperations(t *testing.T) {
	added := AddFramework(testFramework("f1"), t0)
	removed := []*Operation{added, RemoveFramework("f1", t0)}
	runApplyCases(t, []applyCase{
		{name: "add", ops: ops(added), check: func(t *testing.T, s *State) {
			f, ok := s.Framework("f1")
			if !ok || !TimeOf(f.GetRegisteredTime()).Equal(t0) || f.DisconnectedTime != nil || f.GetInfo().GetFailoverTimeout() != 60 {
				t.Fatalf("framework = %v, %v", f, ok)
			}
		}},
		{name: "add twice", setup: ops(added), ops: ops(added), want: ErrConflict},
		{name: "add removed", setup: removed, ops: ops(added), want: ErrConflict},
		{name: "add without ID", ops: ops(AddFramework(&mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n")}, t0)), want: ErrInvalid},
		{name: "add missing required name", ops: ops(AddFramework(&mesos.FrameworkInfo{User: proto.String("u"), Id: frameworkID("f1")}, t0)), want: ErrInvalid},
		{name: "add negative failover timeout", ops: ops(AddFramework(func() *mesos.FrameworkInfo {
			f := testFramework("f1")
			f.FailoverTimeout = proto.Float64(-1)
			return f
		}(), t0)), want: ErrInvalid},
		{name: "update keeps disconnection", setup: ops(added, MarkFrameworkDisconnected("f1", t0)),
			ops: ops(UpdateFramework(func() *mesos.FrameworkInfo {
				f := testFramework("f1")
				f.Name = proto.String("renamed")
				return f
			}())),
			check: func(t *testing.T, s *State) {
				f, _ := s.Framework("f1")
				if f.GetInfo().GetName() != "renamed" || !TimeOf(f.GetDisconnectedTime()).Equal(t0) {
					t.Fatalf("framework = %v", f)
				}
			}},
		{name: "update unknown", ops: ops(UpdateFramework(testFramework("f1"))), want: ErrNotFound},
		{name: "update removed", setup: removed, ops: ops(UpdateFramework(testFramework("f1"))), want: ErrConflict},
		{name: "disconnect", setup: ops(added), ops: ops(MarkFrameworkDisconnected("f1", t0.Add(time.Minute))),
			check: func(t *testing.T, s *State) {
				if f, _ := s.Framework("f1"); !TimeOf(f.GetDisconnectedTime()).Equal(t0.Add(time.Minute)) {
					t.Fatalf("framework = %v", f)
				}
			}},
		{name: "disconnect twice", setup: ops(added, MarkFrameworkDisconnected("f1", t0)), ops: ops(MarkFrameworkDisconnected("f1", t0)), want: ErrConflict},
		{name: "disconnect unknown", ops: ops(MarkFrameworkDisconnected("f1", t0)), want: ErrNotFound},
		{name: "connect", setup: ops(added, MarkFrameworkDisconnected("f1", t0)), ops: ops(MarkFrameworkConnected("f1")),
			check: func(t *testing.T, s *State) {
				if f, _ := s.Framework("f1"); f.DisconnectedTime != nil {
					t.Fatalf("framework = %v", f)
				}
			}},
		{name: "connect connected", setup: ops(added), ops: ops(MarkFrameworkConnected("f1")), want: ErrConflict},
		{name: "connect empty ID", ops: ops(MarkFrameworkConnected("")), want: ErrInvalid},
		{name: "remove", setup: ops(added), ops: ops(RemoveFramework("f1", t0)), check: func(t *testing.T, s *State) {
			_, registered := s.Framework("f1")
			if _, completed := s.CompletedFramework("f1"); registered || !completed {
				t.Fatalf("registered %v completed %v", registered, completed)
			}
		}},
		{name: "remove unknown", ops: ops(RemoveFramework("f1", t0)), want: ErrNotFound},
		{name: "remove removed", setup: removed, ops: ops(RemoveFramework("f1", t0)), want: ErrConflict},
	})
}

func TestClusterOperations(t *testing.T) {
	runApplyCases(t, []applyCase{
		{name: "set master", ops: ops(SetMaster(testMasterInfo("m1"), "127.0.0.2:5049")), check: func(t *testing.T, s *State) {
			if s.Master().GetInfo().GetId() != "m1" || s.Master().GetNodeId() != "127.0.0.2:5049" {
				t.Fatalf("master = %v", s.Master())
			}
		}},
		{name: "set master without node", ops: ops(SetMaster(testMasterInfo("m1"), "")), want: ErrInvalid},
		{name: "set master without required ip", ops: ops(SetMaster(&mesos.MasterInfo{Id: proto.String("m"), Port: proto.Uint32(1)}, "n")), want: ErrInvalid},
		{name: "weights", ops: ops(UpdateWeights(map[string]float64{"a": 2, "b/c": 0.5})), check: func(t *testing.T, s *State) {
			if w := s.Weights(); w["a"] != 2 || w["b/c"] != 0.5 || len(w) != 2 {
				t.Fatalf("weights = %v", w)
			}
		}},
		{name: "weight zero", ops: ops(UpdateWeights(map[string]float64{"a": 0})), want: ErrInvalid},
		{name: "weight negative", ops: ops(UpdateWeights(map[string]float64{"a": -1})), want: ErrInvalid},
		{name: "weight NaN", ops: ops(UpdateWeights(map[string]float64{"a": math.NaN()})), want: ErrInvalid},
		{name: "weight infinite", ops: ops(UpdateWeights(map[string]float64{"a": math.Inf(1)})), want: ErrInvalid},
		{name: "weight invalid role", ops: ops(UpdateWeights(map[string]float64{"a//b": 1})), want: ErrInvalid},
		{name: "weight role twice", ops: ops(&Operation{Op: &Operation_UpdateWeights_{UpdateWeights: &Operation_UpdateWeights{Weights: []*Weight{
			{Role: proto.String("a"), Weight: proto.Float64(1)}, {Role: proto.String("a"), Weight: proto.Float64(2)}}}}}), want: ErrInvalid},
		{name: "quota", ops: ops(UpdateQuota(quotaConfig("dev", map[string]float64{"cpus": 1}, map[string]float64{"cpus": 2, "mem": 64}))),
			check: func(t *testing.T, s *State) {
				if q, ok := s.Quota("dev"); !ok || q.GetLimits()["mem"].GetValue() != 64 {
					t.Fatalf("quota = %v", q)
				}
			}},
		{name: "quota removed when empty", setup: ops(UpdateQuota(quotaConfig("dev", map[string]float64{"cpus": 1}, nil))),
			ops: ops(UpdateQuota(quotaConfig("dev", nil, nil))),
			check: func(t *testing.T, s *State) {
				if len(s.Quotas()) != 0 {
					t.Fatalf("quotas = %v", s.Quotas())
				}
			}},
		{name: "quota on star", ops: ops(UpdateQuota(quotaConfig("*", map[string]float64{"cpus": 1}, nil))), want: ErrInvalid},
		{name: "quota invalid role", ops: ops(UpdateQuota(quotaConfig("-x", map[string]float64{"cpus": 1}, nil))), want: ErrInvalid},
		{name: "quota guarantee above limit", ops: ops(UpdateQuota(quotaConfig("dev", map[string]float64{"cpus": 3}, map[string]float64{"cpus": 2}))), want: ErrInvalid},
		{name: "quota negative", ops: ops(UpdateQuota(quotaConfig("dev", map[string]float64{"cpus": -1}, nil))), want: ErrInvalid},
		{name: "quota role twice", ops: ops(UpdateQuota(quotaConfig("dev", nil, nil), quotaConfig("dev", nil, nil))), want: ErrInvalid},
		{name: "add capability", ops: ops(AddMinimumCapability("AGENT_DRAINING")), check: func(t *testing.T, s *State) {
			if c := s.MinimumCapabilities(); len(c) != 1 || c[0] != "AGENT_DRAINING" {
				t.Fatalf("capabilities = %v", c)
			}
		}},
		{name: "add capability twice", setup: ops(AddMinimumCapability("X")), ops: ops(AddMinimumCapability("X")), want: ErrConflict},
		{name: "add empty capability", ops: ops(AddMinimumCapability("")), want: ErrInvalid},
		{name: "remove capability", setup: ops(AddMinimumCapability("X")), ops: ops(RemoveMinimumCapability("X")), check: func(t *testing.T, s *State) {
			if len(s.MinimumCapabilities()) != 0 {
				t.Fatal("capability not removed")
			}
		}},
		{name: "remove missing capability", ops: ops(RemoveMinimumCapability("X")), want: ErrNotFound},
		{name: "empty operation", ops: ops(&Operation{}), want: ErrInvalid},
	})
}

func TestMaintenanceOperations(t *testing.T) {
	scheduled := UpdateSchedule(schedule(window("h1", "h2"), window("h3")))
	down := StartMaintenance(machine("h1"))
	runApplyCases(t, []applyCase{
		{name: "schedule", ops: ops(scheduled), check: func(t *testing.T, s *State) {
			if len(s.Machines()) != 3 || len(s.Schedule().GetWindows()) != 2 {
				t.Fatalf("machines %v schedule %v", s.Machines(), s.Schedule())
			}
			if m, _ := s.Machine(machine("H2")); m.GetMode() != Machine_DRAINING {
				t.Fatalf("h2 = %v", m)
			}
		}},
		{name: "schedule empty window", ops: ops(UpdateSchedule(schedule(window()))), want: ErrInvalid},
		{name: "schedule machine twice", ops: ops(UpdateSchedule(schedule(window("h1"), window("H1")))), want: ErrInvalid},
		{name: "schedule bad IP", ops: ops(UpdateSchedule(schedule(&maintenance.Window{
			MachineIds:     []*mesos.MachineID{{Ip: proto.String("1.2.3")}},
			Unavailability: &mesos.Unavailability{Start: TimeInfo(t0)}}))), want: ErrInvalid},
		{name: "schedule empty machine ID", ops: ops(UpdateSchedule(schedule(&maintenance.Window{
			MachineIds:     []*mesos.MachineID{{}},
			Unavailability: &mesos.Unavailability{Start: TimeInfo(t0)}}))), want: ErrInvalid},
		{name: "reschedule keeps down, drops draining", setup: ops(scheduled, down), ops: ops(UpdateSchedule(schedule(window("h1")))),
			check: func(t *testing.T, s *State) {
				if m, _ := s.Machine(machine("h1")); len(s.Machines()) != 1 || m.GetMode() != Machine_DOWN {
					t.Fatalf("machines = %v", s.Machines())
				}
			}},
		{name: "unschedule down machine", setup: ops(scheduled, down), ops: ops(UpdateSchedule(schedule(window("h2")))), want: ErrConflict},
		{name: "start", setup: ops(scheduled), ops: ops(down), check: func(t *testing.T, s *State) {
			if m, _ := s.Machine(machine("h1")); m.GetMode() != Machine_DOWN {
				t.Fatalf("h1 = %v", m)
			}
		}},
		{name: "start unscheduled", setup: ops(scheduled), ops: ops(StartMaintenance(machine("h9"))), want: ErrNotFound},
		{name: "start down", setup: ops(scheduled, down), ops: ops(down), want: ErrConflict},
		{name: "start nothing", ops: ops(StartMaintenance()), want: ErrInvalid},
		{name: "start same machine twice", setup: ops(scheduled), ops: ops(StartMaintenance(machine("h1"), machine("h1"))), want: ErrInvalid},
		{name: "stop", setup: ops(scheduled, down), ops: ops(StopMaintenance(machine("h1"))), check: func(t *testing.T, s *State) {
			if _, ok := s.Machine(machine("h1")); ok || len(s.Machines()) != 2 {
				t.Fatalf("machines = %v", s.Machines())
			}
			if ws := s.Schedule().GetWindows(); len(ws) != 2 || len(ws[0].GetMachineIds()) != 1 {
				t.Fatalf("schedule = %v", s.Schedule())
			}
		}},
		{name: "stop drops empty window", setup: ops(scheduled, StartMaintenance(machine("h3"))), ops: ops(StopMaintenance(machine("h3"))),
			check: func(t *testing.T, s *State) {
				if ws := s.Schedule().GetWindows(); len(ws) != 1 {
					t.Fatalf("schedule = %v", s.Schedule())
				}
			}},
		{name: "stop draining", setup: ops(scheduled), ops: ops(StopMaintenance(machine("h1"))), want: ErrConflict},
	})
}

func TestValueOperations(t *testing.T) {
	put := Put("apps", "/a", []byte("1"))
	runApplyCases(t, []applyCase{
		{name: "put", ops: ops(put), check: func(t *testing.T, s *State) {
			if kv, ok := s.Get("apps", "/a"); !ok || string(kv.GetValue()) != "1" || kv.GetVersion() != 1000 {
				t.Fatalf("apps//a = %v", kv)
			}
		}},
		{name: "put empty namespace", ops: ops(Put("", "k", nil)), want: ErrInvalid},
		{name: "put empty key", ops: ops(Put("ns", "", nil)), want: ErrInvalid},
		{name: "put too large", ops: ops(Put("ns", "k", make([]byte, MaxValueSize+1))), want: ErrInvalid},
		{name: "create", ops: ops(PutIfVersion("apps", "/a", nil, 0))},
		{name: "create existing", setup: ops(put), ops: ops(PutIfVersion("apps", "/a", nil, 0)), want: ErrConflict},
		{name: "compare and set", setup: ops(put), ops: ops(PutIfVersion("apps", "/a", []byte("2"), 1)), check: func(t *testing.T, s *State) {
			if kv, _ := s.Get("apps", "/a"); string(kv.GetValue()) != "2" {
				t.Fatalf("apps//a = %v", kv)
			}
		}},
		{name: "compare and set stale", setup: ops(put, put), ops: ops(PutIfVersion("apps", "/a", []byte("2"), 1)), want: ErrConflict},
		{name: "delete", setup: ops(put), ops: ops(Delete("apps", "/a")), check: func(t *testing.T, s *State) {
			if len(s.Namespaces()) != 0 {
				t.Fatalf("namespaces = %v", s.Namespaces())
			}
		}},
		{name: "delete absent", ops: ops(Delete("apps", "/a"))},
		{name: "delete stale", setup: ops(put), ops: ops(DeleteIfVersion("apps", "/a", 7)), want: ErrConflict},
		{name: "delete if version", setup: ops(put), ops: ops(DeleteIfVersion("apps", "/a", 1))},
		{name: "multi-key write", ops: ops(Put("apps", "/a", nil), Put("apps", "/b", nil), Put("deployments", "d1", nil)),
			check: func(t *testing.T, s *State) {
				if len(s.List("apps", "/")) != 2 || len(s.Namespaces()) != 2 {
					t.Fatalf("state %v", s)
				}
			}},
		{name: "multi-key write fails whole", setup: ops(put), ops: ops(Put("apps", "/b", nil), PutIfVersion("apps", "/a", nil, 0)), want: ErrConflict},
	})
}

func TestListByPrefix(t *testing.T) {
	s := stateAfter(t, Put("apps", "/b/2", nil), Put("apps", "/a", nil), Put("apps", "/b/1", nil), Put("other", "/b/3", nil))
	var keys []string
	for _, kv := range s.List("apps", "/b/") {
		keys = append(keys, kv.GetKey())
	}
	if got := strings.Join(keys, " "); got != "/b/1 /b/2" {
		t.Fatalf("List(apps, /b/) = %s", got)
	}
	if len(s.List("none", "")) != 0 {
		t.Fatal("unknown namespace lists keys")
	}
}

// TestTransactionsAreIndependent: in one entry a failed transaction leaves
// no trace (even in maps it cloned), and the next one still applies.
func TestTransactionsAreIndependent(t *testing.T) {
	prev := stateAfter(t, Put("ns", "x", []byte("x")), AdmitAgent(testAgent("a1")))
	prevBytes, _ := MarshalState(prev)
	next, errs := applyTxns(t, prev, 10,
		ops(Put("ns", "y", nil), AdmitAgent(testAgent("a2")), AdmitAgent(testAgent("a1"))), // fails on its last op
		ops(Put("ns", "z", nil)),
		ops(AdmitAgent(testAgent("a3"))),
	)
	if !errors.Is(errs[0], ErrConflict) || errs[1] != nil || errs[2] != nil {
		t.Fatalf("verdicts = %v", errs)
	}
	if b, _ := MarshalState(prev); string(b) != string(prevBytes) {
		t.Fatal("the previous state was modified")
	}
	if _, ok := next.Get("ns", "y"); ok {
		t.Error("ns/y of the failed transaction is present")
	}
	if _, ok := next.Agent("a2"); ok {
		t.Error("agent a2 of the failed transaction is present")
	}
	if _, ok := next.Get("ns", "z"); !ok || len(next.Agents()) != 2 || next.Index() != 10 {
		t.Errorf("next = %v", next)
	}
	if _, ok := prev.Get("ns", "z"); ok {
		t.Error("ns/z leaked into the previous state")
	}
}

func TestOpErrorMessage(t *testing.T) {
	s := stateAfter(t, AdmitAgent(testAgent("a1")))
	_, errs := applyTxns(t, s, 5, ops(AdmitAgent(testAgent("a1"))))
	const want = `registry: admit_agent: agent "a1" is already admitted`
	if errs[0] == nil || errs[0].Error() != want {
		t.Fatalf("error = %v, want %s", errs[0], want)
	}
}
