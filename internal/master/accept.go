package master

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// accept applies an ACCEPT: the offers are checked again against the live
// state (they were made from an older one), the operations are applied in
// order, and whatever the operations did not use goes back to the allocator
// with the call's filter.
func (m *Master) accept(fw *framework, a *scheduler.Call_Accept, now time.Time) {
	m.metrics.acceptCall()
	offers, err := m.takeOffers(fw, a.GetOfferIds())
	if err != nil {
		m.log.Info("ACCEPT with invalid offers", "framework_id", fw.id, "error", err)
		m.failLaunches(fw, a.GetOperations(), err, now)
		return
	}
	ag := m.agents[offers[0].agentID]
	role := offers[0].role
	var available resources.Resources
	for _, o := range offers {
		available = available.Add(o.resources)
	}
	for _, op := range a.GetOperations() {
		switch op.GetType() {
		case mesos.Offer_Operation_LAUNCH:
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				available = m.launch(fw, ag, role, available, ti, now)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			available = m.launchGroup(fw, ag, role, available, op.GetLaunchGroup(), now)
		case mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE,
			mesos.Offer_Operation_CREATE, mesos.Offer_Operation_DESTROY,
			mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME:
			available = m.acceptConversion(fw, ag, role, available, op)
		default:
			m.unsupportedOperation(fw, ag, op)
		}
	}
	m.alloc.Recover(fw.id, ag.id, available, m.refuseDuration(a.GetFilters()), now)
	m.requestAllocation()
}

// takeOffers removes the named offers if all are valid for one ACCEPT:
// outstanding, the framework's own, all on one agent and for one role. If
// any is not, the valid ones are still removed and their resources
// recovered (as Mesos does), and the error says why.
func (m *Master) takeOffers(fw *framework, ids []*mesos.OfferID) ([]*offer, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("no offer IDs")
	}
	var offers []*offer
	var problem error
	seen := map[string]bool{}
	for _, id := range ids {
		o := m.offers[id.GetValue()]
		switch {
		case seen[id.GetValue()]:
			problem = fmt.Errorf("offer %s appears more than once", id.GetValue())
			continue
		case o == nil:
			problem = fmt.Errorf("offer %s is no longer valid", id.GetValue())
			continue
		case o.frameworkID != fw.id:
			problem = fmt.Errorf("offer %s belongs to another framework", id.GetValue())
			continue
		}
		seen[id.GetValue()] = true
		if len(offers) > 0 && o.agentID != offers[0].agentID {
			problem = fmt.Errorf("offers %s and %s are on different agents", offers[0].id, o.id)
		}
		if len(offers) > 0 && o.role != offers[0].role {
			problem = fmt.Errorf("offers %s and %s are for different roles", offers[0].id, o.id)
		}
		offers = append(offers, o)
	}
	for _, o := range offers {
		m.removeOffer(o)
	}
	if problem != nil {
		for _, o := range offers {
			m.alloc.Recover(o.frameworkID, o.agentID, o.resources, 0, time.Time{})
		}
		m.requestAllocation()
		return nil, problem
	}
	return offers, nil
}

// failLaunches answers every task of a rejected ACCEPT: TASK_LOST, or
// TASK_DROPPED for partition-aware frameworks, with REASON_INVALID_OFFERS.
func (m *Master) failLaunches(fw *framework, ops []*mesos.Offer_Operation, why error, now time.Time) {
	state := mesos.TaskState_TASK_LOST
	if fw.caps.partitionAware {
		state = mesos.TaskState_TASK_DROPPED
	}
	for _, ti := range launchedTasks(ops) {
		m.sendUpdate(fw.id, &mesos.TaskStatus{
			TaskId:    ti.GetTaskId(),
			State:     state.Enum(),
			Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
			Reason:    mesos.TaskStatus_REASON_INVALID_OFFERS.Enum(),
			Message:   ptr("Task launched with invalid offers: " + why.Error()),
			AgentId:   ti.GetAgentId(),
			Timestamp: ptr(float64(now.UnixNano()) / 1e9),
		})
	}
}

