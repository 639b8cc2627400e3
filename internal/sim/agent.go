package sim

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
)

// Agent is a simulated agent: it speaks the real agent protocol to the
// masters over HTTP, but its "containerizer" is a fake: a launched task
// reports TASK_RUNNING at once and TASK_FINISHED after TaskDuration (never,
// if zero). Many run in one process.
type Agent struct {
	Hostname     string
	Resources    []*mesos.Resource
	TaskDuration time.Duration
	Masters      []string
	Client       *http.Client

	mu       sync.Mutex
	id       string
	master   string // host:port of the current stream
	streamID string
	tasks    map[string]*simTask // by task ID
	pending  map[string][]byte   // task ID → uuid of the update in flight
	// Registered counts SUBSCRIBED events received (re-registrations too).
	registered chan struct{}
	regCount   int
	// outgoing updates, sent in batches by sendLoop.
	outgoing chan headUpdate
}

type simTask struct {
	frameworkID string
	info        *mesos.TaskInfo
	state       mesos.TaskState
	queue       []*mesos.TaskStatus // updates not yet acknowledged, head in flight
}

// NewAgent returns an agent with the given resources.
func NewAgent(hostname string, res []*mesos.Resource, masters []string, client *http.Client, taskDuration time.Duration) *Agent {
	return &Agent{Hostname: hostname, Resources: res, Masters: masters, Client: client, TaskDuration: taskDuration,
		tasks: map[string]*simTask{}, pending: map[string][]byte{}, registered: make(chan struct{}, 1),
		outgoing: make(chan headUpdate, 1024)}
}

// ID is the agent's ID once registered.
func (a *Agent) ID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.id
}

// Registrations is how many times the agent has (re-)registered.
func (a *Agent) Registrations() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.regCount
}

// Running is how many of the agent's tasks are running.
func (a *Agent) Running() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, t := range a.tasks {
		if t.state == mesos.TaskState_TASK_RUNNING {
			n++
		}
	}
	return n
}

// Run keeps the agent subscribed until ctx ends, re-subscribing (with its
// ID and its running tasks) whenever the stream is lost. Updates not
// acknowledged are re-sent every resendInterval, and subscriptions are
// paced, as the real agent does: a random delay in [0, 1 s] before each
// attempt, its bound doubling (up to a minute) while attempts fail.
func (a *Agent) Run(ctx context.Context) {
	go a.resendLoop(ctx)
	go a.sendLoop(ctx)
	limit := registrationBackoff
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(rand.N(limit + 1)):
		}
		if subscribed, _ := a.session(ctx); subscribed {
			limit = registrationBackoff
		} else {
			limit = min(2*limit, time.Minute)
		}
	}
}

// registrationBackoff is the agent's registration_backoff_factor default.
const registrationBackoff = time.Second

func (a *Agent) subscribeCall() *protocol.AgentCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := &mesos.AgentInfo{Hostname: proto.String(a.Hostname), Port: proto.Int32(5051), Resources: a.Resources}
	sub := &protocol.AgentCall_Subscribe{AgentInfo: info, Version: proto.String("sim")}
	if a.id != "" {
		info.Id = &mesos.AgentID{Value: proto.String(a.id)}
		frameworks := map[string]bool{}
		for id, t := range a.tasks {
			if t.state.IsTerminal() {
				continue
			}
			frameworks[t.frameworkID] = true
			sub.Tasks = append(sub.Tasks, &mesos.Task{
				Name: t.info.Name, TaskId: &mesos.TaskID{Value: proto.String(id)},
				FrameworkId: &mesos.FrameworkID{Value: proto.String(t.frameworkID)},
				AgentId:     info.Id, State: t.state.Enum(), Resources: t.info.GetResources(),
			})
		}
		for fid := range frameworks {
			sub.Frameworks = append(sub.Frameworks, &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String(fid)},
				User: proto.String("sim"), Name: proto.String("sim")})
		}
	}
	return &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: sub}
}

