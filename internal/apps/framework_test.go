package apps

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apps/spec"
	"github.com/agoraproject/agora/internal/apps/store"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness drives a Framework's loop logic directly, without goroutines
// or a master: calls are captured instead of sent.
type harness struct {
	t     *testing.T
	f     *Framework
	clock *fakeClock
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{Masters: []string{"127.0.0.1:1"}, Store: store.NewMem(), Clock: clock, Seed: 7, User: "root",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.subscribed, f.suppressed = true, true
	return &harness{t: t, f: f, clock: clock}
}

// turn ends a loop turn and returns the names of the calls it made.
func (h *harness) turn() []string {
	h.f.endTurn(context.Background())
	var names []string
	for {
		select {
		case batch := <-h.f.calls:
			for _, c := range batch {
				names = append(names, c.name)
			}
		default:
			return names
		}
	}
}

// deploy commits an app.
func (h *harness) deploy(body string) *marathon.App {
	h.t.Helper()
	def, _, err := h.f.decodeApp([]byte(body), "")
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.f.commit(context.Background(), change{upsert: []*marathon.App{def}, force: true}); err != nil {
		h.t.Fatal(err)
	}
	return h.f.apps[def.ID].def
}

func offer(id, host string) *mesos.Offer {
	scalar := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	}
	return &mesos.Offer{Id: &mesos.OfferID{Value: proto.String(id)}, AgentId: &mesos.AgentID{Value: proto.String("agent-" + host)},
		Hostname: proto.String(host), Resources: []*mesos.Resource{scalar("cpus", 8), scalar("mem", 8192),
			{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{
				{Begin: proto.Uint64(31000), End: proto.Uint64(31099)}}}}}}
}

func status(in *instance, state mesos.TaskState) *mesos.TaskStatus {
	return &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(in.TaskID)}, State: state.Enum(),
		AgentId: &mesos.AgentID{Value: proto.String(in.AgentID)}, Uuid: []byte("u")}
}

func (h *harness) instances(appID string) []*instance { return h.f.sortedInstances(appID) }

func count(names []string, prefix string) int {
	n := 0
	for _, name := range names {
		if strings.HasPrefix(name, prefix) {
			n++
		}
	}
	return n
}

func TestIdleFrameworkSuppressesAndDeclinesLong(t *testing.T) {
	h := newHarness(t, nil)
	h.f.suppressed = false
	if calls := h.turn(); count(calls, "SUPPRESS") != 1 {
		t.Errorf("idle turn made %v, want SUPPRESS", calls)
	}
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	if got := h.f.pending; len(got) != 0 {
		t.Fatalf("pending after turn: %v", got)
	}
	// The decline went out with DeclineOfferDuration: check the call
	// is a decline (the filter is set from config, 120 s).
	h.f.onOffers([]*mesos.Offer{offer("o2", "a")})
	if len(h.f.pending) != 1 || h.f.pending[0].name != "DECLINE" {
		t.Errorf("unused offer: %v", h.f.pending)
	}
}

func TestDemandRevivesAndOffersLaunch(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/web","cmd":"x","instances":3,"cpus":1,"mem":64}`)
	calls := h.turn()
	if count(calls, "REVIVE") != 1 {
		t.Fatalf("new demand made %v, want REVIVE", calls)
	}
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	calls = h.turn()
	if count(calls, "LAUNCH") != 1 {
		t.Fatalf("offer with demand made %v", calls)
	}
	for _, in := range h.instances("/web") {
		if in.Condition != condProvisioned || in.Incarnation != 1 || len(in.HostPorts) != 1 || in.Host != "a" {
			t.Errorf("instance after launch: %+v", in)
		}
	}
	if count(calls, "SUPPRESS") != 1 {
		t.Errorf("nothing waits any more, yet the turn made %v (want SUPPRESS)", calls)
	}
}

func TestUnknownTaskIsKilled(t *testing.T) {
	h := newHarness(t, nil)
	sub := h.f.bus.Subscribe("test", marathon.EventUnknownInstanceTerminated)
	h.f.onUpdate(&mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("gone.instance-6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b._app.1")},
		State: mesos.TaskState_TASK_RUNNING.Enum(), Uuid: []byte("u")})
	calls := h.turn()
	if count(calls, "KILL unknown") != 1 || count(calls, "ACKNOWLEDGE") != 1 {
		t.Errorf("unknown running task: %v", calls)
	}
	select {
	case ev := <-sub.Events():
		if !strings.Contains(string(ev.Data), `"runSpecId":"/gone"`) {
			t.Errorf("event %s", ev.Data)
		}
	default:
		t.Error("no unknown_instance_terminated_event")
	}
}