func launchedTasks(ops []*mesos.Offer_Operation) []*mesos.TaskInfo {
	var tasks []*mesos.TaskInfo
	for _, op := range ops {
		tasks = append(tasks, op.GetLaunch().GetTaskInfos()...)
		tasks = append(tasks, op.GetLaunchGroup().GetTaskGroup().GetTasks()...)
	}
	return tasks
}

// launch validates one task against the remaining offered resources and,
// if it is good, records it as STAGING and sends it to the agent. It
// returns what remains of the offered resources.
func (m *Master) launch(fw *framework, ag *agent, role string, available resources.Resources, ti *mesos.TaskInfo, now time.Time) resources.Resources {
	m.metrics.launchTask()
	ti = proto.Clone(ti).(*mesos.TaskInfo)
	l, err := m.validateTask(fw, ag, role, available, ti)
	if err != nil {
		m.sendUpdate(fw.id, &mesos.TaskStatus{
			TaskId:    ti.GetTaskId(),
			State:     mesos.TaskState_TASK_ERROR.Enum(),
			Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
			Reason:    mesos.TaskStatus_REASON_TASK_INVALID.Enum(),
			Message:   ptr(err.Error()),
			AgentId:   ag.info.GetId(),
			Timestamp: ptr(float64(now.UnixNano()) / 1e9),
		})
		m.metrics.taskError()
		return available
	}
	if l.newExecutor != nil {
		ag.addExecutor(fw.id, l.newExecutor)
		fw.addExecutor(ag.id, l.newExecutor.GetExecutorId().GetValue(), l.newExecutor)
		ag.used = ag.used.Add(l.executorResources)
		fw.used = fw.used.Add(l.executorResources)
	}
	t := &task{
		id:          ti.GetTaskId().GetValue(),
		name:        ti.GetName(),
		frameworkID: fw.id,
		agentID:     ag.id,
		executorID:  ti.GetExecutor().GetExecutorId().GetValue(),
		info:        storedTaskInfo(ti),
		user:        taskUser(fw, ti),
		role:        role,
		resources:   l.taskResources,
		state:       mesos.TaskState_TASK_STAGING,
	}
	fw.tasks[t.id] = t
	ag.addTask(t)
	ag.used = ag.used.Add(t.resources)
	fw.used = fw.used.Add(t.resources)
	m.metrics.taskTransition(mesos.TaskState_TASK_UNKNOWN, mesos.TaskState_TASK_STAGING)
	m.taskAdded(t)
	ag.conn.send(&protocol.AgentEvent{
		Type: protocol.AgentEvent_RUN_TASK.Enum(),
		RunTask: &protocol.AgentEvent_RunTask{
			Framework: fw.info,
			Executor:  ti.GetExecutor(),
			Task:      ti,
		},
	})
	m.changed()
	return available.Subtract(l.taskResources).Subtract(l.executorResources)
}

// storedTaskInfo is the TaskInfo the master keeps: without `data`, which
// Mesos does not keep either.
func storedTaskInfo(ti *mesos.TaskInfo) *mesos.TaskInfo {
	if ti.Data == nil {
		return ti
	}
	c := proto.Clone(ti).(*mesos.TaskInfo)
	c.Data = nil
	return c
}

func taskUser(fw *framework, ti *mesos.TaskInfo) string {
	if u := ti.GetCommand().GetUser(); u != "" {
		return u
	}
	if u := ti.GetExecutor().GetCommand().GetUser(); u != "" {
		return u
	}
	return fw.info.GetUser()
}

// unsupportedOperation answers offer operations this release does not
// carry out yet; with an operation ID the framework hears so.
func (m *Master) unsupportedOperation(fw *framework, ag *agent, op *mesos.Offer_Operation) {
	m.log.Info("unsupported offer operation", "framework_id", fw.id, "type", op.GetType().String())
	if op.Id == nil || fw.conn == nil {
		return
	}
	fw.conn.send(&scheduler.Event{
		Type: scheduler.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
			Status: &mesos.OperationStatus{
				OperationId: op.Id,
				State:       mesos.OperationState_OPERATION_ERROR.Enum(),
				Message:     ptr(fmt.Sprintf("Offer operation %s is not supported by this Agora release yet", op.GetType())),
				AgentId:     ag.info.GetId(),
			},
		},
	})
}
