package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/protocol"
)

// shutdownDestroyTimeout bounds how long a master-ordered SHUTDOWN waits
// for each container to be destroyed.
const shutdownDestroyTimeout = 30 * time.Second

// handleEvent applies one event from the master. A non-nil error ends the
// stream: ErrShutdown stops the agent, anything else re-subscribes.
func (a *Agent) handleEvent(ev *protocol.AgentEvent) error {
	switch ev.GetType() {
	case protocol.AgentEvent_RUN_TASK:
		if rt := ev.GetRunTask(); rt != nil {
			if a.cfg.NoSwitchUser {
				rt = proto.CloneOf(rt)
				clearUsers(rt.GetExecutor().GetCommand(), rt.GetTask().GetCommand(), rt.GetTask().GetExecutor().GetCommand())
			}
			a.runTask(rt)
			return nil
		}
	case protocol.AgentEvent_RUN_TASK_GROUP:
		if rg := ev.GetRunTaskGroup(); rg != nil {
			if a.cfg.NoSwitchUser {
				rg = proto.CloneOf(rg)
				clearUsers(rg.GetExecutor().GetCommand())
				for _, t := range rg.GetTaskGroup().GetTasks() {
					clearUsers(t.GetCommand())
				}
			}
			a.runTaskGroup(rg)
			return nil
		}
	case protocol.AgentEvent_KILL_TASK:
		if kt := ev.GetKillTask(); kt != nil {
			a.killTask(kt)
			return nil
		}
	case protocol.AgentEvent_ACKNOWLEDGE:
		if ack := ev.GetAcknowledge(); ack != nil {
			a.acknowledge(ack)
			return nil
		}
	case protocol.AgentEvent_SHUTDOWN_EXECUTOR:
		if se := ev.GetShutdownExecutor(); se != nil {
			a.shutdownExecutorByID(se.GetFrameworkId().GetValue(), se.GetExecutorId().GetValue())
			return nil
		}
	case protocol.AgentEvent_SHUTDOWN_FRAMEWORK:
		if sf := ev.GetShutdownFramework(); sf != nil {
			a.shutdownFramework(sf.GetFrameworkId().GetValue())
			return nil
		}
	case protocol.AgentEvent_MESSAGE:
		if m := ev.GetMessage(); m != nil {
			a.messageToExecutor(m)
			return nil
		}
	case protocol.AgentEvent_UPDATE_FRAMEWORK:
		if uf := ev.GetUpdateFramework(); uf != nil {
			a.updateFramework(uf.GetFrameworkInfo())
			return nil
		}
	case protocol.AgentEvent_CHECKPOINT_RESOURCES:
		if cr := ev.GetCheckpointResources(); cr != nil {
			a.checkpointResources(cr)
			return nil
		}
	case protocol.AgentEvent_PING:
		a.calls.Put(&protocol.AgentCall{
			Type: protocol.AgentCall_PONG.Enum(),
			Pong: &protocol.AgentCall_Pong{Sequence: proto.Uint64(ev.GetPing().GetSequence())},
		})
		return nil
	case protocol.AgentEvent_SHUTDOWN:
		msg := ev.GetShutdown().GetMessage()
		a.log.Warn("master ordered shutdown", "message", msg)
		a.destroyAll()
		return fmt.Errorf("%w: %s", ErrShutdown, msg)
	case protocol.AgentEvent_ERROR:
		msg := ev.GetError().GetMessage()
		a.log.Error("master sent an error", "message", msg)
		return fmt.Errorf("%w: master error: %s", errResubscribe, msg)
	}
	a.log.Warn("ignoring unexpected or malformed event", "type", ev.GetType())
	return nil
}

