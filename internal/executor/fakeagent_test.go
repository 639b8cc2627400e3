package executor

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/apihttp"
)

// waitTimeout bounds every wait for something the executor should do.
const waitTimeout = 15 * time.Second

const (
	testFrameworkID = "framework-1"
	testExecutorID  = "executor-1"
	testAgentID     = "agent-1"
	testContainerID = "container-1"
)

// received is a call the fake agent got, and when.
type received struct {
	call *executorv1.Call
	at   time.Time
}

// fakeAgent implements the agent side of the executor API on 127.0.0.1: it
// answers SUBSCRIBE with an event stream that starts with SUBSCRIBED, records
// every call, and, when autoAck is set, acknowledges each UPDATE at once.
type fakeAgent struct {
	t         testing.TB
	srv       *httptest.Server
	framework *mesos.FrameworkInfo
	autoAck   bool
	// dropUpdates is how many UPDATE calls, the first ones, are answered
	// by closing the connection, as a broken connection would.
	dropUpdates int
	// updateDelay holds every UPDATE call this long before answering, as
	// a busy agent would.
	updateDelay time.Duration

	subscribes chan received
	updates    chan received

	mu     sync.Mutex
	stream *apihttp.Stream
	drop   chan struct{} // closed to end the current stream
}

type agentOption func(*fakeAgent)

// withKillingState gives the framework the TASK_KILLING_STATE capability.
func withKillingState() agentOption {
	return func(a *fakeAgent) {
		a.framework.Capabilities = append(a.framework.Capabilities, &mesos.FrameworkInfo_Capability{
			Type: mesos.FrameworkInfo_Capability_TASK_KILLING_STATE.Enum(),
		})
	}
}

// withDroppedUpdates drops the connection of the first n UPDATE calls.
func withDroppedUpdates(n int) agentOption { return func(a *fakeAgent) { a.dropUpdates = n } }

// withSlowUpdates answers every UPDATE call after d.
func withSlowUpdates(d time.Duration) agentOption { return func(a *fakeAgent) { a.updateDelay = d } }

// withoutAutoAck leaves acknowledging to the test.
func withoutAutoAck() agentOption { return func(a *fakeAgent) { a.autoAck = false } }

func newFakeAgent(t testing.TB, opts ...agentOption) *fakeAgent {
	a := &fakeAgent{
		t: t,
		framework: &mesos.FrameworkInfo{
			User: proto.String("nobody"),
			Name: proto.String("test"),
			Id:   &mesos.FrameworkID{Value: proto.String(testFrameworkID)},
		},
		autoAck:    true,
		subscribes: make(chan received, 16),
		updates:    make(chan received, 256),
	}
	for _, o := range opts {
		o(a)
	}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serveHTTP))
	t.Cleanup(func() {
		a.dropStream()
		a.srv.Close()
	})
	return a
}

// dropUpdate reports whether to drop this UPDATE call's connection.
func (a *fakeAgent) dropUpdate() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.dropUpdates == 0 {
		return false
	}
	a.dropUpdates--
	return true
}

func (a *fakeAgent) endpoint() string { return strings.TrimPrefix(a.srv.URL, "http://") }

func (a *fakeAgent) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/executor" {
		http.NotFound(w, r)
		return
	}
	call := &executorv1.Call{}
	req, err := apihttp.Decode(r, call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	if call.GetExecutorId().GetValue() != testExecutorID || call.GetFrameworkId().GetValue() != testFrameworkID {
		a.t.Errorf("%s call with executor_id %q, framework_id %q", call.GetType(),
			call.GetExecutorId().GetValue(), call.GetFrameworkId().GetValue())
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Executor cannot be found"))
		return
	}
	switch call.GetType() {
	case executorv1.Call_SUBSCRIBE:
		a.serveStream(w, r, req, call)
	case executorv1.Call_UPDATE:
		if a.dropUpdate() {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		time.Sleep(a.updateDelay)
		w.WriteHeader(http.StatusAccepted)
		a.updates <- received{call: call, at: time.Now()}
		if a.autoAck {
			a.ack(call.GetUpdate().GetStatus())
		}
	case executorv1.Call_MESSAGE, executorv1.Call_HEARTBEAT:
		w.WriteHeader(http.StatusAccepted)
	default:
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "unexpected call %s", call.GetType()))
	}
}

func (a *fakeAgent) serveStream(w http.ResponseWriter, r *http.Request, req *apihttp.Request, call *executorv1.Call) {
	stream, err := apihttp.StartStream(w, req.Accept, nil)
	if err != nil {
		return
	}
	drop := make(chan struct{})
	a.mu.Lock()
	a.stream, a.drop = stream, drop
	err = stream.Send(&executorv1.Event{
		Type: executorv1.Event_SUBSCRIBED.Enum(),
		Subscribed: &executorv1.Event_Subscribed{
			ExecutorInfo: &mesos.ExecutorInfo{
				ExecutorId:  &mesos.ExecutorID{Value: proto.String(testExecutorID)},
				FrameworkId: a.framework.GetId(),
			},
			FrameworkInfo: a.framework,
			AgentInfo:     &mesos.AgentInfo{Hostname: proto.String("localhost"), Id: &mesos.AgentID{Value: proto.String(testAgentID)}},
			ContainerId:   &mesos.ContainerID{Value: proto.String(testContainerID)},
		},
	})
	a.mu.Unlock()
	if err != nil {
		return
	}
	a.subscribes <- received{call: call, at: time.Now()}
	select {
	case <-drop:
	case <-r.Context().Done():
	}
	// Returning ends the response: never while send is writing to it.
	a.mu.Lock()
	if a.stream == stream {
		a.stream, a.drop = nil, nil
	}
	a.mu.Unlock()
}

