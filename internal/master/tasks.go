package master

import (
	"bytes"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// Task states (reference §4):
//
//	STAGING ──► STARTING ──► RUNNING ──► KILLING ──► FINISHED | FAILED | KILLED | ERROR | LOST | DROPPED | GONE
//	   │                        │
//	   └────────────────────────┴──► UNREACHABLE ──(agent returns)──► the state the agent reports
//
// The master releases a task's resources on its first move to a terminal
// state or UNREACHABLE, and keeps the task until its terminal update is
// acknowledged (or at once, for updates the master made itself, which carry
// no uuid and need no acknowledgement).

// task is the master's record of one task.
type task struct {
	id, name    string
	frameworkID string
	agentID     string
	executorID  string // "" for command tasks
	info        *mesos.TaskInfo
	user        string
	role        string
	resources   resources.Resources

	state    mesos.TaskState
	statuses []*mesos.TaskStatus
	// statusUpdateState and statusUpdateUUID describe the oldest update
	// the agent is still waiting to have acknowledged.
	statusUpdateState mesos.TaskState
	statusUpdateUUID  []byte

	released    bool // resources returned to the agent
	unreachable bool
	// pendingKill is a kill that found the agent disconnected, sent when
	// it re-registers.
	pendingKill *protocol.AgentEvent

	// version moves whenever what the state endpoints show of the task
	// changes; rendered caches its legacy JSON for a version, so that
	// /master/state at 100,000 tasks is mostly copying.
	version  uint64
	rendered *renderCache
}

// forFramework rewrites partition-aware states to TASK_LOST for frameworks
// that do not have the PARTITION_AWARE capability.
func forFramework(fw *framework, status *mesos.TaskStatus) *mesos.TaskStatus {
	if fw == nil || fw.caps.partitionAware {
		return status
	}
	switch status.GetState() {
	case mesos.TaskState_TASK_DROPPED, mesos.TaskState_TASK_UNREACHABLE, mesos.TaskState_TASK_GONE,
		mesos.TaskState_TASK_GONE_BY_OPERATOR, mesos.TaskState_TASK_UNKNOWN:
		s := proto.Clone(status).(*mesos.TaskStatus)
		s.State = mesos.TaskState_TASK_LOST.Enum()
		return s
	}
	return status
}

func updateEvent(status *mesos.TaskStatus) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_UPDATE.Enum(), Update: &scheduler.Event_Update{Status: status}}
}

// sendUpdate forwards a status to the task's framework if it is connected.
func (m *Master) sendUpdate(frameworkID string, status *mesos.TaskStatus) {
	fw := m.frameworks[frameworkID]
	if fw == nil || fw.conn == nil {
		return
	}
	fw.conn.send(updateEvent(forFramework(fw, status)))
}

// recordStatus moves a task to status's state and appends it to the task's
// history (replacing a last entry of the same state), releasing or
// re-charging resources as the state requires.
func (m *Master) recordStatus(t *task, status *mesos.TaskStatus, latest mesos.TaskState) {
	t.version++
	old := t.state
	t.state = latest
	stored := status
	if len(status.GetData()) > 0 {
		stored = proto.Clone(status).(*mesos.TaskStatus)
		stored.Data = nil
	}
	if n := len(t.statuses); n > 0 && t.statuses[n-1].GetState() == stored.GetState() {
		t.statuses = append(t.statuses[:n-1:n-1], stored)
	} else {
		t.statuses = append(t.statuses, stored)
	}
	releasing := latest.IsTerminal() || latest == mesos.TaskState_TASK_UNREACHABLE
	switch {
	case releasing && !t.released:
		m.releaseTaskResources(t)
	case !releasing && t.released:
		m.chargeTaskResources(t)
	}
	if old != latest {
		m.metrics.taskTransition(old, latest)
	}
	m.taskUpdated(t, status, old)
	m.changed()
}

// transitionTask applies a master-generated status (no uuid): it is
// recorded, sent to the framework best-effort, and a terminal one ends the
// task at once.
func (m *Master) transitionTask(t *task, status *mesos.TaskStatus, now time.Time) {
	m.stampStatus(status, t, now)
	m.recordStatus(t, status, status.GetState())
	m.sendUpdate(t.frameworkID, status)
	if t.state.IsTerminal() {
		m.removeTask(t)
	}
}