// session subscribes to the first master that accepts (following
// redirects) and handles its events until the stream ends. subscribed
// tells whether a master took the subscription.
func (a *Agent) session(ctx context.Context) (subscribed bool, err error) {
	body, _ := proto.Marshal(a.subscribeCall())
	var resp *http.Response
	for _, m := range a.Masters {
		resp, err = a.post(ctx, "http://"+m+"/agora/v1/agent", body, "")
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("subscribe: %s", resp.Status)
			resp = nil
		}
	}
	if resp == nil {
		return false, err
	}
	defer resp.Body.Close()
	a.mu.Lock()
	a.master, a.streamID = resp.Request.URL.Host, resp.Header.Get("Mesos-Stream-Id")
	a.mu.Unlock()
	r := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return true, err
		}
		ev := &protocol.AgentEvent{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			return true, err
		}
		a.handle(ctx, ev)
	}
}

// post sends a protobuf body, following 307 redirects.
func (a *Agent) post(ctx context.Context, target string, body []byte, streamID string) (*http.Response, error) {
	for range 5 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", wire.MediaProtobuf)
		req.Header.Set("Accept", wire.MediaProtobuf)
		if streamID != "" {
			req.Header.Set("Mesos-Stream-Id", streamID)
		}
		resp, err := a.Client.Do(req)
		if err != nil || resp.StatusCode != http.StatusTemporaryRedirect {
			return resp, err
		}
		loc := resp.Header.Get("Location")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		base, _ := url.Parse(target)
		next, err := base.Parse(loc)
		if err != nil {
			return nil, err
		}
		if next.Path == "" || next.Path == "/" {
			next.Path = "/agora/v1/agent"
		}
		target = next.String()
	}
	return nil, fmt.Errorf("too many redirects")
}

func (a *Agent) handle(ctx context.Context, ev *protocol.AgentEvent) {
	switch ev.GetType() {
	case protocol.AgentEvent_SUBSCRIBED:
		a.mu.Lock()
		a.id = ev.GetSubscribed().GetAgentId().GetValue()
		a.regCount++
		heads := a.heads()
		a.mu.Unlock()
		select {
		case a.registered <- struct{}{}:
		default:
		}
		for _, u := range heads {
			go a.sendUpdate(ctx, u.fid, u.status)
		}
	case protocol.AgentEvent_RUN_TASK:
		a.runTask(ctx, ev.GetRunTask())
	case protocol.AgentEvent_KILL_TASK:
		k := ev.GetKillTask()
		a.report(ctx, k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue(), mesos.TaskState_TASK_KILLED)
	case protocol.AgentEvent_ACKNOWLEDGE:
		a.acknowledged(ctx, ev.GetAcknowledge())
	case protocol.AgentEvent_PING:
		go a.call(ctx, &protocol.AgentCall{Type: protocol.AgentCall_PONG.Enum(),
			Pong: &protocol.AgentCall_Pong{Sequence: ev.GetPing().Sequence}})
	}
}

// resendInterval is how often unacknowledged updates are sent again.
const resendInterval = 10 * time.Second

func (a *Agent) resendLoop(ctx context.Context) {
	t := time.NewTicker(resendInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.mu.Lock()
			heads := a.heads()
			a.mu.Unlock()
			for _, u := range heads {
				a.sendUpdate(ctx, u.fid, u.status)
			}
		}
	}
}

type headUpdate struct {
	fid    string
	status *mesos.TaskStatus
}

// heads are the updates in flight, to re-send after re-registering.
func (a *Agent) heads() []headUpdate {
	var out []headUpdate
	for _, t := range a.tasks {
		if len(t.queue) > 0 {
			out = append(out, headUpdate{t.frameworkID, t.queue[0]})
		}
	}
	return out
}

func (a *Agent) runTask(ctx context.Context, rt *protocol.AgentEvent_RunTask) {
	id := rt.GetTask().GetTaskId().GetValue()
	a.mu.Lock()
	a.tasks[id] = &simTask{frameworkID: rt.GetFramework().GetId().GetValue(), info: rt.GetTask(), state: mesos.TaskState_TASK_STAGING}
	a.mu.Unlock()
	a.report(ctx, rt.GetFramework().GetId().GetValue(), id, mesos.TaskState_TASK_RUNNING)
}

