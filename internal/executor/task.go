package executor

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer/cgroups"
)

// endCause is why the executor is killing a task, which decides the
// terminal state.
type endCause int

const (
	endNatural       endCause = iota // not killed: the exit status decides
	endKilled                        // KILL, SHUTDOWN, its group, or the agent lost ⇒ TASK_KILLED
	endMaxCompletion                 // max_completion_time passed ⇒ TASK_FAILED
	endUnhealthy                     // failed its health check too often ⇒ TASK_KILLED, healthy=false
)

// timerKind names a task's timers.
type timerKind int

const (
	timerEscalate      timerKind = iota // SIGKILL after the grace period
	timerMaxCompletion                  // the task's max_completion_time
	timerKinds
)

// taskTimer is a task's timer firing; gen tells a stale firing (the timer
// was re-armed or stopped since) from a live one.
type taskTimer struct {
	t    *task
	kind timerKind
	gen  uint64
}

// task is one task the executor runs.
type task struct {
	info  *mesos.TaskInfo
	group *taskGroup         // nil for a command task
	place taskPlace          // where it runs
	proc  runner             // nil if it never started
	child *mesos.ContainerID // its nested container (task groups)

	acknowledged  bool // the agent acknowledged one of its updates
	cause         endCause
	killing       bool
	sigkillAt     time.Time
	exited        bool
	terminal      *pendingUpdate // its terminal update, once sent
	terminalAcked bool

	timers [timerKinds]*time.Timer
	gens   [timerKinds]uint64

	// oomKills is its memory cgroup's OOM kill count when it started; -1
	// when there is no memory cgroup to ask.
	oomKills int64

	probes      context.CancelFunc // stops its health check and check
	health      *healthState
	checkStatus *mesos.CheckStatusInfo // the latest, sent with every update
}

func (t *task) id() *mesos.TaskID { return t.info.GetTaskId() }

func (t *task) stopTimers() {
	for k := range t.timers {
		if t.timers[k] != nil {
			t.timers[k].Stop()
			t.timers[k] = nil
		}
		t.gens[k]++
	}
}

func (t *task) stopProbes() {
	if t.probes != nil {
		t.probes()
		t.probes = nil
	}
}

// setTimer arms one of t's timers to fire after d, replacing an earlier
// one of the same kind.
func (e *executor) setTimer(t *task, kind timerKind, d time.Duration) {
	if t.timers[kind] != nil {
		t.timers[kind].Stop()
	}
	t.gens[kind]++
	fire := taskTimer{t: t, kind: kind, gen: t.gens[kind]}
	t.timers[kind] = time.AfterFunc(d, func() {
		select {
		case e.timerCh <- fire:
		case <-e.ctx.Done():
		}
	})
}

func (e *executor) onTimer(tm taskTimer) {
	t := tm.t
	if tm.gen != t.gens[tm.kind] || t.exited {
		return
	}
	t.timers[tm.kind] = nil
	switch tm.kind {
	case timerEscalate:
		e.log.Info("grace period over: sending SIGKILL", "task_id", t.id().GetValue())
		e.signal(t, syscall.SIGKILL)
	case timerMaxCompletion:
		e.log.Info("task reached its max completion time", "task_id", t.id().GetValue())
		e.killTask(t, killGrace(t.info.GetKillPolicy()), endMaxCompletion)
	}
}

// onLaunch runs the task of a LAUNCH: this executor is then a command
// executor, which runs that one task only.
func (e *executor) onLaunch(info *mesos.TaskInfo) {
	id := info.GetTaskId()
	switch {
	case e.shutdown || e.abort != nil:
		e.log.Warn("ignoring LAUNCH while shutting down", "task_id", id.GetValue())
		return
	case e.findTask(id.GetValue()) != nil:
		e.log.Info("ignoring repeated LAUNCH", "task_id", id.GetValue())
		return
	case e.mode == modeDefault:
		e.rejectTask(id, "The default executor runs task groups only (LAUNCH_GROUP)")
		return
	case len(e.tasks) > 0:
		e.rejectTask(id, `Attempted to run multiple tasks using a "command" executor`)
		return
	}
	e.mode = modeCommand
	t := &task{info: info}
	e.tasks = append(e.tasks, t)
	place, err := e.commandPlace()
	if err != nil {
		e.finishTask(t, mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum(),
			fmt.Sprintf("Failed to open the task's output: %v", err))
		return
	}
	t.place = place
	e.startTask(t)
}