func (m *Master) stampStatus(status *mesos.TaskStatus, t *task, now time.Time) {
	if status.Timestamp == nil {
		status.Timestamp = ptr(float64(now.UnixNano()) / 1e9)
	}
	if status.AgentId == nil && t.agentID != "" {
		status.AgentId = &mesos.AgentID{Value: ptr(t.agentID)}
	}
	if status.ExecutorId == nil && t.executorID != "" {
		status.ExecutorId = &mesos.ExecutorID{Value: ptr(t.executorID)}
	}
}

func (m *Master) releaseTaskResources(t *task) {
	t.released = true
	if ag := m.agents[t.agentID]; ag != nil {
		ag.used = ag.used.Subtract(t.resources)
	}
	if fw := m.frameworks[t.frameworkID]; fw != nil {
		fw.used = fw.used.Subtract(t.resources)
	}
	m.alloc.Recover(t.frameworkID, t.agentID, t.resources, 0, time.Time{})
	m.requestAllocation()
}

func (m *Master) chargeTaskResources(t *task) {
	t.released = false
	if ag := m.agents[t.agentID]; ag != nil {
		ag.used = ag.used.Add(t.resources)
	}
	if fw := m.frameworks[t.frameworkID]; fw != nil {
		fw.used = fw.used.Add(t.resources)
	}
	m.alloc.Allocated(t.frameworkID, t.agentID, t.resources)
}

// removeTask forgets an ended task: it leaves the agent and the framework's
// active tasks and joins the framework's completed tasks.
func (m *Master) removeTask(t *task) {
	if !t.released {
		m.releaseTaskResources(t)
	}
	if ag := m.agents[t.agentID]; ag != nil {
		delete(ag.tasks[t.frameworkID], t.id)
		if len(ag.tasks[t.frameworkID]) == 0 {
			delete(ag.tasks, t.frameworkID)
		}
		m.checkDrained(ag)
	}
	if fw := m.frameworks[t.frameworkID]; fw != nil {
		if fw.tasks[t.id] == t {
			delete(fw.tasks, t.id)
		}
		fw.completed = append(fw.completed, t)
		if over := len(fw.completed) - m.cfg.MaxCompletedTasksPerFramework; over > 0 {
			fw.completed = append(fw.completed[:0:0], fw.completed[over:]...)
		}
	}
	m.changed()
}

// statusUpdate handles an UPDATE from an agent: a status the framework must
// acknowledge (when it has a uuid). The master records it and forwards it;
// the agent re-sends it until the acknowledgement comes back.
func (m *Master) statusUpdate(ag *agent, upd *protocol.AgentCall_Update, now time.Time) {
	status := upd.GetStatus()
	fid := upd.GetFrameworkId().GetValue()
	m.metrics.statusUpdate(true)
	if status.AgentId == nil {
		status.AgentId = ag.info.GetId()
	}
	if t := ag.tasks[fid][status.GetTaskId().GetValue()]; t != nil {
		latest := status.GetState()
		if upd.LatestState != nil {
			latest = upd.GetLatestState()
		}
		m.recordStatus(t, status, latest)
		if len(status.GetUuid()) > 0 {
			t.statusUpdateState, t.statusUpdateUUID = status.GetState(), status.GetUuid()
		}
	}
	if m.frameworks[fid] == nil && m.isCompletedFramework(fid) && len(status.GetUuid()) > 0 {
		// Nobody will ever acknowledge it: do so on the framework's behalf.
		ag.conn.send(acknowledgeEvent(fid, status.GetTaskId().GetValue(), status.GetUuid()))
		return
	}
	m.sendUpdate(fid, status)
}

