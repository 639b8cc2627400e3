package agent

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
)

// serveExecutorAPI is POST /api/v1/executor (reference §5): SUBSCRIBE opens
// the executor's event stream; UPDATE, MESSAGE and HEARTBEAT answer 202.
func (a *Agent) serveExecutorAPI(w http.ResponseWriter, r *http.Request) {
	call := &executorpb.Call{}
	req, err := apihttp.Decode(r, call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	if call.GetType() == executorpb.Call_SUBSCRIBE {
		a.executorSubscribe(w, r, req, call)
		return
	}
	if err := a.executorCall(call); err != nil {
		apihttp.WriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// findExecutor looks up the call's executor. Callers hold a.mu.
func (a *Agent) findExecutor(call *executorpb.Call) (*executor, error) {
	fw := a.frameworks[call.GetFrameworkId().GetValue()]
	if fw == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Framework cannot be found")
	}
	ex := fw.executors[call.GetExecutorId().GetValue()]
	if ex == nil || ex.state == executorTerminated {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Executor cannot be found")
	}
	return ex, nil
}

// executorCall handles the calls that answer 202.
func (a *Agent) executorCall(call *executorpb.Call) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ex, err := a.findExecutor(call)
	if err != nil {
		return err
	}
	if ex.state == executorRegistering {
		return apihttp.Errorf(http.StatusForbidden, "Executor is not subscribed")
	}
	switch call.GetType() {
	case executorpb.Call_UPDATE:
		return a.executorUpdate(ex, call)
	case executorpb.Call_MESSAGE:
		if call.GetMessage() == nil {
			return apihttp.Errorf(http.StatusBadRequest, "Expecting 'message' to be present")
		}
		a.calls.Put(&protocol.AgentCall{
			Type: protocol.AgentCall_MESSAGE.Enum(),
			Message: &protocol.AgentCall_Message{
				FrameworkId: call.FrameworkId, ExecutorId: call.ExecutorId, Data: call.GetMessage().GetData(),
			},
		})
		return nil
	case executorpb.Call_HEARTBEAT:
		return nil
	case executorpb.Call_UNKNOWN:
		return apihttp.Errorf(http.StatusBadRequest, "Expecting 'type' to be present")
	}
	return apihttp.Errorf(http.StatusBadRequest, "Unsupported call type %s", call.GetType())
}

// executorUpdate validates a status update, checkpoints it through the
// update manager, records it on the task, and acknowledges it to the
// executor. Callers hold a.mu.
func (a *Agent) executorUpdate(ex *executor, call *executorpb.Call) error {
	status := call.GetUpdate().GetStatus()
	if err := validateExecutorStatus(call); err != nil {
		a.counters.invalidStatusUpdates++
		return err
	}
	tid := status.GetTaskId().GetValue()
	t, _ := ex.task(tid)
	if t == nil {
		a.counters.invalidStatusUpdates++
		return apihttp.Errorf(http.StatusBadRequest, "Task '%s' cannot be found", tid)
	}
	a.completeExecutorStatus(ex, status)
	u := &protocol.AgentCall_Update{FrameworkId: ex.info.FrameworkId, Status: status}
	dup, err := a.updates.Update(u, ex.updatesFile(tid), time.Now())
	if err != nil {
		return apihttp.Errorf(http.StatusInternalServerError, "Failed to checkpoint the update: %v", err)
	}
	if !dup {
		a.counters.validStatusUpdates++
		a.applyStatus(ex, t, status)
	}
	if ex.conn != nil {
		ex.conn.send(&executorpb.Event{
			Type:         executorpb.Event_ACKNOWLEDGED.Enum(),
			Acknowledged: &executorpb.Event_Acknowledged{TaskId: status.TaskId, Uuid: status.Uuid},
		})
	}
	return nil
}

// validateExecutorStatus applies Mesos' checks on an executor's UPDATE.
func validateExecutorStatus(call *executorpb.Call) error {
	if call.GetUpdate() == nil {
		return apihttp.Errorf(http.StatusBadRequest, "Expecting 'update' to be present")
	}
	status := call.GetUpdate().GetStatus()
	switch {
	case len(status.GetUuid()) == 0:
		return apihttp.Errorf(http.StatusBadRequest, "Expecting 'uuid' to be present")
	case len(status.GetUuid()) != 16:
		return apihttp.Errorf(http.StatusBadRequest, "'uuid' is not a valid UUID (%d bytes)", len(status.GetUuid()))
	case status.GetState() == mesos.TaskState_TASK_STAGING:
		return apihttp.Errorf(http.StatusBadRequest, "Received TASK_STAGING from executor")
	case status.Source != nil && status.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR:
		return apihttp.Errorf(http.StatusBadRequest, "Received an update with source %s; expecting SOURCE_EXECUTOR",
			status.GetSource())
	case status.ExecutorId != nil && status.GetExecutorId().GetValue() != call.GetExecutorId().GetValue():
		return apihttp.Errorf(http.StatusBadRequest, "ExecutorID in Call: %s does not match ExecutorID in TaskStatus: %s",
			call.GetExecutorId().GetValue(), status.GetExecutorId().GetValue())
	}
	return nil
}

// completeExecutorStatus fills what the agent adds to an executor's status.
func (a *Agent) completeExecutorStatus(ex *executor, status *mesos.TaskStatus) {
	status.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
	status.AgentId = &mesos.AgentID{Value: proto.String(a.agentID)}
	status.ExecutorId = ex.info.ExecutorId
	if status.Timestamp == nil {
		status.Timestamp = proto.Float64(nowSeconds())
	}
	if status.ContainerStatus == nil {
		status.ContainerStatus = &mesos.ContainerStatus{}
	}
	cs := status.ContainerStatus
	if cs.ContainerId == nil {
		cs.ContainerId = &mesos.ContainerID{Value: proto.String(ex.containerID)}
	}
	if cs.ExecutorPid == nil && ex.pid > 0 {
		cs.ExecutorPid = proto.Uint32(uint32(ex.pid))
	}
}

// executorSubscribe opens the executor's event stream: SUBSCRIBED, then a
// LAUNCH for every queued task, then whatever comes.
func (a *Agent) executorSubscribe(w http.ResponseWriter, r *http.Request, req *apihttp.Request, call *executorpb.Call) {
	if !req.AcceptOK {
		apihttp.WriteError(w, apihttp.NotAcceptable())
		return
	}
	if call.GetSubscribe() == nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Expecting 'subscribe' to be present"))
		return
	}
	conn, ex, err := a.attachExecutor(call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	stream, err := apihttp.StartStream(w, req.Accept, nil)
	if err == nil {
		a.pumpExecutorEvents(r.Context(), stream, conn)
	}
	a.mu.Lock()
	if ex.conn == conn {
		ex.conn = nil
	}
	a.mu.Unlock()
}

// attachExecutor makes a new event stream the executor's and queues its
// first events: SUBSCRIBED, the acknowledgements of the updates it
// replays, LAUNCH for its queued tasks, and SHUTDOWN if it is
// terminating. A recovered executor's first subscription also settles
// its tasks (recovery.go).
func (a *Agent) attachExecutor(call *executorpb.Call) (*executorConn, *executor, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ex, err := a.findExecutor(call)
	if err != nil {
		return nil, nil, err
	}
	sub := call.GetSubscribe()
	if n := len(sub.GetUnacknowledgedUpdates()) + len(sub.GetUnacknowledgedTasks()); n > 0 || ex.recovering {
		a.log.Info("executor re-subscribed", "framework_id", ex.fw.id, "executor_id", ex.id,
			"unacknowledged_updates", len(sub.GetUnacknowledgedUpdates()),
			"unacknowledged_tasks", len(sub.GetUnacknowledgedTasks()), "after_agent_restart", ex.recovering)
	}
	stopTimer(ex.regTimer)
	if ex.conn != nil {
		ex.conn.out.Close("replaced by a new subscription")
	}
	conn := &executorConn{out: apihttp.NewOutbox[*executorpb.Event]()}
	ex.conn = conn
	recovered := ex.recovering && ex.state == executorRegistering
	if ex.state == executorRegistering {
		ex.state = executorRunning
	}
	conn.send(&executorpb.Event{
		Type: executorpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &executorpb.Event_Subscribed{
			ExecutorInfo:  ex.info,
			FrameworkInfo: ex.fw.info,
			AgentInfo:     a.agentInfo(),
			ContainerId:   &mesos.ContainerID{Value: proto.String(ex.containerID)},
		},
	})
	if recovered {
		a.adoptReportedTasks(ex, sub)
	}
	a.replayExecutorUpdates(ex, call)
	if recovered {
		a.dropUndelivered(ex, sub)
		a.doneReregistering(ex)
	}
	for _, t := range ex.queued {
		ex.launched[t.info.GetTaskId().GetValue()] = t
	}
	for _, ev := range launchEvents(ex.queued) {
		conn.send(ev)
	}
	ex.queued = nil
	if ex.state == executorTerminating {
		conn.send(&executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()})
	}
	return conn, ex, nil
}

