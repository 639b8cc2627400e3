package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestCommandTask is the basic promise, in both encodings: a framework
// written against the HTTP API subscribes, launches `echo hello`, sees
// STARTING → RUNNING → FINISHED (acknowledging each), and reads the
// output through the agent's /files/read.
// executorModes are the two ways an agent runs command executors: in its
// executor host (the default) and as a process each.
var executorModes = []struct {
	name       string
	agentFlags []string
}{{"host", nil}, {"process", []string{"--executor_host=false"}}}

// startClusterIn starts a master and one agent on 127.0.0.2 with the
// given agent flags.
func startClusterIn(t *testing.T, agentFlags []string) *cluster {
	c := startClusterWith(t, nil)
	c.agents = append(c.agents, c.startAgent(t, "agent1", "127.0.0.2", t.TempDir(), agentFlags...))
	return c
}

func TestCommandTask(t *testing.T) {
	for _, mode := range executorModes {
		t.Run(mode.name, func(t *testing.T) { testCommandTask(t, startClusterIn(t, mode.agentFlags)) })
	}
}

func testCommandTask(t *testing.T, c *cluster) {
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			s := schedtest.Subscribe(t, c.master, enc, schedtest.FrameworkInfo("e2e-"+enc.String()))
			offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
			s.Launch(offer, schedtest.CommandTask("hello", offer, "echo hello"))

			for _, want := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
				st := s.NextUpdate()
				if st.GetState() != want {
					t.Fatalf("got %v (%s), want %v", st.GetState(), st.GetMessage(), want)
				}
				if len(st.GetUuid()) != 16 || st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
					t.Fatalf("update %v: uuid %x, source %v", want, st.GetUuid(), st.GetSource())
				}
				s.Ack(st)
			}
			out := readSandboxFile(t, offer, s.FrameworkID, "hello", "stdout")
			if !strings.Contains(out, "hello\n") {
				t.Fatalf("stdout %q does not contain hello", out)
			}
		})
	}
}

// readSandboxFile reads a file of a task's latest run through the agent's
// /files/read, using the virtual path Mesos tools use.
func readSandboxFile(t *testing.T, offer *mesos.Offer, frameworkID, executorID, name string) string {
	t.Helper()
	addr := offer.GetUrl().GetAddress()
	path := fmt.Sprintf("/frameworks/%s/executors/%s/runs/latest/%s", frameworkID, executorID, name)
	u := fmt.Sprintf("http://%s:%d/files/read?offset=0&length=65536&path=%s", addr.GetIp(), addr.GetPort(), url.QueryEscape(path))
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body := schedtest.ReadBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	var out struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return out.Data
}

// TestKillWithinGracePeriod: a running `sleep 600` is killed with
// TASK_KILLED within the default 3 s grace period (sleep dies on SIGTERM).
func TestKillWithinGracePeriod(t *testing.T) {
	for _, mode := range executorModes {
		t.Run(mode.name, func(t *testing.T) { testKillWithinGracePeriod(t, startClusterIn(t, mode.agentFlags)) })
	}
}

func testKillWithinGracePeriod(t *testing.T, c *cluster) {
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("kill"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, schedtest.CommandTask("sleeper", offer, "sleep 600"))
	waitForState(t, s, "sleeper", mesos.TaskState_TASK_RUNNING)

	killed := time.Now()
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("sleeper")}, AgentId: offer.GetAgentId()}})
	st := waitForState(t, s, "sleeper", mesos.TaskState_TASK_KILLED)
	if took := time.Since(killed); took > 3*time.Second {
		t.Fatalf("TASK_KILLED after %s, beyond the 3 s grace period", took)
	}
	if st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %v", st.GetSource())
	}
}

// waitForState acknowledges updates of a task until it reaches state.
func waitForState(t *testing.T, s *schedtest.Scheduler, taskID string, state mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	for {
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetTaskId().GetValue() != taskID {
			continue
		}
		if st.GetState() == state {
			return st
		}
		if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %v (%s) waiting for %v", taskID, st.GetState(), st.GetMessage(), state)
		}
	}
}

// waitForAll waits until every one of taskIDs has reached state, in whatever
// order their updates arrive, acknowledging all.
func waitForAll(t *testing.T, s *schedtest.Scheduler, state mesos.TaskState, taskIDs ...string) {
	t.Helper()
	pending := make(map[string]bool, len(taskIDs))
	for _, id := range taskIDs {
		pending[id] = true
	}
	for len(pending) > 0 {
		st := s.NextUpdate()
		s.Ack(st)
		id := st.GetTaskId().GetValue()
		if !pending[id] {
			continue
		}
		if st.GetState() == state {
			delete(pending, id)
		} else if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %v (%s) waiting for %v", id, st.GetState(), st.GetMessage(), state)
		}
	}
}