// acknowledge relays a framework's acknowledgement to the agent, and ends
// the task when it acknowledges its terminal update.
func (m *Master) acknowledge(fw *framework, ack *scheduler.Call_Acknowledge) {
	m.metrics.acknowledgement()
	agentID, taskID := ack.GetAgentId().GetValue(), ack.GetTaskId().GetValue()
	if ag := m.agents[agentID]; ag != nil && ag.conn != nil {
		ag.conn.send(acknowledgeEvent(fw.id, taskID, ack.GetUuid()))
	}
	t := fw.tasks[taskID]
	if t == nil || t.agentID != agentID || !bytes.Equal(t.statusUpdateUUID, ack.GetUuid()) {
		return
	}
	t.statusUpdateUUID = nil
	if t.statusUpdateState.IsTerminal() {
		m.removeTask(t)
	}
	m.changed()
}

func acknowledgeEvent(frameworkID, taskID string, uuid []byte) *protocol.AgentEvent {
	return &protocol.AgentEvent{
		Type: protocol.AgentEvent_ACKNOWLEDGE.Enum(),
		Acknowledge: &protocol.AgentEvent_Acknowledge{
			FrameworkId: &mesos.FrameworkID{Value: &frameworkID},
			TaskId:      &mesos.TaskID{Value: &taskID},
			Uuid:        uuid,
		},
	}
}

// kill asks the task's agent to kill it. A task the master does not know is
// answered as an explicit reconciliation of that task.
func (m *Master) kill(fw *framework, k *scheduler.Call_Kill, now time.Time) {
	m.metrics.killTask()
	t := fw.tasks[k.GetTaskId().GetValue()]
	if t == nil || t.state.IsTerminal() {
		m.reconcileExplicit(fw, []*scheduler.Call_Reconcile_Task{{TaskId: k.GetTaskId(), AgentId: k.GetAgentId()}}, now)
		return
	}
	kill := &protocol.AgentEvent{
		Type: protocol.AgentEvent_KILL_TASK.Enum(),
		KillTask: &protocol.AgentEvent_KillTask{
			FrameworkId: &mesos.FrameworkID{Value: &fw.id},
			TaskId:      k.GetTaskId(),
			KillPolicy:  k.GetKillPolicy(),
		},
	}
	ag := m.agents[t.agentID]
	if ag == nil || ag.conn == nil {
		// As in Mesos: the kill is sent when the agent re-registers.
		m.log.Warn("cannot kill task now: its agent is disconnected; the kill is sent when it re-registers",
			"task_id", t.id, "agent_id", t.agentID)
		t.pendingKill = kill
		return
	}
	ag.conn.send(kill)
}

// sendPendingKills sends a re-registered agent the kills that could not
// reach it while it was away.
func (m *Master) sendPendingKills(ag *agent) {
	for _, fid := range sortedKeys(ag.tasks) {
		tasks := ag.tasks[fid]
		for _, tid := range sortedKeys(tasks) {
			t := tasks[tid]
			if t.pendingKill != nil && !t.state.IsTerminal() {
				ag.conn.send(t.pendingKill)
			}
			t.pendingKill = nil
		}
	}
}

// shutdownExecutor asks an agent to stop one of the framework's executors.
func (m *Master) shutdownExecutor(fw *framework, s *scheduler.Call_Shutdown) {
	ag := m.agents[s.GetAgentId().GetValue()]
	if ag == nil || ag.conn == nil {
		return
	}
	ag.conn.send(&protocol.AgentEvent{
		Type: protocol.AgentEvent_SHUTDOWN_EXECUTOR.Enum(),
		ShutdownExecutor: &protocol.AgentEvent_ShutdownExecutor{
			FrameworkId: &mesos.FrameworkID{Value: &fw.id},
			ExecutorId:  s.GetExecutorId(),
		},
	})
}

// frameworkMessage relays a scheduler's message to an executor
// (best-effort, as in Mesos).
func (m *Master) frameworkMessage(fw *framework, msg *scheduler.Call_Message) {
	m.metrics.frameworkMessage()
	ag := m.agents[msg.GetAgentId().GetValue()]
	if ag == nil || ag.conn == nil {
		return
	}
	ag.conn.send(&protocol.AgentEvent{
		Type: protocol.AgentEvent_MESSAGE.Enum(),
		Message: &protocol.AgentEvent_Message{
			FrameworkId: &mesos.FrameworkID{Value: &fw.id},
			ExecutorId:  msg.GetExecutorId(),
			Data:        msg.GetData(),
		},
	})
}