// startTask starts a task: TASK_STARTING, then the process, then
// TASK_RUNNING and its checks. STARTING is posted while the process is
// being forked.
func (e *executor) startTask(t *task) {
	info := t.info
	e.log.Info("launching task", "task_id", info.GetTaskId().GetValue())
	if isDockerTask(info) {
		e.startDockerTask(t)
		return
	}
	spec, lerr := buildProcessSpec(info, t.place, e.cfg, e.log)
	if lerr != nil {
		t.place.close()
		e.finishTask(t, mesos.TaskState_TASK_FAILED, lerr.reason.Enum(), lerr.message)
		return
	}
	e.queue(e.newStatus(t, mesos.TaskState_TASK_STARTING))
	t.oomKills = e.oomKills()
	proc, err := startProcess(spec)
	t.place.close()
	if err != nil {
		e.finishTask(t, mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum(),
			fmt.Sprintf("Failed to launch command: %v", err))
		return
	}
	t.proc = proc
	e.helpers.Go(func() { e.awaitExit(t, proc) })
	e.startProbes(t, processTarget(spec))
	e.queue(e.runningStatus(t))
	if info.GetMaxCompletionTime() != nil {
		e.setTimer(t, timerMaxCompletion, durationOf(info.GetMaxCompletionTime()))
	}
}

// startDockerTask is startTask for a task in a Docker container.
func (e *executor) startDockerTask(t *task) {
	e.queue(e.newStatus(t, mesos.TaskState_TASK_STARTING))
	r, lerr := e.startDocker(t)
	if lerr != nil {
		e.finishTask(t, mesos.TaskState_TASK_FAILED, lerr.reason.Enum(), lerr.message)
		return
	}
	t.proc = r
	e.helpers.Go(func() { e.awaitExit(t, r) })
	e.startProbes(t, r.probeTarget(e.ctx))
	e.queue(e.runningStatus(t))
	if t.info.GetMaxCompletionTime() != nil {
		e.setTimer(t, timerMaxCompletion, durationOf(t.info.GetMaxCompletionTime()))
	}
}

func (e *executor) awaitExit(t *task, p runner) {
	x := p.wait()
	x.t = t
	select {
	case e.exitCh <- x:
	case <-e.ctx.Done():
	}
}

// newStatus is an update for t with a fresh uuid, carrying the latest
// check status.
func (e *executor) newStatus(t *task, state mesos.TaskState) *mesos.TaskStatus {
	s := e.template.status(t.id(), state, time.Now())
	if t.checkStatus != nil {
		s.CheckStatus = proto.CloneOf(t.checkStatus)
	}
	return s
}

