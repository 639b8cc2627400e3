package scheduler

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
)

// fakeMaster is a scheduler API endpoint written for these tests: it
// answers SUBSCRIBE with a stream (SUBSCRIBED, HEARTBEAT, then whatever
// the test sends) and records every other call.
type fakeMaster struct {
	t        *testing.T
	srv      *http.Server
	addr     string
	mu       sync.Mutex
	subs     []*sched.Call
	calls    []*sched.Call
	streams  chan chan *sched.Event
	streamID string
}

func newFakeMaster(t *testing.T, ip string) *fakeMaster {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMaster{t: t, addr: ln.Addr().String(), streams: make(chan chan *sched.Event, 8), streamID: "stream-1"}
	m.srv = &http.Server{Handler: http.HandlerFunc(m.serve)}
	go m.srv.Serve(ln)
	t.Cleanup(func() { m.srv.Close() })
	return m
}

func (m *fakeMaster) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	enc, _ := wire.ParseContentType(r.Header.Get("Content-Type"))
	call := &sched.Call{}
	if err := enc.Unmarshal(body, call); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if call.GetType() != sched.Call_SUBSCRIBE {
		m.mu.Lock()
		m.calls = append(m.calls, call)
		m.mu.Unlock()
		if r.Header.Get("Mesos-Stream-Id") != m.streamID {
			http.Error(w, "wrong stream", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	m.mu.Lock()
	m.subs = append(m.subs, call)
	m.mu.Unlock()
	id := call.GetSubscribe().GetFrameworkInfo().GetId().GetValue()
	if id == "" {
		id = "fw-1"
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Mesos-Stream-Id", m.streamID)
	w.WriteHeader(http.StatusOK)
	rw := recordio.NewWriter(w)
	send := func(ev *sched.Event) bool {
		b, _ := enc.Marshal(ev)
		if rw.WriteRecord(b) != nil {
			return false
		}
		w.(http.Flusher).Flush()
		return true
	}
	send(&sched.Event{Type: sched.Event_SUBSCRIBED.Enum(), Subscribed: &sched.Event_Subscribed{
		FrameworkId: &mesos.FrameworkID{Value: &id}, HeartbeatIntervalSeconds: proto.Float64(15)}})
	send(&sched.Event{Type: sched.Event_HEARTBEAT.Enum()})
	events := make(chan *sched.Event, 16)
	m.streams <- events
	for {
		select {
		case ev, ok := <-events:
			if !ok || !send(ev) {
				return // the test dropped the stream
			}
		case <-r.Context().Done():
			return
		}
	}
}

func (m *fakeMaster) nextStream() chan *sched.Event {
	m.t.Helper()
	select {
	case s := <-m.streams:
		return s
	case <-time.After(10 * time.Second):
		m.t.Fatal("no SUBSCRIBE reached the fake master")
		return nil
	}
}

// recorder collects events handed to the handler.
type recorder struct{ events chan *sched.Event }

func (r recorder) HandleEvent(_ context.Context, ev *sched.Event) { r.events <- ev }

func (r recorder) next(t *testing.T, typ sched.Event_Type) *sched.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev.GetType() == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event", typ)
		}
	}
}

func startClient(t *testing.T, cfg Config) (*Client, recorder) {
	t.Helper()
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder{events: make(chan *sched.Event, 64)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, rec) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, rec
}

func TestSubscribeCallsAndResubscribe(t *testing.T) {
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := newFakeMaster(t, "127.0.0.1")
			info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("sdk")}
			c, rec := startClient(t, Config{Masters: []string{m.addr}, Framework: info, Encoding: enc})
			stream := m.nextStream()
			rec.next(t, sched.Event_SUBSCRIBED)
			if c.FrameworkID() != "fw-1" {
				t.Fatalf("framework ID %q", c.FrameworkID())
			}
			status := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum(),
				AgentId: &mesos.AgentID{Value: proto.String("a")}, Uuid: make([]byte, 16)}
			stream <- &sched.Event{Type: sched.Event_UPDATE.Enum(), Update: &sched.Event_Update{Status: status}}
			if err := c.Acknowledge(context.Background(), rec.next(t, sched.Event_UPDATE).GetUpdate().GetStatus()); err != nil {
				t.Fatal(err)
			}
			m.mu.Lock()
			ack := m.calls[0]
			m.mu.Unlock()
			if ack.GetType() != sched.Call_ACKNOWLEDGE || ack.GetFrameworkId().GetValue() != "fw-1" {
				t.Fatalf("call %v", ack)
			}

			close(stream) // the master drops the stream
			m.nextStream()
			rec.next(t, sched.Event_SUBSCRIBED)
			m.mu.Lock()
			resub := m.subs[1]
			m.mu.Unlock()
			if resub.GetSubscribe().GetFrameworkInfo().GetId().GetValue() != "fw-1" || resub.GetFrameworkId().GetValue() != "fw-1" {
				t.Fatalf("re-subscribe without the framework ID: %v", resub)
			}
		})
	}
}

func TestFollowsRedirectToLeader(t *testing.T) {
	leader := newFakeMaster(t, "127.0.0.2")
	follower := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+leader.addr)
		w.WriteHeader(http.StatusTemporaryRedirect)
	})}
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	go follower.Serve(ln)
	t.Cleanup(func() { follower.Close() })
	info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("sdk")}
	c, rec := startClient(t, Config{Masters: []string{ln.Addr().String()}, Framework: info})
	leader.nextStream()
	rec.next(t, sched.Event_SUBSCRIBED)
	if err := c.Revive(context.Background()); err != nil {
		t.Fatalf("call after redirect: %v", err)
	}
	leader.mu.Lock()
	defer leader.mu.Unlock()
	if len(leader.calls) != 1 || leader.calls[0].GetType() != sched.Call_REVIVE {
		t.Fatalf("leader got %v", leader.calls)
	}
}

func TestRefusedSubscribeIsFatal(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Invalid FrameworkInfo", http.StatusBadRequest)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if _, err := New(Config{Masters: []string{ln.Addr().String()}, Framework: &mesos.FrameworkInfo{}}); err == nil {
		t.Fatal("New accepted a FrameworkInfo without user and name")
	}
	info := &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String("refused")}
	c, err := New(Config{Masters: []string{ln.Addr().String()}, Framework: info})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.Run(ctx, HandlerFunc(func(context.Context, *sched.Event) {}))
	apiErr, ok := err.(*APIError)
	if !ok || apiErr.Code != http.StatusBadRequest {
		t.Fatalf("Run = %v, want the 400", err)
	}
	if err := c.Revive(ctx); err != ErrNotSubscribed {
		t.Fatalf("call before subscribing: %v", err)
	}
}