// executorMessage relays an executor's message to its scheduler.
func (m *Master) executorMessage(ag *agent, msg *protocol.AgentCall_Message) {
	fw := m.frameworks[msg.GetFrameworkId().GetValue()]
	if fw == nil || fw.conn == nil {
		return
	}
	fw.conn.send(&scheduler.Event{
		Type: scheduler.Event_MESSAGE.Enum(),
		Message: &scheduler.Event_Message{
			AgentId:    ag.info.GetId(),
			ExecutorId: msg.GetExecutorId(),
			Data:       msg.GetData(),
		},
	})
}

// executorExited records an executor's end and tells its framework.
func (m *Master) executorExited(ag *agent, e *protocol.AgentCall_ExecutorExited) {
	fid, eid := e.GetFrameworkId().GetValue(), e.GetExecutorId().GetValue()
	if fw := m.frameworks[fid]; fw != nil {
		m.removeExecutor(fw, ag.id, eid)
		if fw.conn != nil {
			fw.conn.send(&scheduler.Event{
				Type: scheduler.Event_FAILURE.Enum(),
				Failure: &scheduler.Event_Failure{
					AgentId:    ag.info.GetId(),
					ExecutorId: e.GetExecutorId(),
					Status:     e.Status,
				},
			})
		}
		return
	}
	m.dropAgentExecutor(ag, fid, eid)
}

// removeExecutor forgets an executor on an agent and returns its resources.
func (m *Master) removeExecutor(fw *framework, agentID, executorID string) {
	e := fw.executors[agentID][executorID]
	if e == nil {
		return
	}
	delete(fw.executors[agentID], executorID)
	if len(fw.executors[agentID]) == 0 {
		delete(fw.executors, agentID)
	}
	if res, err := resources.FromProto(e.GetResources()); err == nil && !res.IsEmpty() {
		fw.used = fw.used.Subtract(res)
		if ag := m.agents[agentID]; ag != nil {
			ag.used = ag.used.Subtract(res)
		}
		m.alloc.Recover(fw.id, agentID, res, 0, time.Time{})
		m.requestAllocation()
	}
	if ag := m.agents[agentID]; ag != nil {
		m.dropAgentExecutor(ag, fw.id, executorID)
	}
	m.changed()
}

func (m *Master) dropAgentExecutor(ag *agent, frameworkID, executorID string) {
	delete(ag.executors[frameworkID], executorID)
	if len(ag.executors[frameworkID]) == 0 {
		delete(ag.executors, frameworkID)
	}
}

func shutdownFrameworkEvent(frameworkID string) *protocol.AgentEvent {
	return &protocol.AgentEvent{
		Type:              protocol.AgentEvent_SHUTDOWN_FRAMEWORK.Enum(),
		ShutdownFramework: &protocol.AgentEvent_ShutdownFramework{FrameworkId: &mesos.FrameworkID{Value: &frameworkID}},
	}
}

func updateFrameworkEvent(info *mesos.FrameworkInfo) *protocol.AgentEvent {
	return &protocol.AgentEvent{
		Type:            protocol.AgentEvent_UPDATE_FRAMEWORK.Enum(),
		UpdateFramework: &protocol.AgentEvent_UpdateFramework{FrameworkInfo: info},
	}
}

// taskInfoFromTask rebuilds the TaskInfo parts of a reported Task that the
// state endpoints show.
func taskInfoFromTask(t *mesos.Task) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:        t.Name,
		TaskId:      t.TaskId,
		AgentId:     t.AgentId,
		Resources:   t.Resources,
		Labels:      t.Labels,
		Discovery:   t.Discovery,
		Container:   t.Container,
		HealthCheck: t.HealthCheck,
		KillPolicy:  t.KillPolicy,
		Limits:      t.Limits,
	}
}

// roleOf is the allocation role of a task's resources.
func roleOf(res resources.Resources) string {
	if roles := res.AllocationRoles(); len(roles) > 0 {
		return roles[0]
	}
	if roles := res.ReservationRoles(); len(roles) > 0 {
		return roles[0]
	}
	return "*"
}
