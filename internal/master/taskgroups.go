package master

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// Minimum resources of a task group's default executor (reference §3).
const (
	minExecutorCPUs  = 0.01
	minExecutorMemMB = 32
)

// launchGroup validates a LAUNCH_GROUP against the remaining offered
// resources and, if every task of the group is good, records them as
// STAGING and sends the group to the agent as one RUN_TASK_GROUP. A group
// is all or nothing: one bad task fails them all (TASK_ERROR,
// REASON_TASK_GROUP_INVALID). The executor is charged once, when it is not
// on the agent yet. It returns what remains of the offered resources.
func (m *Master) launchGroup(fw *framework, ag *agent, role string, available resources.Resources,
	lg *mesos.Offer_Operation_LaunchGroup, now time.Time) resources.Resources {
	ex := proto.CloneOf(lg.GetExecutor())
	var tasks []*mesos.TaskInfo
	for _, ti := range lg.GetTaskGroup().GetTasks() {
		m.metrics.launchTask()
		tasks = append(tasks, proto.CloneOf(ti))
	}
	plans, exPlan, err := m.validateTaskGroup(fw, ag, role, available, ex, tasks)
	if err != nil {
		m.refuseGroup(fw, ag, lg.GetTaskGroup().GetTasks(), err, now)
		return available
	}
	if exPlan.newExecutor != nil {
		ag.addExecutor(fw.id, ex)
		fw.addExecutor(ag.id, ex.GetExecutorId().GetValue(), ex)
		ag.used = ag.used.Add(exPlan.executorResources)
		fw.used = fw.used.Add(exPlan.executorResources)
		available = available.Subtract(exPlan.executorResources)
	}
	for i, ti := range tasks {
		m.addGroupTask(fw, ag, role, ex, ti, plans[i].taskResources)
		available = available.Subtract(plans[i].taskResources)
	}
	ag.conn.send(&protocol.AgentEvent{
		Type: protocol.AgentEvent_RUN_TASK_GROUP.Enum(),
		RunTaskGroup: &protocol.AgentEvent_RunTaskGroup{
			Framework: fw.info,
			Executor:  ex,
			TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks},
		},
	})
	m.changed()
	return available
}

// addGroupTask records one task of a validated group as STAGING.
func (m *Master) addGroupTask(fw *framework, ag *agent, role string, ex *mesos.ExecutorInfo, ti *mesos.TaskInfo, res resources.Resources) {
	t := &task{
		id:          ti.GetTaskId().GetValue(),
		name:        ti.GetName(),
		frameworkID: fw.id,
		agentID:     ag.id,
		executorID:  ex.GetExecutorId().GetValue(),
		info:        storedTaskInfo(ti),
		user:        taskUser(fw, ti),
		role:        role,
		resources:   res,
		state:       mesos.TaskState_TASK_STAGING,
	}
	fw.tasks[t.id] = t
	ag.addTask(t)
	ag.used = ag.used.Add(res)
	fw.used = fw.used.Add(res)
	m.metrics.taskTransition(mesos.TaskState_TASK_UNKNOWN, mesos.TaskState_TASK_STAGING)
	m.taskAdded(t)
}

// refuseGroup fails every task of an invalid group.
func (m *Master) refuseGroup(fw *framework, ag *agent, tasks []*mesos.TaskInfo, why error, now time.Time) {
	for _, ti := range tasks {
		m.sendUpdate(fw.id, &mesos.TaskStatus{
			TaskId:    ti.GetTaskId(),
			State:     mesos.TaskState_TASK_ERROR.Enum(),
			Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
			Reason:    mesos.TaskStatus_REASON_TASK_GROUP_INVALID.Enum(),
			Message:   ptr(why.Error()),
			AgentId:   ag.info.GetId(),
			Timestamp: ptr(float64(now.UnixNano()) / 1e9),
		})
		m.metrics.taskError()
	}
}

