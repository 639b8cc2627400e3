package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
)

// fakeMaster speaks the master side of the agent protocol: it accepts
// SUBSCRIBE (answering SUBSCRIBED on a RecordIO stream), sends the events a
// test queues, records every other call, and can acknowledge updates by
// itself.
type fakeMaster struct {
	t       testing.TB
	srv     *httptest.Server
	agentID string
	ping    float64 // ping_interval_seconds in SUBSCRIBED

	events     chan *protocol.AgentEvent
	calls      chan *protocol.AgentCall
	subscribes chan *protocol.AgentCall

	// held are the calls a wait for one kind (nextUpdate, nextCallOf)
	// passed over, in arrival order, for the next wait. The agent's calls
	// of different kinds are not ordered among themselves (EXECUTOR_EXITED
	// can overtake an update that waits for its predecessor's ack), so a
	// wait for one kind must never throw another away.
	heldMu sync.Mutex
	held   []*protocol.AgentCall

	mu       sync.Mutex
	streamID string
	streams  int
	autoAck  bool
	dropNext bool // fail the next UPDATE with 403 (stale stream)
}

func newFakeMaster(t testing.TB) *fakeMaster {
	m := &fakeMaster{
		t:          t,
		agentID:    "agent-S0",
		ping:       15,
		events:     make(chan *protocol.AgentEvent, 4096),
		calls:      make(chan *protocol.AgentCall, 4096),
		subscribes: make(chan *protocol.AgentCall, 16),
	}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

// addr is the master's host:port.
func (m *fakeMaster) addr() string { return m.srv.Listener.Addr().String() }

func (m *fakeMaster) setAutoAck(on bool) {
	m.mu.Lock()
	m.autoAck = on
	m.mu.Unlock()
}

func (m *fakeMaster) send(ev *protocol.AgentEvent) { m.events <- ev }

func (m *fakeMaster) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != agentAPIPath || r.Header.Get("Content-Type") != wire.MediaProtobuf {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := &protocol.AgentCall{}
	if err := proto.Unmarshal(body, call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if call.GetType() == protocol.AgentCall_SUBSCRIBE {
		m.stream(w, r, call)
		return
	}
	m.mu.Lock()
	stale := r.Header.Get("Mesos-Stream-Id") != m.streamID || call.GetAgentId().GetValue() != m.agentID
	if m.dropNext && call.GetType() == protocol.AgentCall_UPDATE {
		m.dropNext, stale = false, true
	}
	autoAck := m.autoAck
	m.mu.Unlock()
	if stale {
		http.Error(w, "stale stream", http.StatusForbidden)
		return
	}
	// A batch of updates is recorded as the single-update calls it merges.
	calls := []*protocol.AgentCall{call}
	if call.GetType() == protocol.AgentCall_UPDATE && len(call.GetUpdates()) > 0 {
		calls = calls[:0]
		for _, u := range call.GetUpdates() {
			calls = append(calls, &protocol.AgentCall{Type: call.Type, AgentId: call.AgentId, Update: u})
		}
	}
	for _, c := range calls {
		m.calls <- c
		if u := c.GetUpdate(); autoAck && u != nil && len(u.GetStatus().GetUuid()) > 0 {
			m.events <- ackEvent(u)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func (m *fakeMaster) stream(w http.ResponseWriter, r *http.Request, call *protocol.AgentCall) {
	m.mu.Lock()
	m.streams++
	m.streamID = fmt.Sprintf("stream-%d", m.streams)
	id := m.streamID
	m.mu.Unlock()
	m.subscribes <- call
	w.Header().Set("Content-Type", wire.MediaProtobuf)
	w.Header().Set("Mesos-Stream-Id", id)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	write := func(ev *protocol.AgentEvent) bool {
		payload, _ := proto.Marshal(ev)
		if _, err := w.Write(recordio.Append(nil, payload)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	subscribed := &protocol.AgentEvent{
		Type: protocol.AgentEvent_SUBSCRIBED.Enum(),
		Subscribed: &protocol.AgentEvent_Subscribed{
			AgentId:             &mesos.AgentID{Value: proto.String(m.agentID)},
			MasterInfo:          &mesos.MasterInfo{Id: proto.String("master-1"), Ip: proto.Uint32(0), Port: proto.Uint32(5050), Hostname: proto.String("master.test")},
			PingIntervalSeconds: proto.Float64(m.ping),
		},
	}
	if !write(subscribed) {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-m.events:
			m.mu.Lock()
			current := m.streamID == id
			m.mu.Unlock()
			if !current {
				m.events <- ev // a newer stream takes it
				return
			}
			if !write(ev) {
				return
			}
		}
	}
}

// nextCall waits for the next recorded call (held calls first).
func (m *fakeMaster) nextCall(timeout time.Duration) *protocol.AgentCall {
	m.t.Helper()
	return m.nextMatching(func(*protocol.AgentCall) bool { return true }, "call", timeout)
}

// nextUpdate waits for the next UPDATE; other calls are held for later.
func (m *fakeMaster) nextUpdate(timeout time.Duration) *protocol.AgentCall_Update {
	m.t.Helper()
	return m.nextCallOf(protocol.AgentCall_UPDATE, timeout).GetUpdate()
}

// nextCallOf waits for the next call of a type; other calls are held for
// later.
func (m *fakeMaster) nextCallOf(typ protocol.AgentCall_Type, timeout time.Duration) *protocol.AgentCall {
	m.t.Helper()
	return m.nextMatching(func(c *protocol.AgentCall) bool { return c.GetType() == typ }, typ.String(), timeout)
}

// nextMatching returns the oldest call, held or new, that match accepts;
// the new calls it passes over are held.
func (m *fakeMaster) nextMatching(match func(*protocol.AgentCall) bool, what string, timeout time.Duration) *protocol.AgentCall {
	m.t.Helper()
	if c := m.takeHeld(match); c != nil {
		return c
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case c := <-m.calls:
			if match(c) {
				return c
			}
			m.hold(c)
		case <-deadline.C:
			m.t.Fatalf("no %s from the agent within %v", what, timeout)
			return nil
		}
	}
}

func (m *fakeMaster) takeHeld(match func(*protocol.AgentCall) bool) *protocol.AgentCall {
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	for i, c := range m.held {
		if match(c) {
			m.held = slices.Delete(m.held, i, i+1)
			return c
		}
	}
	return nil
}

func (m *fakeMaster) hold(c *protocol.AgentCall) {
	m.heldMu.Lock()
	m.held = append(m.held, c)
	m.heldMu.Unlock()
}

// holdsUpdate reports whether an UPDATE has arrived that no wait has taken
// yet; it does not block.
func (m *fakeMaster) holdsUpdate() bool {
	for drained := false; !drained; {
		select {
		case c := <-m.calls:
			m.hold(c)
		default:
			drained = true
		}
	}
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	return slices.ContainsFunc(m.held, func(c *protocol.AgentCall) bool {
		return c.GetType() == protocol.AgentCall_UPDATE
	})
}

func (m *fakeMaster) nextSubscribe(timeout time.Duration) *protocol.AgentCall {
	m.t.Helper()
	select {
	case c := <-m.subscribes:
		return c
	case <-time.After(timeout):
		m.t.Fatalf("no SUBSCRIBE within %v", timeout)
		return nil
	}
}

func ackEvent(u *protocol.AgentCall_Update) *protocol.AgentEvent {
	return &protocol.AgentEvent{
		Type: protocol.AgentEvent_ACKNOWLEDGE.Enum(),
		Acknowledge: &protocol.AgentEvent_Acknowledge{
			FrameworkId: u.GetFrameworkId(), TaskId: u.GetStatus().GetTaskId(), Uuid: u.GetStatus().GetUuid(),
		},
	}
}

func testFramework(id string) *mesos.FrameworkInfo {
	name := "root"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &mesos.FrameworkInfo{
		Id: &mesos.FrameworkID{Value: proto.String(id)}, Name: proto.String("test framework"),
		User: proto.String(name), Checkpoint: proto.Bool(true),
	}
}

func commandTask(id, command string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:    proto.String("task " + id),
		TaskId:  &mesos.TaskID{Value: proto.String(id)},
		AgentId: &mesos.AgentID{Value: proto.String("agent-S0")},
		Resources: []*mesos.Resource{
			scalarResource("cpus", 0.5, nil), scalarResource("mem", 64, nil),
		},
		Command: &mesos.CommandInfo{Value: proto.String(command)},
	}
}

func runTaskEvent(fw *mesos.FrameworkInfo, t *mesos.TaskInfo) *protocol.AgentEvent {
	return &protocol.AgentEvent{
		Type:    protocol.AgentEvent_RUN_TASK.Enum(),
		RunTask: &protocol.AgentEvent_RunTask{Framework: fw, Task: t},
	}
}

func killTaskEvent(fid, tid string) *protocol.AgentEvent {
	return &protocol.AgentEvent{
		Type: protocol.AgentEvent_KILL_TASK.Enum(),
		KillTask: &protocol.AgentEvent_KillTask{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)},
			TaskId:      &mesos.TaskID{Value: proto.String(tid)},
		},
	}
}

// testLogger discards the agent's logs unless AGORA_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("AGORA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startAgent runs an agent against masters until the test ends.
func startAgent(t testing.TB, cfg Config) *Agent {
	t.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "agent.test"
	}
	if cfg.Resources == "" {
		cfg.Resources = "cpus:4;mem:4096;disk:10240;ports:[31000-32000]"
	}
	if cfg.RegistrationBackoff == 0 {
		cfg.RegistrationBackoff = 10 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	if a.Addr() == "" {
		t.Fatal("agent did not listen")
	}
	return a
}
