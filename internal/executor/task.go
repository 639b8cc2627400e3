package executor

import (
	"fmt"
	"os"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// endCause is why the executor is killing its task, which decides the
// terminal state.
type endCause int

const (
	endNatural       endCause = iota // not killed: the exit status decides
	endKilled                        // KILL, SHUTDOWN, or the agent lost ⇒ TASK_KILLED
	endMaxCompletion                 // max_completion_time passed ⇒ TASK_FAILED
)

// task is the one task a command executor runs.
type task struct {
	info          *mesos.TaskInfo
	proc          *process // nil if it never started
	acknowledged  bool     // the agent acknowledged one of its updates
	cause         endCause
	killing       bool
	sigkillAt     time.Time
	exited        bool
	terminal      *pendingUpdate // its terminal update, once sent
	terminalAcked bool
}

func (t *task) id() *mesos.TaskID { return t.info.GetTaskId() }

// onLaunch starts the task: TASK_STARTING, then the process, then
// TASK_RUNNING. STARTING is posted while the process is being forked.
func (e *executor) onLaunch(info *mesos.TaskInfo) {
	id := info.GetTaskId()
	switch {
	case e.shutdown || e.abort != nil:
		e.log.Warn("ignoring LAUNCH while shutting down", "task_id", id.GetValue())
		return
	case e.task != nil && e.task.id().GetValue() == id.GetValue():
		e.log.Info("ignoring repeated LAUNCH", "task_id", id.GetValue())
		return
	case e.task != nil:
		e.rejectTask(id, `Attempted to run multiple tasks using a "command" executor`)
		return
	}
	t := &task{info: info}
	e.task = t
	e.log.Info("launching task", "task_id", id.GetValue())
	spec, lerr := buildProcessSpec(info, e.cfg, e.log)
	if lerr != nil {
		e.finishTask(mesos.TaskState_TASK_FAILED, lerr.reason.Enum(), lerr.message)
		return
	}
	e.queue(e.template.status(id, mesos.TaskState_TASK_STARTING, time.Now()))
	proc, err := startProcess(spec)
	if err != nil {
		e.finishTask(mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum(),
			fmt.Sprintf("Failed to launch command: %v", err))
		return
	}
	t.proc = proc
	e.helpers.Go(func() { e.awaitExit(proc) })
	e.queue(e.runningStatus(t))
	if d := durationOf(info.GetMaxCompletionTime()); info.GetMaxCompletionTime() != nil {
		e.maxCompletion.set(d)
	}
}

func (e *executor) awaitExit(p *process) {
	x := p.wait()
	select {
	case e.exitCh <- x:
	case <-e.ctx.Done():
	}
}

func (e *executor) runningStatus(t *task) *mesos.TaskStatus {
	s := e.template.status(t.id(), mesos.TaskState_TASK_RUNNING, time.Now())
	s.ContainerStatus = &mesos.ContainerStatus{
		ContainerId: e.containerID,
		ExecutorPid: proto.Uint32(uint32(os.Getpid())),
	}
	return s
}

// rejectTask fails a task this executor will not run.
func (e *executor) rejectTask(id *mesos.TaskID, message string) {
	e.log.Warn("rejecting task", "task_id", id.GetValue(), "message", message)
	s := e.template.status(id, mesos.TaskState_TASK_FAILED, time.Now())
	s.Message = proto.String(message)
	e.queue(s)
}

func (e *executor) onLaunchGroup(group *mesos.TaskGroupInfo) {
	for _, info := range group.GetTasks() {
		e.rejectTask(info.GetTaskId(), "The command executor cannot run task groups")
	}
}

// onKill kills the task on the agent's KILL. The KILL's kill policy
// overrides the task's; a later KILL can only bring the SIGKILL closer.
func (e *executor) onKill(kill *executorv1.Event_Kill) {
	t := e.task
	id := kill.GetTaskId().GetValue()
	switch {
	case t == nil || t.id().GetValue() != id:
		e.log.Warn("ignoring KILL for a task this executor does not run", "task_id", id)
		return
	case t.exited:
		e.log.Info("ignoring KILL for a task that is already over", "task_id", id)
		return
	}
	e.killTask(killGrace(kill.GetKillPolicy(), t.info.GetKillPolicy()), endKilled)
}

// killGrace is the grace period of the first policy that sets one, else the
// default.
func killGrace(policies ...*mesos.KillPolicy) time.Duration {
	for _, p := range policies {
		if p.GetGracePeriod() != nil {
			return durationOf(p.GetGracePeriod())
		}
	}
	return DefaultKillGracePeriod
}

func durationOf(d *mesos.DurationInfo) time.Duration {
	return time.Duration(max(0, d.GetNanoseconds()))
}

// killTask sends SIGTERM to the task's process group and schedules SIGKILL
// after grace. Killing a task that is already being killed only moves the
// SIGKILL closer.
func (e *executor) killTask(grace time.Duration, cause endCause) {
	t := e.task
	if t == nil || t.exited || t.proc == nil {
		return
	}
	deadline := time.Now().Add(grace)
	if t.killing {
		if deadline.Before(t.sigkillAt) {
			e.log.Info("kill grace period shortened", "task_id", t.id().GetValue(), "grace", grace)
			t.sigkillAt = deadline
			e.escalate.set(grace)
		}
		return
	}
	t.killing, t.cause, t.sigkillAt = true, cause, deadline
	e.log.Info("killing task", "task_id", t.id().GetValue(), "grace", grace)
	if e.frameworkHas(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) {
		e.queue(e.template.status(t.id(), mesos.TaskState_TASK_KILLING, time.Now()))
	}
	e.signal(t, syscall.SIGTERM)
	e.escalate.set(grace)
}

func (e *executor) onGraceExpired() {
	if t := e.task; t != nil && !t.exited {
		e.log.Info("grace period over: sending SIGKILL", "task_id", t.id().GetValue())
		e.signal(t, syscall.SIGKILL)
	}
}

func (e *executor) onMaxCompletionTime() {
	if t := e.task; t != nil && !t.exited {
		e.log.Info("task reached its max completion time", "task_id", t.id().GetValue())
		e.killTask(killGrace(t.info.GetKillPolicy()), endMaxCompletion)
	}
}

func (e *executor) signal(t *task, sig syscall.Signal) {
	if err := t.proc.signalGroup(sig); err != nil {
		e.log.Error("signalling task failed", "task_id", t.id().GetValue(), "err", err)
	}
}

func (e *executor) frameworkHas(c mesos.FrameworkInfo_Capability_Type) bool {
	for _, have := range e.framework.GetCapabilities() {
		if have.GetType() == c {
			return true
		}
	}
	return false
}

func (e *executor) onProcessExit(x processExit) {
	e.escalate.stop()
	e.maxCompletion.stop()
	t := e.task
	state, reason, message := t.outcome(x)
	e.log.Info("task process ended", "task_id", t.id().GetValue(), "state", state, "message", message)
	e.finishTask(state, reason, message)
}

// outcome is the terminal state, reason (nil for none) and message of the
// task's end.
func (t *task) outcome(x processExit) (mesos.TaskState, *mesos.TaskStatus_Reason, string) {
	switch {
	case x.err != nil:
		return mesos.TaskState_TASK_FAILED, nil, x.err.Error()
	case t.cause == endMaxCompletion:
		return mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED.Enum(),
			"Task exceeded its maximum completion time of " + durationOf(t.info.GetMaxCompletionTime()).String()
	case t.cause == endKilled:
		return mesos.TaskState_TASK_KILLED, nil, describeExit(x.status)
	case x.status.Exited() && x.status.ExitStatus() == 0:
		return mesos.TaskState_TASK_FINISHED, nil, describeExit(x.status)
	}
	return mesos.TaskState_TASK_FAILED, nil, describeExit(x.status)
}

// finishTask sends the task's terminal update.
func (e *executor) finishTask(state mesos.TaskState, reason *mesos.TaskStatus_Reason, message string) {
	t := e.task
	t.exited = true
	s := e.template.status(t.id(), state, time.Now())
	s.Message = proto.String(message)
	s.Reason = reason
	t.terminal = e.queue(s)
	e.ackWait.set(e.terminalAckWait())
}