// TestFailureBacksOffAndRelaunchesSameInstance: a failed task's instance
// is scheduled again and waits backoffSeconds before it can launch; its
// next task is the next incarnation.
func TestFailureBacksOffAndRelaunchesSameInstance(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/crash","cmd":"x","instances":1,"cpus":1,"mem":64,"backoffSeconds":10,"backoffFactor":2}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	in := h.instances("/crash")[0]
	h.f.onUpdate(status(in, mesos.TaskState_TASK_FAILED))
	h.turn()
	if in.Condition != condScheduled || h.f.lastFailure["/crash"] == nil {
		t.Fatalf("after TASK_FAILED: %+v", in)
	}
	h.f.onOffers([]*mesos.Offer{offer("o2", "a")})
	if calls := h.turn(); count(calls, "LAUNCH") != 0 {
		t.Fatalf("launched inside the backoff: %v", calls)
	}
	h.clock.advance(10 * time.Second)
	h.f.onOffers([]*mesos.Offer{offer("o3", "a")})
	if calls := h.turn(); count(calls, "LAUNCH") != 1 {
		t.Fatalf("not launched after the backoff: %v", calls)
	}
	if in.Incarnation != 2 || !strings.HasSuffix(in.TaskID, "._app.2") {
		t.Errorf("relaunch is not the next incarnation: %s", in.TaskID)
	}
	h.f.onUpdate(status(in, mesos.TaskState_TASK_FAILED))
	key := backoffKey{"/crash", h.f.apps["/crash"].def.VersionInfo.LastConfigChangeAt}
	if d := h.f.delays[key]; d.Current != 20*time.Second {
		t.Errorf("second delay %v, want 20 s", d.Current)
	}
}

func TestUnreachableIsReplacedAtOnceByDefault(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/u","cmd":"x","instances":1,"cpus":1,"mem":64}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	in := h.instances("/u")[0]
	h.f.onUpdate(status(in, mesos.TaskState_TASK_RUNNING))
	h.f.onUpdate(status(in, mesos.TaskState_TASK_UNREACHABLE))
	calls := h.turn()
	ins := h.instances("/u")
	if len(ins) != 1 || ins[0].ID == in.ID || !ins[0].scheduled() {
		t.Errorf("after TASK_UNREACHABLE with {0,0}: %+v", ins)
	}
	if count(calls, "KILL") != 1 {
		t.Errorf("the expunged task is not killed (for when it returns): %v", calls)
	}
}

func TestUnreachableStrategyWaits(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/u","cmd":"x","instances":1,"cpus":1,"mem":64,"unreachableStrategy":{"inactiveAfterSeconds":60,"expungeAfterSeconds":120}}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	in := h.instances("/u")[0]
	h.f.onUpdate(status(in, mesos.TaskState_TASK_UNREACHABLE))
	h.f.tick(h.clock.Now())
	h.turn()
	if len(h.instances("/u")) != 1 || in.Condition != condUnreachable {
		t.Fatalf("replaced before inactiveAfterSeconds: %+v", h.instances("/u"))
	}
	h.clock.advance(61 * time.Second)
	h.f.tick(h.clock.Now())
	h.turn()
	if len(h.instances("/u")) != 2 || in.Condition != condUnreachableInactive {
		t.Fatalf("no replacement after inactiveAfterSeconds: %+v", h.instances("/u"))
	}
	// It comes back: the app now has one too many; the scale check kills one.
	h.f.onUpdate(status(in, mesos.TaskState_TASK_RUNNING))
	h.clock.advance(6 * time.Minute)
	h.f.tick(h.clock.Now())
	h.turn()
	live := 0
	for _, i := range h.instances("/u") {
		if i.Goal == goalRunning {
			live++
		}
	}
	if live != 1 {
		t.Errorf("%d instances with goal Running after the lost one returned, want 1", live)
	}
}

func TestOverdueStagingIsKilledAndKillsAreRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/slow","cmd":"x","instances":1,"cpus":1,"mem":64}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	in := h.instances("/slow")[0]
	h.f.onUpdate(status(in, mesos.TaskState_TASK_STAGING))
	h.clock.advance(5*time.Minute + time.Second)
	h.f.tick(h.clock.Now())
	if calls := h.turn(); count(calls, "KILL") != 1 {
		t.Fatalf("overdue staging task not killed: %v", calls)
	}
	h.clock.advance(31 * time.Second)
	h.f.tick(h.clock.Now())
	if calls := h.turn(); count(calls, "KILL") != 1 {
		t.Errorf("kill not retried after 30 s: %v", calls)
	}
}

// TestKillAndScaleSentencesTheVictims: DELETE ...?scale=true lowers the
// count and the deployment kills exactly the chosen task.
func TestKillAndScaleSentencesTheVictims(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/k","cmd":"x","instances":3,"cpus":1,"mem":64}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	for _, in := range h.instances("/k") {
		h.f.onUpdate(status(in, mesos.TaskState_TASK_RUNNING))
	}
	h.turn()
	victim := h.instances("/k")[1]
	d, err := h.f.killAndScale(&httpRequestStub, map[string][]*instance{"/k": {victim}}, true)
	if err != nil {
		t.Fatal(err)
	}
	calls := h.turn()
	if h.f.apps["/k"].def.Instances != 2 || len(d.Sentenced["/k"]) != 1 {
		t.Fatalf("kill&scale: instances %d, sentenced %v", h.f.apps["/k"].def.Instances, d.Sentenced)
	}
	if count(calls, "KILL "+victim.TaskID) != 1 || victim.Goal != goalDecommissioned {
		t.Errorf("victim not killed: %v", calls)
	}
}

