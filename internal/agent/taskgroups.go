package agent

import (
	"errors"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
)

// runTaskGroup starts (or reuses) the group's default executor, which runs
// Agora's built-in executor in one container for all the group's tasks,
// and queues or delivers the group as one LAUNCH_GROUP.
func (a *Agent) runTaskGroup(rg *protocol.AgentEvent_RunTaskGroup) {
	fwInfo, exInfo, group := rg.GetFramework(), rg.GetExecutor(), rg.GetTaskGroup()
	fid := fwInfo.GetId().GetValue()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := validTaskGroup(fid, exInfo, group); err != nil {
		a.log.Warn("refusing task group", "framework_id", fid, "err", err)
		for _, ti := range group.GetTasks() {
			a.orphanUpdate(fid, ti.GetTaskId().GetValue(), mesos.TaskState_TASK_ERROR,
				mesos.TaskStatus_REASON_TASK_GROUP_INVALID, err.Error())
		}
		return
	}
	if exInfo.FrameworkId == nil {
		exInfo = proto.CloneOf(exInfo)
		exInfo.FrameworkId = fwInfo.GetId()
	}
	fw := a.frameworkFor(fwInfo)
	var tasks []*task
	for _, ti := range group.GetTasks() {
		if _, dup := fw.taskExecutor[ti.GetTaskId().GetValue()]; dup {
			a.log.Warn("ignoring duplicate task", "framework_id", fid, "task_id", ti.GetTaskId().GetValue())
			continue
		}
		tasks = append(tasks, &task{info: ti, group: group, state: mesos.TaskState_TASK_STAGING})
	}
	if len(tasks) == 0 {
		return
	}
	eid := exInfo.GetExecutorId().GetValue()
	ex := fw.executors[eid]
	switch {
	case ex == nil:
		a.keepFromGC(fw, eid)
		a.startExecutor(fw, exInfo, false, tasks...)
		ex = fw.executors[eid]
		a.checkpointTasks(ex, tasks[1:]) // the first is checkpointed with the run
	case ex.state >= executorTerminating:
		state := mesos.TaskState_TASK_LOST
		if fw.partitionAware() {
			state = mesos.TaskState_TASK_DROPPED
		}
		for _, t := range tasks {
			a.orphanUpdate(fid, t.info.GetTaskId().GetValue(), state, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminating")
		}
		return
	default:
		a.addTaskGroup(ex, tasks)
	}
	for _, t := range tasks {
		a.exposeVolumes(ex, t.info.GetResources())
	}
}

// validTaskGroup checks what the agent relies on: IDs that become paths,
// a DEFAULT executor, at least one task.
func validTaskGroup(fid string, ex *mesos.ExecutorInfo, group *mesos.TaskGroupInfo) error {
	if ex.GetType() != mesos.ExecutorInfo_DEFAULT {
		return errors.New("a task group needs an executor of type DEFAULT")
	}
	if len(group.GetTasks()) == 0 {
		return errors.New("the task group has no tasks")
	}
	for _, ti := range group.GetTasks() {
		if err := validIDs(fid, ti.GetTaskId().GetValue(), ex.GetExecutorId().GetValue()); err != nil {
			return err
		}
	}
	return nil
}

// addTaskGroup gives a group to a running default executor: delivered at
// once if it is subscribed, else queued. Callers hold a.mu.
func (a *Agent) addTaskGroup(ex *executor, tasks []*task) {
	for _, t := range tasks {
		ex.fw.taskExecutor[t.info.GetTaskId().GetValue()] = ex
	}
	a.checkpointTasks(ex, tasks)
	if ex.conn == nil {
		ex.queued = append(ex.queued, tasks...)
		return
	}
	for _, t := range tasks {
		ex.launched[t.info.GetTaskId().GetValue()] = t
	}
	for _, ev := range launchEvents(tasks) {
		ex.conn.send(ev)
	}
}

// checkpointTasks writes the task.info of tasks of a checkpointing
// framework. Callers hold a.mu.
func (a *Agent) checkpointTasks(ex *executor, tasks []*task) {
	if ex.metaRun == "" {
		return
	}
	for _, t := range tasks {
		tid := t.info.GetTaskId().GetValue()
		if err := writeNewMessage(taskInfoFile(ex.metaRun, tid), t.info); err != nil {
			a.log.Error("checkpointing task", "task_id", tid, "err", err)
		}
	}
}

// launchEvents are the events that deliver tasks: LAUNCH for a task of its
// own, one LAUNCH_GROUP for the tasks of a group that arrive together.
func launchEvents(tasks []*task) []*executorpb.Event {
	var out []*executorpb.Event
	for i := 0; i < len(tasks); {
		t := tasks[i]
		if t.group == nil {
			out = append(out, launchEvent(t))
			i++
			continue
		}
		group := &mesos.TaskGroupInfo{}
		for ; i < len(tasks) && tasks[i].group == t.group; i++ {
			group.Tasks = append(group.Tasks, tasks[i].info)
		}
		out = append(out, &executorpb.Event{
			Type:        executorpb.Event_LAUNCH_GROUP.Enum(),
			LaunchGroup: &executorpb.Event_LaunchGroup{TaskGroup: group},
		})
	}
	return out
}