// validateTaskGroup checks a LAUNCH_GROUP as Mesos' master does: a DEFAULT
// executor (no command; a MESOS container without an image, if any; at
// least 0.01 cpus, 32 MB mem and some disk), then each task as a LAUNCH
// task would be, plus the group's rules (no executor of its own, no DOCKER
// container, no network_infos, unique IDs), all within the offer.
func (m *Master) validateTaskGroup(fw *framework, ag *agent, role string, available resources.Resources,
	ex *mesos.ExecutorInfo, tasks []*mesos.TaskInfo) ([]launchPlan, launchPlan, error) {
	var exPlan launchPlan
	if len(tasks) == 0 {
		return nil, exPlan, errors.New("Task group must contain at least one task")
	}
	if err := m.validateDefaultExecutor(fw, ag, role, ex, &exPlan); err != nil {
		return nil, exPlan, err
	}
	left := available.Subtract(exPlan.executorResources)
	if !available.Contains(exPlan.executorResources) {
		return nil, exPlan, fmt.Errorf("Executor resources %s are more than available %s",
			exPlan.executorResources.String(), available.String())
	}
	seen := map[string]bool{}
	plans := make([]launchPlan, 0, len(tasks))
	for _, ti := range tasks {
		if err := groupTaskRules(ti, seen); err != nil {
			return nil, exPlan, err
		}
		plan, err := m.validateTask(fw, ag, role, left, ti)
		if err != nil {
			return nil, exPlan, fmt.Errorf("Task '%s' is invalid: %w", ti.GetTaskId().GetValue(), err)
		}
		left = left.Subtract(plan.taskResources)
		plans = append(plans, plan)
	}
	return plans, exPlan, nil
}

// groupTaskRules are what a task may not do in a group.
func groupTaskRules(ti *mesos.TaskInfo, seen map[string]bool) error {
	id := ti.GetTaskId().GetValue()
	switch {
	case seen[id]:
		return fmt.Errorf("Task group has duplicate task ID: '%s'", id)
	case ti.Executor != nil:
		return fmt.Errorf("Task '%s' of a task group must not have 'executor' set", id)
	case ti.Container != nil && ti.GetContainer().GetType() == mesos.ContainerInfo_DOCKER:
		return fmt.Errorf("Task '%s': Docker ContainerInfo is not supported in a task group", id)
	case len(ti.GetContainer().GetNetworkInfos()) > 0:
		return fmt.Errorf("Task '%s': NetworkInfos must not be set in a task group's tasks", id)
	}
	seen[id] = true
	return nil
}

// validateDefaultExecutor checks the group's executor; a new one is
// charged to exPlan, a running one must be the same executor.
func (m *Master) validateDefaultExecutor(fw *framework, ag *agent, role string, ex *mesos.ExecutorInfo, exPlan *launchPlan) error {
	eid := ex.GetExecutorId().GetValue()
	if err := validateID("Executor ID", eid); err != nil {
		return err
	}
	switch {
	case ex.GetType() != mesos.ExecutorInfo_DEFAULT:
		return errors.New("LAUNCH_GROUP needs an executor of type DEFAULT")
	case ex.Command != nil:
		return errors.New("An executor of type DEFAULT must not have a CommandInfo")
	case ex.GetContainer() != nil && ex.GetContainer().GetType() != mesos.ContainerInfo_MESOS:
		return errors.New("An executor of type DEFAULT can only have a MESOS container")
	case ex.GetContainer().GetMesos().GetImage() != nil:
		return errors.New("An executor of type DEFAULT must not have an image")
	case ex.FrameworkId == nil:
		ex.FrameworkId = &mesos.FrameworkID{Value: ptr(fw.id)}
	case ex.GetFrameworkId().GetValue() != fw.id:
		return fmt.Errorf("ExecutorInfo has an invalid FrameworkID (actual: %s vs expected: %s)", ex.GetFrameworkId().GetValue(), fw.id)
	}
	res, err := m.taskResources(fw, role, ex.GetResources())
	if err != nil {
		return fmt.Errorf("Executor has invalid resources: %w", err)
	}
	if err := defaultExecutorMinimums(res); err != nil {
		return err
	}
	ex.Resources = res.ToProto(resources.PreRefinement)
	if existing := ag.executors[fw.id][eid]; existing != nil {
		if !sameExecutor(existing, ex) {
			return fmt.Errorf("ExecutorInfo is not compatible with the one of the running executor '%s'", eid)
		}
		return nil
	}
	exPlan.newExecutor, exPlan.executorResources = ex, res
	return nil
}

func defaultExecutorMinimums(res resources.Resources) error {
	switch {
	case res.Scalar("cpus").Float() < minExecutorCPUs:
		return fmt.Errorf("Executor resources must include at least %g cpus", minExecutorCPUs)
	case res.Scalar("mem").Float() < minExecutorMemMB:
		return fmt.Errorf("Executor resources must include at least %d MB of mem", minExecutorMemMB)
	case res.Scalar("disk").Float() <= 0:
		return errors.New("Executor resources must include disk")
	}
	return nil
}