// TestDeploymentTimeoutRollsBack: with AGORA_DEPLOYMENT_TIMEOUT_SECONDS a
// deployment that cannot finish is failed and reverted.
func TestDeploymentTimeoutRollsBack(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/t","cmd":"v1","instances":1,"cpus":1,"mem":64}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	h.f.onUpdate(status(h.instances("/t")[0], mesos.TaskState_TASK_RUNNING))
	h.turn()
	if len(h.f.deployments) != 0 {
		t.Fatalf("first deployment did not finish: %d left", len(h.f.deployments))
	}
	h.deploy(`{"id":"/t","cmd":"v2","instances":1,"cpus":1,"mem":64,"labels":{"AGORA_DEPLOYMENT_TIMEOUT_SECONDS":"60"}}`)
	h.turn()
	h.clock.advance(61 * time.Second)
	h.f.tick(h.clock.Now())
	h.turn()
	if got := h.f.apps["/t"].def.Cmd; got != "v1" {
		t.Errorf("after the timeout the app runs %q, want the rollback to v1", got)
	}
	if len(h.f.deployments) != 1 {
		t.Fatalf("%d deployments, want the rollback", len(h.f.deployments))
	}
	for _, d := range h.f.deployments {
		if !d.Rollback || d.Timeout != 0 {
			t.Errorf("rollback deployment %+v must have no timeout", d)
		}
	}
}

// TestCountingOldInstancesKeepsUniqueDuringUpgrades: with the opt-in,
// an old instance's host is not offered to a new one.
func TestCountingOldInstancesKeepsUniqueDuringUpgrades(t *testing.T) {
	for _, countOld := range []bool{false, true} {
		h := newHarness(t, func(c *Config) { c.ConstraintsCountOldInstances = countOld })
		h.deploy(`{"id":"/u","cmd":"v1","instances":1,"cpus":1,"mem":64,"constraints":[["hostname","UNIQUE"]]}`)
		h.turn()
		h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
		h.turn()
		h.f.onUpdate(status(h.instances("/u")[0], mesos.TaskState_TASK_RUNNING))
		h.turn()
		h.deploy(`{"id":"/u","cmd":"v2","instances":1,"cpus":1,"mem":64,"constraints":[["hostname","UNIQUE"]]}`)
		h.turn()
		h.f.onOffers([]*mesos.Offer{offer("o2", "a")})
		launched := count(h.turn(), "LAUNCH") == 1
		if launched == countOld {
			t.Errorf("countOld=%v: new instance launched next to the old one = %v", countOld, launched)
		}
	}
}

func TestServicePortsStayOnRestatement(t *testing.T) {
	h := newHarness(t, nil)
	a := h.deploy(`{"id":"/p","cmd":"x","instances":1}`)
	port := spec.ServicePorts(a)[0]
	b := h.deploy(`{"id":"/p","cmd":"x","instances":2}`)
	if spec.ServicePorts(b)[0] != port || b.VersionInfo.LastConfigChangeAt != a.VersionInfo.LastConfigChangeAt {
		t.Errorf("restating with port 0 changed the config: %v → %v, %+v", port, spec.ServicePorts(b), b.VersionInfo)
	}
}

// httpRequestStub is a request for code paths that only read its context.
var httpRequestStub = *mustRequest()

func mustRequest() *http.Request {
	r, _ := http.NewRequest("DELETE", "/v2/apps/k/tasks", nil)
	return r
}

// TestDeploymentWaitsForReadiness: a new instance counts only once its
// readiness check answered one of httpStatusCodesForReady.
func TestDeploymentWaitsForReadiness(t *testing.T) {
	h := newHarness(t, nil)
	h.deploy(`{"id":"/r","cmd":"x","instances":1,"cpus":1,"mem":64,"portDefinitions":[{"port":0,"name":"http"}],
		"readinessChecks":[{"portName":"http","path":"/ready","intervalSeconds":5,"timeoutSeconds":1,"httpStatusCodesForReady":[204]}]}`)
	h.turn()
	h.f.onOffers([]*mesos.Offer{offer("o1", "a")})
	h.turn()
	in := h.instances("/r")[0]
	h.f.onUpdate(status(in, mesos.TaskState_TASK_RUNNING))
	h.turn()
	if len(h.f.deployments) != 1 {
		t.Fatal("deployment finished before readiness")
	}
	h.f.probeReadiness(h.clock.Now())
	rc := h.f.apps["/r"].def.ReadinessChecks[0]
	h.f.onReadiness(in.ID, in.TaskID, rc, 200, "text/plain", "", nil)
	h.turn()
	if len(h.f.deployments) != 1 || in.readiness.ready {
		t.Fatal("200 counted as ready; only 204 is")
	}
	h.f.onReadiness(in.ID, in.TaskID, rc, 204, "text/plain", "", nil)
	h.turn()
	if len(h.f.deployments) != 0 {
		t.Error("deployment still running after the instance became ready")
	}
}