func (e *executor) runningStatus(t *task) *mesos.TaskStatus {
	s := e.newStatus(t, mesos.TaskState_TASK_RUNNING)
	s.ContainerStatus = &mesos.ContainerStatus{
		ContainerId: e.containerID,
		ExecutorPid: proto.Uint32(uint32(os.Getpid())),
	}
	if t.child != nil {
		s.ContainerStatus.ContainerId = t.child
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

// onKill kills the task on the agent's KILL (and, in a task group, the
// rest of its group). The KILL's kill policy overrides the task's; a later
// KILL can only bring the SIGKILL closer.
func (e *executor) onKill(kill *executorv1.Event_Kill) {
	id := kill.GetTaskId().GetValue()
	t := e.findTask(id)
	switch {
	case t == nil:
		e.log.Warn("ignoring KILL for a task this executor does not run", "task_id", id)
		return
	case t.exited:
		e.log.Info("ignoring KILL for a task that is already over", "task_id", id)
		return
	}
	for _, member := range e.killScope(t) {
		e.killTask(member, killGrace(kill.GetKillPolicy(), member.info.GetKillPolicy()), endKilled)
	}
}

// killScope is what killing t kills: t, or its whole task group.
func (e *executor) killScope(t *task) []*task {
	if t.group == nil {
		return []*task{t}
	}
	return t.group.tasks
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
func (e *executor) killTask(t *task, grace time.Duration, cause endCause) {
	if t.exited || t.proc == nil {
		return
	}
	deadline := time.Now().Add(grace)
	if t.killing {
		if deadline.Before(t.sigkillAt) {
			e.log.Info("kill grace period shortened", "task_id", t.id().GetValue(), "grace", grace)
			t.sigkillAt = deadline
			e.setTimer(t, timerEscalate, grace)
		}
		return
	}
	t.killing, t.cause, t.sigkillAt = true, cause, deadline
	t.stopProbes()
	e.log.Info("killing task", "task_id", t.id().GetValue(), "grace", grace)
	if e.frameworkHas(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) {
		e.queue(e.newStatus(t, mesos.TaskState_TASK_KILLING))
	}
	e.signal(t, syscall.SIGTERM)
	e.setTimer(t, timerEscalate, grace)
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
	t := x.t
	t.stopTimers()
	t.stopProbes()
	if t.cause == endNatural && x.err == nil && !(x.status.Exited() && x.status.ExitStatus() == 0) &&
		t.oomKills >= 0 && selfOOMKills() > t.oomKills {
		e.log.Warn("task killed for exceeding its container's memory limit", "task_id", t.id().GetValue())
		e.finishLimited(t)
	} else {
		state, reason, message := t.outcome(x)
		e.log.Info("task process ended", "task_id", t.id().GetValue(), "state", state, "message", message)
		e.finishTask(t, state, reason, message)
	}
	if t.group != nil && t.terminal.update.GetStatus().GetState() != mesos.TaskState_TASK_FINISHED {
		e.groupMemberFailed(t)
	}
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
	case t.cause == endUnhealthy:
		return mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum(),
			"Task killed after failing its health check: " + describeExit(x.status)
	case t.cause == endKilled:
		return mesos.TaskState_TASK_KILLED, nil, describeExit(x.status)
	case x.status.Exited() && x.status.ExitStatus() == 0:
		return mesos.TaskState_TASK_FINISHED, nil, describeExit(x.status)
	}
	return mesos.TaskState_TASK_FAILED, nil, describeExit(x.status)
}

// oomKills is the OOM kill count of the memory cgroup the task starts in,
// -1 when that is not the task's own: inside an executor host, the
// cgroup is shared with every other task of the host.
func (e *executor) oomKills() int64 {
	if e.cfg.Hosting != nil {
		return -1
	}
	return selfOOMKills()
}

// selfOOMKills is the OOM kill count of the executor's memory cgroup,
// which its tasks share; -1 without one.
func selfOOMKills() int64 {
	n, err := cgroups.SelfOOMKills()
	if err != nil {
		return -1
	}
	return int64(n)
}

// finishLimited ends a task that failed while the kernel OOM-killed in
// its container (itself or one of its processes, a shell's child say): TASK_FAILED,
// REASON_CONTAINER_LIMITATION_MEMORY, with the limited resource.
func (e *executor) finishLimited(t *task) {
	var mem []*mesos.Resource
	for _, r := range t.info.GetResources() {
		if r.GetName() == "mem" {
			mem = append(mem, r)
		}
	}
	s := e.terminalStatus(t, mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY.Enum(),
		"Memory limit exceeded: the task was killed by the kernel's OOM killer")
	s.Limitation = &mesos.TaskResourceLimitation{Resources: mem}
	e.sendTerminal(t, s)
}

// finishTask sends the task's terminal update; once no task is left
// running, the wait for the acknowledgements begins.
func (e *executor) finishTask(t *task, state mesos.TaskState, reason *mesos.TaskStatus_Reason, message string) {
	e.sendTerminal(t, e.terminalStatus(t, state, reason, message))
}

func (e *executor) terminalStatus(t *task, state mesos.TaskState, reason *mesos.TaskStatus_Reason, message string) *mesos.TaskStatus {
	s := e.newStatus(t, state)
	s.Message = proto.String(message)
	s.Reason = reason
	if t.cause == endUnhealthy {
		s.Healthy = proto.Bool(false)
	}
	return s
}

func (e *executor) sendTerminal(t *task, s *mesos.TaskStatus) {
	t.exited = true
	t.terminal = e.queue(s)
	if e.liveTasks() == 0 {
		// The ack is due once the agent has taken the update (armAckWait);
		// the call may take up to callTimeout to be answered.
		e.ackWait.set(e.terminalAckWait() + callTimeout)
	}
}