// TestReconcile: implicit reconciliation reports every task the master
// holds; explicit reconciliation follows the table of reference §4.
func TestReconcile(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("reconcile"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, schedtest.CommandTask("r1", offer, "sleep 600"))
	waitForState(t, s, "r1", mesos.TaskState_TASK_RUNNING)

	s.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{}})
	st := s.NextUpdate()
	assertReconciled(t, st, "r1", mesos.TaskState_TASK_RUNNING)

	task := func(id string, agent *mesos.AgentID) *sched.Call_Reconcile_Task {
		return &sched.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: agent}
	}
	cases := []struct {
		task *sched.Call_Reconcile_Task
		want mesos.TaskState
	}{
		{task("r1", offer.GetAgentId()), mesos.TaskState_TASK_RUNNING},
		{task("never-launched", offer.GetAgentId()), mesos.TaskState_TASK_LOST}, // GONE, as LOST: not partition-aware
		{task("never-launched", &mesos.AgentID{Value: proto.String("no-such-agent")}), mesos.TaskState_TASK_LOST},
	}
	for _, tc := range cases {
		s.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{
			Tasks: []*sched.Call_Reconcile_Task{tc.task}}})
		assertReconciled(t, s.NextUpdate(), tc.task.GetTaskId().GetValue(), tc.want)
	}

	// A partition-aware framework sees the table's own states.
	info := schedtest.FrameworkInfo("reconcile-aware")
	info.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
	pa := schedtest.Subscribe(t, c.master, wire.JSON, info)
	for _, tc := range []struct {
		task *sched.Call_Reconcile_Task
		want mesos.TaskState
	}{
		{task("x", offer.GetAgentId()), mesos.TaskState_TASK_GONE},
		{task("x", &mesos.AgentID{Value: proto.String("no-such-agent")}), mesos.TaskState_TASK_UNKNOWN},
		{task("x", nil), mesos.TaskState_TASK_UNKNOWN},
	} {
		pa.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{
			Tasks: []*sched.Call_Reconcile_Task{tc.task}}})
		assertReconciled(t, pa.NextUpdate(), "x", tc.want)
	}
}

func assertReconciled(t *testing.T, st *mesos.TaskStatus, taskID string, want mesos.TaskState) {
	t.Helper()
	if st.GetTaskId().GetValue() != taskID || st.GetState() != want {
		t.Fatalf("reconciliation of %s: got %s %v, want %v", taskID, st.GetTaskId().GetValue(), st.GetState(), want)
	}
	if st.GetSource() != mesos.TaskStatus_SOURCE_MASTER || st.GetReason() != mesos.TaskStatus_REASON_RECONCILIATION || st.Uuid != nil {
		t.Fatalf("reconciliation update must come from the master without uuid: %v", st)
	}
}

// TestDeclineFilter: DECLINE with refuse_seconds hides the agent from that
// framework for that long, and not from other frameworks.
func TestDeclineFilter(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("decliner"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	const refuse = 2 * time.Second
	declined := time.Now()
	s.Decline(refuse.Seconds(), offer)

	other := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("other"))
	// The other framework steps aside for long enough to leave the agent
	// to the first one once its filter expires.
	other.Decline(600, other.Next(sched.Event_OFFERS).GetOffers().GetOffers()...)
	again := s.Next(sched.Event_OFFERS)
	if waited := time.Since(declined); waited < refuse {
		t.Fatalf("declined agent re-offered after %s, refuse_seconds was %s", waited, refuse)
	}
	if again.GetOffers().GetOffers()[0].GetAgentId().GetValue() != offer.GetAgentId().GetValue() {
		t.Fatalf("unexpected agent in re-offer")
	}
}

// TestFrameworkReconnectKeepsTask: a framework that drops its stream and
// re-subscribes with its framework_id before failover_timeout keeps its
// running task.
func TestFrameworkReconnectKeepsTask(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	info := schedtest.FrameworkInfo("reconnect")
	info.FailoverTimeout = proto.Float64(60)
	s := schedtest.Subscribe(t, c.master, wire.Protobuf, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, schedtest.CommandTask("survivor", offer, "sleep 600"))
	running := waitForState(t, s, "survivor", mesos.TaskState_TASK_RUNNING)
	s.Close()

	info.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	s2 := schedtest.Subscribe(t, c.master, wire.Protobuf, info)
	if s2.FrameworkID != s.FrameworkID {
		t.Fatalf("re-subscribed as %s, want %s", s2.FrameworkID, s.FrameworkID)
	}
	s2.MustCall(&sched.Call{Type: sched.Call_RECONCILE.Enum(), Reconcile: &sched.Call_Reconcile{
		Tasks: []*sched.Call_Reconcile_Task{{TaskId: running.GetTaskId(), AgentId: running.GetAgentId()}}}})
	assertReconciled(t, s2.NextUpdate(), "survivor", mesos.TaskState_TASK_RUNNING)
	if _, ok := s2.NextWithin(500*time.Millisecond, sched.Event_UPDATE); ok {
		t.Fatalf("unexpected task update after re-subscribing")
	}
}