// report queues a status update; it goes out when the ones before it are
// acknowledged, as the real status update manager does.
func (a *Agent) report(ctx context.Context, fid, taskID string, state mesos.TaskState) {
	uuid := make([]byte, 16)
	crand.Read(uuid)
	a.mu.Lock()
	t := a.tasks[taskID]
	if t == nil || t.state.IsTerminal() {
		a.mu.Unlock()
		return
	}
	t.state = state
	st := &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String(taskID)}, State: state.Enum(),
		Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: uuid,
		ExecutorId: &mesos.ExecutorID{Value: proto.String(taskID)},
		AgentId:    &mesos.AgentID{Value: proto.String(a.id)},
		Timestamp:  proto.Float64(float64(time.Now().UnixNano()) / 1e9),
	}
	t.queue = append(t.queue, st)
	first := len(t.queue) == 1
	a.mu.Unlock()
	if first {
		a.sendUpdate(ctx, fid, st)
	}
}

func (a *Agent) sendUpdate(ctx context.Context, fid string, st *mesos.TaskStatus) {
	select {
	case a.outgoing <- headUpdate{fid, st}:
	case <-ctx.Done():
	}
}

// sendLoop sends queued updates, all that are waiting in one call.
func (a *Agent) sendLoop(ctx context.Context) {
	for {
		var batch []*protocol.AgentCall_Update
		select {
		case <-ctx.Done():
			return
		case u := <-a.outgoing:
			batch = append(batch, updateOf(u))
		}
	more:
		for len(batch) < 256 {
			select {
			case u := <-a.outgoing:
				batch = append(batch, updateOf(u))
			default:
				break more
			}
		}
		a.call(ctx, &protocol.AgentCall{Type: protocol.AgentCall_UPDATE.Enum(), Updates: batch})
	}
}

func updateOf(u headUpdate) *protocol.AgentCall_Update {
	return &protocol.AgentCall_Update{FrameworkId: &mesos.FrameworkID{Value: proto.String(u.fid)}, Status: u.status}
}

func (a *Agent) acknowledged(ctx context.Context, ack *protocol.AgentEvent_Acknowledge) {
	taskID := ack.GetTaskId().GetValue()
	a.mu.Lock()
	t := a.tasks[taskID]
	if t == nil || len(t.queue) == 0 || !bytes.Equal(t.queue[0].GetUuid(), ack.GetUuid()) {
		a.mu.Unlock()
		return
	}
	acked := t.queue[0]
	t.queue = t.queue[1:]
	var next *mesos.TaskStatus
	if len(t.queue) > 0 {
		next = t.queue[0]
	}
	if acked.GetState().IsTerminal() && len(t.queue) == 0 {
		delete(a.tasks, taskID)
	}
	fid := t.frameworkID
	duration := taskDuration(t.info, a.TaskDuration)
	a.mu.Unlock()
	if next != nil {
		a.sendUpdate(ctx, fid, next)
		return
	}
	if acked.GetState() == mesos.TaskState_TASK_RUNNING && duration > 0 {
		time.AfterFunc(duration, func() { a.report(ctx, fid, taskID, mesos.TaskState_TASK_FINISHED) })
	}
}

// durationLabel on a task overrides the agent's TaskDuration for it.
const durationLabel = "agora.sim/duration"

func taskDuration(info *mesos.TaskInfo, agentDefault time.Duration) time.Duration {
	for _, l := range info.GetLabels().GetLabels() {
		if l.GetKey() == durationLabel {
			if d, err := time.ParseDuration(l.GetValue()); err == nil {
				return d
			}
		}
	}
	return agentDefault
}

// call sends a non-SUBSCRIBE call on the current stream (best-effort: a
// lost update is re-sent after re-registration).
func (a *Agent) call(ctx context.Context, c *protocol.AgentCall) {
	a.mu.Lock()
	master, streamID, id := a.master, a.streamID, a.id
	a.mu.Unlock()
	if master == "" {
		return
	}
	c.AgentId = &mesos.AgentID{Value: proto.String(id)}
	body, _ := proto.Marshal(c)
	resp, err := a.post(ctx, "http://"+master+"/agora/v1/agent", body, streamID)
	if err != nil {
		callErrors.Add(1)
		return
	}
	if resp.StatusCode != http.StatusAccepted {
		callErrors.Add(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// callErrors counts agent calls that failed (they are re-sent later).
var callErrors atomic.Int64