// replayExecutorUpdates takes the updates a (re-)subscribing executor
// replays as if posted: new ones are checkpointed and forwarded, those
// already taken are duplicates; each is acknowledged on the new stream.
// An update for a task already retired is acknowledged too, or the
// executor would replay it forever. Callers hold a.mu.
func (a *Agent) replayExecutorUpdates(ex *executor, sub *executorpb.Call) {
	for _, u := range sub.GetSubscribe().GetUnacknowledgedUpdates() {
		call := &executorpb.Call{FrameworkId: sub.FrameworkId, ExecutorId: sub.ExecutorId,
			Type: executorpb.Call_UPDATE.Enum(), Update: u}
		err := a.executorUpdate(ex, call)
		if err == nil {
			continue
		}
		status := u.GetStatus()
		if len(status.GetUuid()) > 0 && retiredTask(ex, status.GetTaskId().GetValue()) {
			ex.conn.send(&executorpb.Event{
				Type:         executorpb.Event_ACKNOWLEDGED.Enum(),
				Acknowledged: &executorpb.Event_Acknowledged{TaskId: status.TaskId, Uuid: status.Uuid},
			})
			continue
		}
		a.log.Warn("ignoring a replayed status update", "executor_id", ex.id,
			"task_id", status.GetTaskId().GetValue(), "err", err)
	}
}

