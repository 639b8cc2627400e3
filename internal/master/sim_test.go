package master

import (
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
)

// fakeClock is a manual clock: timers fire in Advance, in deadline order.
type fakeClock struct {
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool { was := !t.stopped; t.stopped = true; return was }

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}
func (c *fakeClock) Advance(d time.Duration) {
	c.now = c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	var keep []*fakeTimer
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.f()
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

// TestSimulatedMaster drives a master without goroutines or HTTP: an
// agent and a framework subscribe, a task launches and finishes, and a
// failover timeout removes the framework when the fake clock passes it.
func TestSimulatedMaster(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	mem := registry.NewMemory()
	m, err := NewSimulated(Config{Registry: mem.Node("m1"), Clock: clock, ID: "sim", Logger: quietLogger()}, "10.0.0.1:5050")
	if err != nil {
		t.Fatal(err)
	}
	mem.SetLeader("m1")
	m.Elected(true)
	if !m.IsLeading() {
		t.Fatal("simulated master did not lead")
	}
	res, _ := resources.Parse("cpus:2;mem:1024", "*")
	agentConn := &SimAgentConn{}
	sub := &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: &protocol.AgentCall_Subscribe{
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String("a1"), Resources: res.ToProto(resources.Endpoint)}}}
	if err := m.AgentSubscribe(sub, "10.0.0.2", agentConn, "agent-stream"); err != nil {
		t.Fatal(err)
	}
	evs, _, _ := agentConn.Take()
	if len(evs) != 1 || evs[0].GetSubscribed().GetAgentId().GetValue() != "sim-S0" {
		t.Fatalf("agent events %v", evs)
	}
	info := frameworkInfo("sim-fw")
	info.FailoverTimeout = proto.Float64(10)
	fwConn := &SimFrameworkConn{}
	if err := m.Subscribe(&sched.Call{Type: sched.Call_SUBSCRIBE.Enum(), Subscribe: &sched.Call_Subscribe{FrameworkInfo: info}}, fwConn, "fw-stream"); err != nil {
		t.Fatal(err)
	}
	m.Tick()
	fevs, _, _ := fwConn.Take()
	var offer *mesos.Offer
	for _, ev := range fevs {
		if ev.GetType() == sched.Event_OFFERS {
			offer = ev.GetOffers().GetOffers()[0]
		}
	}
	if offer == nil {
		t.Fatalf("no offer in %v", fevs)
	}
	launch := &sched.Call{Type: sched.Call_ACCEPT.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String("sim-0000")},
		Accept: &sched.Call_Accept{OfferIds: []*mesos.OfferID{offer.GetId()}, Operations: []*mesos.Offer_Operation{{
			Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{commandTask("t1", offer, "true")}}}}}}
	if _, err := m.Call(launch, "fw-stream"); err != nil {
		t.Fatal(err)
	}
	evs, _, _ = agentConn.Take()
	if len(evs) != 1 || evs[0].GetType() != protocol.AgentEvent_RUN_TASK {
		t.Fatalf("agent got %v", evs)
	}
	m.FrameworkGone(fwConn)
	clock.Advance(11 * time.Second)
	m.Step()
	evs, _, _ = agentConn.Take()
	if len(evs) != 1 || evs[0].GetType() != protocol.AgentEvent_SHUTDOWN_FRAMEWORK {
		t.Fatalf("after the failover timeout the agent got %v", evs)
	}
	if _, ok := mem.State().CompletedFramework("sim-0000"); !ok {
		t.Fatal("the registry does not record the removed framework")
	}
}