// runTask starts (or reuses) the task's executor and queues or delivers the
// task.
func (a *Agent) runTask(rt *protocol.AgentEvent_RunTask) {
	fwInfo, info := rt.GetFramework(), rt.GetTask()
	fid, tid := fwInfo.GetId().GetValue(), info.GetTaskId().GetValue()
	a.mu.Lock()
	defer a.mu.Unlock()
	exInfo, command, err := a.executorInfoFor(rt)
	if err == nil {
		err = validIDs(fid, tid, exInfo.GetExecutorId().GetValue())
	}
	if err != nil {
		a.log.Warn("refusing task", "framework_id", fid, "task_id", tid, "err", err)
		a.orphanUpdate(fid, tid, mesos.TaskState_TASK_ERROR, mesos.TaskStatus_REASON_TASK_INVALID, err.Error())
		return
	}
	fw := a.frameworkFor(fwInfo)
	if _, dup := fw.taskExecutor[tid]; dup {
		a.log.Warn("ignoring duplicate task", "framework_id", fid, "task_id", tid)
		return
	}
	t := &task{info: info, state: mesos.TaskState_TASK_STAGING}
	eid := exInfo.GetExecutorId().GetValue()
	ex := fw.executors[eid]
	switch {
	case ex == nil:
		a.keepFromGC(fw, eid)
		a.startExecutor(fw, exInfo, command, t)
		ex = fw.executors[eid]
	case ex.state >= executorTerminating:
		state := mesos.TaskState_TASK_LOST
		if fw.partitionAware() {
			state = mesos.TaskState_TASK_DROPPED
		}
		a.orphanUpdate(fid, tid, state, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor terminating")
		return
	default:
		a.addTask(ex, t)
	}
	if !ex.command {
		// Before the task can be delivered, which takes a.mu.
		a.exposeVolumes(ex, info.GetResources())
	}
}

func validIDs(fid, tid, eid string) error {
	if err := validPathID("framework ID", fid); err != nil {
		return err
	}
	if err := validPathID("task ID", tid); err != nil {
		return err
	}
	return validPathID("executor ID", eid)
}

// frameworkFor returns the framework, creating (and checkpointing) it on
// first sight and refreshing its info otherwise.
func (a *Agent) frameworkFor(info *mesos.FrameworkInfo) *framework {
	fw := a.frameworks[info.GetId().GetValue()]
	if fw == nil {
		fw = newFramework(info)
		a.frameworks[fw.id] = fw
	} else if proto.Equal(fw.info, info) {
		return fw
	}
	fw.info = info
	if err := a.checkpointFramework(fw); err != nil {
		a.log.Error("checkpointing framework", "framework_id", fw.id, "err", err)
	}
	return fw
}

// killTask kills a queued task at once, asks a running task's executor to
// kill it, and answers TASK_LOST for a task it does not know.
func (a *Agent) killTask(kt *protocol.AgentEvent_KillTask) {
	fid, tid := kt.GetFrameworkId().GetValue(), kt.GetTaskId().GetValue()
	a.mu.Lock()
	defer a.mu.Unlock()
	var ex *executor
	if fw := a.frameworks[fid]; fw != nil {
		ex = fw.taskExecutor[tid]
	}
	if ex == nil {
		a.log.Warn("kill of an unknown task", "framework_id", fid, "task_id", tid)
		a.orphanUpdate(fid, tid, mesos.TaskState_TASK_LOST, mesos.TaskStatus_REASON_TASK_UNKNOWN,
			"Attempted to kill an unknown task")
		return
	}
	t, queued := ex.task(tid)
	switch {
	case queued:
		a.agentUpdate(ex, t, mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH,
			"Killed before delivery to the executor")
		if ex.liveTasks() == 0 {
			a.shutdownExecutor(ex, termination{mesos.TaskState_TASK_KILLED,
				mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH, "Killed before delivery to the executor"})
		}
	case t.state.IsTerminal():
		a.log.Info("kill of a terminal task ignored", "framework_id", fid, "task_id", tid, "state", t.state)
	case ex.conn != nil:
		policy := kt.GetKillPolicy()
		if policy == nil {
			policy = t.info.GetKillPolicy()
		}
		ex.conn.send(&executorpb.Event{
			Type: executorpb.Event_KILL.Enum(),
			Kill: &executorpb.Event_Kill{TaskId: t.info.TaskId, KillPolicy: policy},
		})
	default:
		a.log.Warn("cannot deliver kill: executor not connected", "framework_id", fid, "task_id", tid,
			"executor_id", ex.id, "executor_state", ex.state)
	}
}

// acknowledge passes the master's ACKNOWLEDGE to the update manager and
// retires the task once its terminal update is acknowledged.
func (a *Agent) acknowledge(ack *protocol.AgentEvent_Acknowledge) {
	fid, tid := ack.GetFrameworkId().GetValue(), ack.GetTaskId().GetValue()
	a.mu.Lock()
	defer a.mu.Unlock()
	res, err := a.updates.Acknowledge(fid, tid, ack.GetUuid(), time.Now())
	if err != nil {
		a.log.Error("checkpointing acknowledgement", "framework_id", fid, "task_id", tid, "err", err)
	}
	if !res.Matched {
		a.log.Debug("ignoring stale or unknown acknowledgement", "framework_id", fid, "task_id", tid)
		return
	}
	if res.Done {
		a.retireTask(fid, tid)
	}
}

// retireTask moves a task whose terminal update was acknowledged to its
// executor's completed tasks.
func (a *Agent) retireTask(fid, tid string) {
	fw := a.frameworks[fid]
	if fw == nil {
		return
	}
	ex := fw.taskExecutor[tid]
	if ex == nil {
		return
	}
	delete(fw.taskExecutor, tid)
	if t := ex.launched[tid]; t != nil {
		delete(ex.launched, tid)
		ex.completedTasks = appendCapped(ex.completedTasks, t, maxCompletedTasks)
	}
	a.maybeRetireExecutor(ex)
}

func (a *Agent) shutdownExecutorByID(fid, eid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fw := a.frameworks[fid]
	if fw == nil || fw.executors[eid] == nil {
		a.log.Warn("shutdown of an unknown executor", "framework_id", fid, "executor_id", eid)
		return
	}
	a.shutdownExecutor(fw.executors[eid], termination{mesos.TaskState_TASK_KILLED,
		mesos.TaskStatus_REASON_EXECUTOR_TERMINATED, "Executor shut down by the master"})
}

func (a *Agent) shutdownFramework(fid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fw := a.frameworks[fid]
	if fw == nil {
		return
	}
	fw.removed = true
	for _, ex := range fw.executors {
		a.shutdownExecutor(ex, termination{mesos.TaskState_TASK_KILLED,
			mesos.TaskStatus_REASON_FRAMEWORK_REMOVED, "Framework shut down"})
		a.maybeRetireExecutor(ex)
	}
}

func (a *Agent) messageToExecutor(m *protocol.AgentEvent_Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ex *executor
	if fw := a.frameworks[m.GetFrameworkId().GetValue()]; fw != nil {
		ex = fw.executors[m.GetExecutorId().GetValue()]
	}
	if ex == nil || ex.conn == nil {
		a.log.Warn("dropping framework message: executor not connected",
			"framework_id", m.GetFrameworkId().GetValue(), "executor_id", m.GetExecutorId().GetValue())
		return
	}
	ex.conn.send(&executorpb.Event{
		Type:    executorpb.Event_MESSAGE.Enum(),
		Message: &executorpb.Event_Message{Data: m.GetData()},
	})
}

func (a *Agent) updateFramework(info *mesos.FrameworkInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.frameworks[info.GetId().GetValue()] != nil {
		a.frameworkFor(info)
	}
}

// destroyAll destroys every container (the master removed this agent).
func (a *Agent) destroyAll() {
	a.mu.Lock()
	var ids []string
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.state != executorTerminated {
				ex.state = executorTerminating
				ex.cause = &termination{mesos.TaskState_TASK_KILLED,
					mesos.TaskStatus_REASON_AGENT_REMOVED, "Agent shut down by the master"}
				ids = append(ids, ex.containerID)
			}
		}
	}
	a.mu.Unlock()
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownDestroyTimeout)
		// An unknown container ended (and was forgotten) meanwhile.
		if err := a.cont.Destroy(ctx, id); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
			a.log.Error("destroying container", "container_id", id, "err", err)
		}
		cancel()
	}
}

// clearUsers drops the users the commands name (--switch_user=false: the
// executor then runs its tasks as itself, the agent's user, as in Mesos).
func clearUsers(cmds ...*mesos.CommandInfo) {
	for _, c := range cmds {
		if c != nil {
			c.User = nil
		}
	}
}