// retiredTask reports whether tid is among ex's completed tasks.
func retiredTask(ex *executor, tid string) bool {
	for _, t := range ex.completedTasks {
		if t.info.GetTaskId().GetValue() == tid {
			return true
		}
	}
	return false
}

// pumpExecutorEvents writes the connection's events to the stream until the
// executor goes away or the agent closes the connection.
func (a *Agent) pumpExecutorEvents(ctx context.Context, stream *apihttp.Stream, conn *executorConn) {
	heartbeat := time.NewTicker(executorHeartbeatInterval)
	defer heartbeat.Stop()
	var events []*executorpb.Event
	var payloads [][]byte
	for {
		var closed bool
		events, closed = conn.out.Take(events)
		if len(events) > 0 {
			payloads = payloads[:0]
			for i, ev := range events {
				p, err := stream.Encoding().Marshal(ev)
				if err != nil {
					a.log.Error("encoding executor event", "type", ev.GetType(), "err", err)
					continue
				}
				payloads = append(payloads, p)
				events[i] = nil
			}
			if err := stream.SendBatch(payloads); err != nil {
				conn.out.Close("write failed")
				return
			}
		}
		if closed {
			return
		}
		select {
		case <-ctx.Done():
			conn.out.Close("executor disconnected")
			return
		case <-conn.out.Wake():
		case <-conn.out.Closed():
		case <-heartbeat.C:
			conn.send(&executorpb.Event{Type: executorpb.Event_HEARTBEAT.Enum()})
		}
	}
}
