package master

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
	"github.com/agoraproject/agora/internal/schedtest"
)

// The harness runs a real master on 127.0.0.1 and drives it over HTTP with
// a raw scheduler (net/http only, as a third-party framework would) and a
// fake agent speaking the agent protocol.

const waitFor = 10 * time.Second

// openRegistry opens a single-node registry with short Raft timeouts. A
// registry reopened from its directory must keep its address (the Raft ID).
func openRegistry(t testing.TB, dir string, addr ...string) *registry.Registry {
	t.Helper()
	bind := "127.0.0.1:0"
	if len(addr) > 0 {
		bind = addr[0]
	}
	reg, err := registry.Open(registry.Config{
		BindAddr: bind, DataDir: dir, Bootstrap: true, Logger: quietLogger(),
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg
}

func startMaster(t testing.TB, mutate func(*Config)) *Master {
	t.Helper()
	m := runMaster(t, mutate)
	select {
	case <-m.Leading():
	case <-time.After(waitFor):
		t.Fatal("master did not become leader")
	}
	return m
}

// runMaster starts a master without waiting for it to lead.
func runMaster(t testing.TB, mutate func(*Config)) *Master {
	t.Helper()
	cfg := Config{ListenAddr: "127.0.0.1:0", AllocationInterval: 50 * time.Millisecond, Logger: quietLogger()}
	if mutate != nil {
		mutate(&cfg)
	}
	if cfg.Registry == nil {
		cfg.Registry = openRegistry(t, t.TempDir())
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("master.Run: %v", err)
		}
	})
	return m
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (m *Master) url(path string) string { return "http://" + m.Addr() + path }

func post(t testing.TB, m *Master, path string, body []byte, headers map[string]string) *http.Response {
	t.Helper()
	return schedtest.Post(t, m.Addr(), path, body, headers)
}

func readBody(t testing.TB, resp *http.Response) string { return schedtest.ReadBody(t, resp) }

func frameworkInfo(name string) *mesos.FrameworkInfo { return schedtest.FrameworkInfo(name) }

func subscribe(t testing.TB, m *Master, enc wire.Encoding, info *mesos.FrameworkInfo) *schedtest.Scheduler {
	t.Helper()
	return schedtest.Subscribe(t, m.Addr(), enc, info)
}

func commandTask(id string, offer *mesos.Offer, cmd string) *mesos.TaskInfo {
	return schedtest.CommandTask(id, offer, cmd)
}

// fakeAgent speaks the agent protocol to the master.
type fakeAgent struct {
	t        testing.TB
	m        *Master
	resp     *http.Response
	id       string
	streamID string
	events   chan *protocol.AgentEvent
	// subscribe is the SUBSCRIBE it registered with.
	subscribe *protocol.AgentCall
}

func startFakeAgent(t testing.TB, m *Master, hostname, res string) *fakeAgent {
	t.Helper()
	parsed, err := resources.Parse(res, "*")
	if err != nil {
		t.Fatal(err)
	}
	call := &protocol.AgentCall{
		Type: protocol.AgentCall_SUBSCRIBE.Enum(),
		Subscribe: &protocol.AgentCall_Subscribe{
			AgentInfo: &mesos.AgentInfo{
				Hostname:  proto.String(hostname),
				Port:      proto.Int32(5051),
				Resources: parsed.ToProto(resources.Endpoint),
			},
			Version: proto.String("test"),
		},
	}
	return subscribeFakeAgent(t, m, call)
}

// subscribeFakeAgent opens an agent stream with call and waits for
// SUBSCRIBED.
func subscribeFakeAgent(t testing.TB, m *Master, call *protocol.AgentCall) *fakeAgent {
	t.Helper()
	body, _ := proto.Marshal(call)
	resp := post(t, m, "/agora/v1/agent", body, map[string]string{
		"Content-Type": wire.MediaProtobuf, "Accept": wire.MediaProtobuf,
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent SUBSCRIBE: %d %s", resp.StatusCode, readBody(t, resp))
	}
	a := &fakeAgent{t: t, m: m, resp: resp, streamID: resp.Header.Get("Mesos-Stream-Id"), events: make(chan *protocol.AgentEvent, 1024),
		subscribe: call}
	go a.read()
	t.Cleanup(func() { resp.Body.Close() })
	ev := a.next(protocol.AgentEvent_SUBSCRIBED)
	a.id = ev.GetSubscribed().GetAgentId().GetValue()
	return a
}

// disconnect drops the agent's stream and waits until the master has
// noticed.
func (a *fakeAgent) disconnect() {
	a.t.Helper()
	a.resp.Body.Close()
	deadline := time.Now().Add(waitFor)
	for {
		snap, err := a.m.MetricsSnapshot(a.t.Context())
		if err == nil && len(snap.Agents) == 1 && !snap.Agents[0].Connected {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatal("the master did not notice the agent's disconnection")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reregister subscribes again with the agent's ID, reporting tasks, as a
// restarted agent does.
func (a *fakeAgent) reregister(tasks ...*mesos.Task) *fakeAgent {
	a.t.Helper()
	call := proto.Clone(a.subscribe).(*protocol.AgentCall)
	call.Subscribe.AgentInfo.Id = &mesos.AgentID{Value: proto.String(a.id)}
	call.Subscribe.Tasks = tasks
	return subscribeFakeAgent(a.t, a.m, call)
}

func (a *fakeAgent) read() {
	defer close(a.events)
	r := recordio.NewReader(a.resp.Body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return
		}
		ev := &protocol.AgentEvent{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			a.t.Errorf("decoding agent event: %v", err)
			return
		}
		a.events <- ev
	}
}

func (a *fakeAgent) next(types ...protocol.AgentEvent_Type) *protocol.AgentEvent {
	a.t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-a.events:
			if !ok {
				a.t.Fatalf("agent stream ended while waiting for %v", types)
			}
			for _, want := range types {
				if ev.GetType() == want {
					return ev
				}
			}
		case <-deadline:
			a.t.Fatalf("no agent %v event within %s", types, waitFor)
		}
	}
}

func (a *fakeAgent) call(call *protocol.AgentCall) {
	a.t.Helper()
	call.AgentId = &mesos.AgentID{Value: proto.String(a.id)}
	body, _ := proto.Marshal(call)
	resp := post(a.t, a.m, "/agora/v1/agent", body, map[string]string{
		"Content-Type": wire.MediaProtobuf, "Mesos-Stream-Id": a.streamID,
	})
	if b := readBody(a.t, resp); resp.StatusCode != http.StatusAccepted {
		a.t.Fatalf("agent %s: %d %s", call.GetType(), resp.StatusCode, b)
	}
}

// update sends a status update for a task, as an executor's would arrive.
func (a *fakeAgent) update(frameworkID, taskID string, state mesos.TaskState) *mesos.TaskStatus {
	a.t.Helper()
	uuid := make([]byte, 16)
	rand.Read(uuid)
	status := &mesos.TaskStatus{
		TaskId:     &mesos.TaskID{Value: proto.String(taskID)},
		State:      state.Enum(),
		Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid:       uuid,
		ExecutorId: &mesos.ExecutorID{Value: proto.String(taskID)},
		AgentId:    &mesos.AgentID{Value: proto.String(a.id)},
		Timestamp:  proto.Float64(float64(time.Now().UnixNano()) / 1e9),
	}
	a.call(&protocol.AgentCall{
		Type: protocol.AgentCall_UPDATE.Enum(),
		Update: &protocol.AgentCall_Update{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)},
			Status:      status,
		},
	})
	return status
}
