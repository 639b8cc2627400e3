package master

import (
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
)

// reconcile answers RECONCILE: implicit (no tasks named) sends the state of
// every task the master holds for the framework; explicit follows the table
// of reference §4. Replies carry no uuid, SOURCE_MASTER and
// REASON_RECONCILIATION.
func (m *Master) reconcile(fw *framework, r *scheduler.Call_Reconcile, now time.Time) {
	m.metrics.reconcile()
	if len(r.GetTasks()) == 0 {
		m.reconcileImplicit(fw, now)
		return
	}
	m.reconcileExplicit(fw, r.GetTasks(), now)
}

func (m *Master) reconcileImplicit(fw *framework, now time.Time) {
	for _, t := range fw.tasks {
		state := t.state
		if t.statusUpdateUUID != nil {
			state = t.statusUpdateState
		}
		m.sendReconciliation(fw, t.id, t.agentID, state, t, now)
	}
}

func (m *Master) reconcileExplicit(fw *framework, tasks []*scheduler.Call_Reconcile_Task, now time.Time) {
	for _, rt := range tasks {
		taskID, agentID := rt.GetTaskId().GetValue(), rt.GetAgentId().GetValue()
		if t := fw.tasks[taskID]; t != nil {
			state := t.state
			if t.statusUpdateUUID != nil {
				state = t.statusUpdateState
			}
			m.sendReconciliation(fw, taskID, t.agentID, state, t, now)
			continue
		}
		if m.agentRecovering(agentID) {
			continue // case 2: the answer must wait for the agent to come back
		}
		m.sendReconciliation(fw, taskID, agentID, m.unknownTaskState(agentID), nil, now)
	}
}

// agentRecovering reports whether an agent (any agent, when id is empty)
// is known from before a failover but has not re-registered yet.
func (m *Master) agentRecovering(id string) bool {
	if id == "" {
		for _, ag := range m.agents {
			if ag.recovering {
				return true
			}
		}
		return false
	}
	ag := m.agents[id]
	return ag != nil && ag.recovering
}

// unknownTaskState is the state of a task the master does not know, by what
// it knows of the task's agent (cases 3–6 of reference §4).
func (m *Master) unknownTaskState(agentID string) mesos.TaskState {
	ag := m.agents[agentID]
	_, unreachable := m.unreachable[agentID]
	_, gone := m.gone[agentID]
	switch {
	case ag != nil && ag.unreachable(), unreachable:
		return mesos.TaskState_TASK_UNREACHABLE
	case gone:
		return mesos.TaskState_TASK_GONE_BY_OPERATOR
	case ag != nil:
		return mesos.TaskState_TASK_GONE
	}
	return mesos.TaskState_TASK_UNKNOWN
}

func (m *Master) sendReconciliation(fw *framework, taskID, agentID string, state mesos.TaskState, t *task, now time.Time) {
	status := &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: &taskID},
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
		Message:   ptr("Reconciliation: Latest task state"),
		Timestamp: ptr(float64(now.UnixNano()) / 1e9),
	}
	if agentID != "" {
		status.AgentId = &mesos.AgentID{Value: &agentID}
	}
	if t != nil {
		if n := len(t.statuses); n > 0 {
			last := t.statuses[n-1]
			status.Healthy, status.Labels, status.ContainerStatus = last.Healthy, last.Labels, last.ContainerStatus
			status.CheckStatus, status.UnreachableTime = last.CheckStatus, last.UnreachableTime
		}
		if t.executorID != "" {
			status.ExecutorId = &mesos.ExecutorID{Value: &t.executorID}
		}
	} else {
		status.Message = ptr("Reconciliation: Task is unknown")
		if state == mesos.TaskState_TASK_UNREACHABLE {
			status.Message = ptr("Reconciliation: Task is unreachable")
		}
	}
	if fw.conn != nil {
		fw.conn.send(updateEvent(forFramework(fw, status)))
	}
}

// reconcileOperations answers RECONCILE_OPERATIONS. Agora applies offer
// operations when it accepts them and keeps none afterwards (their
// statuses carry no uuid to acknowledge), so each listed operation is
// answered as Mesos answers one it no longer knows, by what the master
// knows of its agent (reference §4): OPERATION_RECOVERING,
// OPERATION_UNREACHABLE, OPERATION_GONE_BY_OPERATOR, else
// OPERATION_UNKNOWN. An implicit reconciliation (none listed) has nothing
// to report.
func (m *Master) reconcileOperations(fw *framework, r *scheduler.Call_ReconcileOperations) {
	if fw.conn == nil {
		return
	}
	for _, op := range r.GetOperations() {
		agentID := op.GetAgentId().GetValue()
		state := mesos.OperationState_OPERATION_UNKNOWN
		switch {
		case agentID == "":
		case m.agentRecovering(agentID):
			state = mesos.OperationState_OPERATION_RECOVERING
		default:
			switch m.unknownTaskState(agentID) {
			case mesos.TaskState_TASK_UNREACHABLE:
				state = mesos.OperationState_OPERATION_UNREACHABLE
			case mesos.TaskState_TASK_GONE_BY_OPERATOR:
				state = mesos.OperationState_OPERATION_GONE_BY_OPERATOR
			}
		}
		fw.conn.send(&scheduler.Event{
			Type: scheduler.Event_UPDATE_OPERATION_STATUS.Enum(),
			UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{Status: &mesos.OperationStatus{
				OperationId:        op.GetOperationId(),
				State:              state.Enum(),
				AgentId:            op.GetAgentId(),
				ResourceProviderId: op.GetResourceProviderId(),
				Message:            ptr("Reconciliation: the master keeps no record of the operation"),
			}},
		})
	}
}