// send writes an event on the current stream.
func (a *fakeAgent) send(ev *executorv1.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stream == nil {
		// The executor may have read the last event and hung up already;
		// what matters is what it does, which the tests check.
		a.t.Logf("no stream to send %s on", ev.GetType())
		return
	}
	if err := a.stream.Send(ev); err != nil {
		a.t.Errorf("sending %s: %v", ev.GetType(), err)
	}
}

// dropStream ends the current event stream, as an agent that goes away does.
func (a *fakeAgent) dropStream() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.drop != nil {
		close(a.drop)
	}
	a.stream, a.drop = nil, nil
}

func (a *fakeAgent) ack(s *mesos.TaskStatus) {
	a.send(&executorv1.Event{
		Type:         executorv1.Event_ACKNOWLEDGED.Enum(),
		Acknowledged: &executorv1.Event_Acknowledged{TaskId: s.GetTaskId(), Uuid: s.GetUuid()},
	})
}

func (a *fakeAgent) launch(task *mesos.TaskInfo) {
	a.send(&executorv1.Event{Type: executorv1.Event_LAUNCH.Enum(), Launch: &executorv1.Event_Launch{Task: task}})
}

func (a *fakeAgent) kill(taskID string, grace time.Duration) {
	kill := &executorv1.Event_Kill{TaskId: &mesos.TaskID{Value: proto.String(taskID)}}
	if grace >= 0 {
		kill.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	}
	a.send(&executorv1.Event{Type: executorv1.Event_KILL.Enum(), Kill: kill})
}

func (a *fakeAgent) shutdown() { a.send(&executorv1.Event{Type: executorv1.Event_SHUTDOWN.Enum()}) }

// nextSubscribe waits for the next SUBSCRIBE to be answered with SUBSCRIBED.
func (a *fakeAgent) nextSubscribe() received {
	a.t.Helper()
	return recv(a.t, a.subscribes, "SUBSCRIBE")
}

// nextUpdate waits for the next status update.
func (a *fakeAgent) nextUpdate() *mesos.TaskStatus {
	a.t.Helper()
	return recv(a.t, a.updates, "UPDATE").call.GetUpdate().GetStatus()
}

// expectUpdate waits for the next update and checks its state.
func (a *fakeAgent) expectUpdate(state mesos.TaskState) *mesos.TaskStatus {
	a.t.Helper()
	s := a.nextUpdate()
	if s.GetState() != state {
		a.t.Fatalf("update %s (message %q), want %s", s.GetState(), s.GetMessage(), state)
	}
	return s
}

func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %v", what, waitTimeout)
		panic("unreachable")
	}
}

// runningExecutor is a Run in a goroutine of the test.
type runningExecutor struct {
	cfg    Config
	cancel context.CancelFunc
	done   chan error
	stdout string // path of the task's stdout file
	dir    string // the sandbox
}

// startExecutor runs an executor against the agent. mod adjusts its config.
// Cleanup cancels it and waits for Run to return.
func startExecutor(t testing.TB, a *fakeAgent, mod func(*Config)) *runningExecutor {
	t.Helper()
	dir := t.TempDir()
	stdout, stderr := createFile(t, dir, "stdout"), createFile(t, dir, "stderr")
	cfg := Config{
		FrameworkID:   testFrameworkID,
		ExecutorID:    testExecutorID,
		AgentID:       testAgentID,
		AgentEndpoint: a.endpoint(),
		Directory:     dir,
		Sandbox:       dir,
		Encoding:      wire.Protobuf,
		Environ:       []string{"PATH=" + os.Getenv("PATH"), "INHERITED=from-executor"},
		Stdout:        stdout,
		Stderr:        stderr,
		Logger:        slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &runningExecutor{cfg: cfg, cancel: cancel, done: make(chan error, 1), stdout: stdout.Name(), dir: dir}
	go func() { e.done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-e.done:
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return within %v of cancellation", waitTimeout)
		}
	})
	return e
}

// result waits for Run to return.
func (e *runningExecutor) result(t testing.TB) error {
	t.Helper()
	err := recv(t, e.done, "return from Run")
	e.done <- err // keep it for Cleanup
	return err
}

func (e *runningExecutor) readStdout(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.stdout)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func createFile(t testing.TB, dir, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// testLogWriter sends the executor's logs to the test log.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testLogWriter{}

// shellTask is a command task running cmd through /bin/sh.
func shellTask(id, cmd string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:    proto.String(id),
		TaskId:  &mesos.TaskID{Value: proto.String(id)},
		AgentId: &mesos.AgentID{Value: proto.String(testAgentID)},
		Command: &mesos.CommandInfo{Value: proto.String(cmd)},
	}
}

func withKillGrace(task *mesos.TaskInfo, grace time.Duration) *mesos.TaskInfo {
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	return task
}
