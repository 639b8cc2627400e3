package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/protocol"
)

// Command executor overhead (reference §5): added to the task's resources
// for the container, not accounted at the master.
const (
	commandExecutorCPUs  = 0.1
	commandExecutorMemMB = 32
)

// executorSubscriptionBackoffMax is handed to checkpointing executors
// (reference §5, §10).
const executorSubscriptionBackoffMax = 2 * time.Second

// executorInfoFor returns the ExecutorInfo a RUN_TASK runs under: the
// framework's custom executor, or a command executor generated for the task.
func (a *Agent) executorInfoFor(rt *protocol.AgentEvent_RunTask) (*mesos.ExecutorInfo, bool, error) {
	info := rt.GetTask()
	if ex := rt.GetExecutor(); ex != nil {
		if ex.GetCommand() == nil {
			return nil, false, errors.New("the task's executor has no command")
		}
		if ex.FrameworkId == nil {
			ex = proto.CloneOf(ex)
			ex.FrameworkId = rt.GetFramework().GetId()
		}
		return ex, false, nil
	}
	if info.GetCommand() == nil {
		return nil, false, errors.New("the task has neither a command nor an executor")
	}
	return commandExecutorInfo(rt.GetFramework(), info, a.executorCmd), true, nil
}

// commandExecutorInfo is the ExecutorInfo Mesos generates for a command
// task: executor ID = task ID, the command executor's argv, and the task's
// resources plus the executor overhead.
func commandExecutorInfo(fw *mesos.FrameworkInfo, t *mesos.TaskInfo, argv []string) *mesos.ExecutorInfo {
	resources := append([]*mesos.Resource(nil), t.GetResources()...)
	var alloc *mesos.Resource_AllocationInfo
	if len(resources) > 0 {
		alloc = resources[0].GetAllocationInfo()
	}
	resources = append(resources, scalarResource("cpus", commandExecutorCPUs, alloc),
		scalarResource("mem", commandExecutorMemMB, alloc))
	return &mesos.ExecutorInfo{
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(t.GetTaskId().GetValue())},
		FrameworkId: fw.GetId(),
		Name:        proto.String("Command Executor " + commandExecutorName(t)),
		Source:      proto.String(t.GetTaskId().GetValue()),
		Command: &mesos.CommandInfo{
			Shell:     proto.Bool(false),
			Value:     proto.String(argv[0]),
			Arguments: argv,
		},
		Resources: resources,
	}
}

func scalarResource(name string, v float64, alloc *mesos.Resource_AllocationInfo) *mesos.Resource {
	return &mesos.Resource{
		Name:           proto.String(name),
		Type:           mesos.Value_SCALAR.Enum(),
		Scalar:         &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: alloc,
	}
}

// commandExecutorName is Mesos' "(Task: <id>) (Command: sh -c '<cmd>')",
// with the command cut to 12 characters when longer than 15.
func commandExecutorName(t *mesos.TaskInfo) string {
	name := "(Task: " + t.GetTaskId().GetValue() + ") "
	cmd := t.GetCommand()
	if cmd.GetShell() {
		if cmd.Value == nil {
			return name + "(Command: NO COMMAND)"
		}
		return name + "(Command: sh -c '" + abbreviate(cmd.GetValue()) + "')"
	}
	if cmd.Value == nil {
		return name + "(Command: NO EXECUTABLE)"
	}
	args := cmd.GetValue() + ", " + strings.Join(cmd.GetArguments(), ", ")
	return name + "(Command: [" + abbreviate(args) + "])"
}

func abbreviate(s string) string {
	if len(s) > 15 {
		return s[:12] + "..."
	}
	return s
}

// startExecutor creates an executor for its first task and starts the
// goroutine that launches and watches it. Callers hold a.mu.
func (a *Agent) startExecutor(fw *framework, info *mesos.ExecutorInfo, command bool, tasks ...*task) {
	first := tasks[0]
	_, containerID := newUUID()
	eid := info.GetExecutorId().GetValue()
	ex := &executor{
		id:          eid,
		fw:          fw,
		info:        info,
		command:     command,
		containerID: containerID,
		directory:   a.paths.sandbox(a.agentID, fw.id, eid, containerID),
		user:        a.executorUser(fw.info, info, first.info),
		launched:    make(map[string]*task),
		queued:      tasks,
		launchedAt:  time.Now(),
	}
	infoFile := ""
	if fw.info.GetCheckpoint() {
		ex.metaRun = a.paths.metaRun(a.agentID, fw.id, eid, containerID)
		infoFile = a.paths.executorInfoFile(a.agentID, fw.id, eid)
	}
	fw.executors[eid] = ex
	for _, t := range tasks {
		fw.taskExecutor[t.info.GetTaskId().GetValue()] = ex
	}
	spec := a.launchSpec(ex)
	a.workers.Go(func() { a.runExecutor(ex, spec, infoFile, first.info) })
}

// executorUser is the user the executor runs as: the command's user, else
// the framework's; only a root agent switches users.
func (a *Agent) executorUser(fw *mesos.FrameworkInfo, ex *mesos.ExecutorInfo, t *mesos.TaskInfo) string {
	if os.Geteuid() != 0 || a.cfg.NoSwitchUser {
		return ""
	}
	cmd := ex.GetCommand()
	if t.GetCommand() != nil && t.GetExecutor() == nil {
		cmd = t.GetCommand()
	}
	if cmd.GetUser() != "" {
		return cmd.GetUser()
	}
	return fw.GetUser()
}

// addTask gives a task to an existing executor: delivered at once if it is
// subscribed, else queued. Callers hold a.mu.
func (a *Agent) addTask(ex *executor, t *task) {
	tid := t.info.GetTaskId().GetValue()
	ex.fw.taskExecutor[tid] = ex
	if ex.metaRun != "" {
		if err := writeNewMessage(taskInfoFile(ex.metaRun, tid), t.info); err != nil {
			a.log.Error("checkpointing task", "task_id", tid, "err", err)
		}
	}
	if ex.conn == nil {
		ex.queued = append(ex.queued, t)
		return
	}
	ex.launched[tid] = t
	ex.conn.send(launchEvent(t))
}

func launchEvent(t *task) *executorpb.Event {
	return &executorpb.Event{
		Type:   executorpb.Event_LAUNCH.Enum(),
		Launch: &executorpb.Event_Launch{Task: t.info},
	}
}

// launchSpec builds the container launch. Callers hold a.mu.
func (a *Agent) launchSpec(ex *executor) containerizer.LaunchSpec {
	cmd := ex.info.GetCommand()
	spec := containerizer.LaunchSpec{
		ContainerID:     ex.containerID,
		Sandbox:         ex.directory,
		Env:             a.executorEnv(ex),
		User:            ex.user,
		Stdout:          ex.directory + "/stdout",
		Stderr:          ex.directory + "/stderr",
		Resources:       containerResources(ex, ex.queued),
		BuiltinExecutor: builtinExecutor(ex),
	}
	var first *task
	if len(ex.queued) > 0 {
		first = ex.queued[0]
	}
	spec.Container, spec.ImageForTask = launchContainer(ex, first)
	switch {
	case spec.BuiltinExecutor:
		spec.Argv = a.executorCmd
	case cmd.GetShell():
		spec.Argv = []string{"/bin/sh", "-c", cmd.GetValue()}
	default:
		spec.Path = cmd.GetValue()
		spec.Argv = cmd.GetArguments()
		if len(spec.Argv) == 0 {
			spec.Argv = []string{cmd.GetValue()}
		}
	}
	return spec
}

// executorEnv is the agent's environment plus the MESOS_* variables of
// reference §5 and, for custom executors, the command's environment.
func (a *Agent) executorEnv(ex *executor) []string {
	checkpoint := ex.fw.info.GetCheckpoint()
	env := make([]string, 0, len(a.environ)+16)
	env = append(env, a.environ...)
	env = append(env,
		"MESOS_FRAMEWORK_ID="+ex.fw.id,
		"MESOS_EXECUTOR_ID="+ex.id,
		"MESOS_DIRECTORY="+ex.directory,
		"MESOS_SANDBOX="+ex.directory,
		"MESOS_AGENT_ENDPOINT="+a.addr,
		"MESOS_SLAVE_ID="+a.agentID,
		"MESOS_SLAVE_PID="+a.pid(),
		"MESOS_CHECKPOINT="+boolFlag(checkpoint),
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD="+mesosDuration(a.shutdownGrace(ex)),
	)
	if ex.command {
		env = append(env, "MESOS_HTTP_COMMAND_EXECUTOR=1")
	}
	if checkpoint {
		env = append(env,
			"MESOS_RECOVERY_TIMEOUT="+mesosDuration(a.cfg.RecoveryTimeout),
			"MESOS_SUBSCRIPTION_BACKOFF_MAX="+mesosDuration(executorSubscriptionBackoffMax))
	}
	if !ex.command {
		for _, v := range ex.info.GetCommand().GetEnvironment().GetVariables() {
			if v.GetType() == mesos.Environment_Variable_VALUE {
				env = append(env, v.GetName()+"="+v.GetValue())
			}
		}
	}
	return env
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// mesosDuration formats d the way Mesos flags do ("5secs", "15mins",
// "100ms").
func mesosDuration(d time.Duration) string {
	switch {
	case d%time.Minute == 0 && d >= time.Minute:
		return fmt.Sprintf("%dmins", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%dsecs", d/time.Second)
	default:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
}

func (a *Agent) shutdownGrace(ex *executor) time.Duration {
	if ns := ex.info.GetShutdownGracePeriod().GetNanoseconds(); ns > 0 {
		return time.Duration(ns)
	}
	return a.cfg.ExecutorShutdownGracePeriod
}

// runExecutor is the executor's goroutine: it prepares the sandbox, fetches
// the URIs into it, launches the container, waits for it to end, and
// reports the end.
func (a *Agent) runExecutor(ex *executor, spec containerizer.LaunchSpec, infoFile string, first *mesos.TaskInfo) {
	ctx := a.lifetime
	if err := a.prepareSandbox(ex); err != nil {
		a.executorEnded(ex, a.launchFailure(ex, err))
		return
	}
	if err := a.fetchURIs(ex, first); err != nil {
		a.executorEnded(ex, a.launchFailure(ex, err))
		return
	}
	pid, err := a.cont.Launch(ctx, spec)
	if err != nil {
		a.executorEnded(ex, a.launchFailure(ex, err))
		return
	}
	a.launched(ex, pid)
	if err := a.checkpointRun(ex, infoFile, first, pid); err != nil {
		a.log.Error("checkpointing executor run", "executor_id", ex.id, "err", err)
	}
	a.awaitContainerEnd(ctx, ex)
}

// awaitContainerEnd waits for the executor's container to end, deals with
// its end and forgets the container. It reports false, having done
// nothing, when ctx ended first (the agent is stopping; the container
// lives on).
func (a *Agent) awaitContainerEnd(ctx context.Context, ex *executor) bool {
	status, err := a.cont.Wait(ctx, ex.containerID)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		status = containerizer.ExitStatus{Message: "waiting for the container failed: " + err.Error()}
	}
	a.executorEnded(ex, status)
	a.cont.Forget(ex.containerID)
	return true
}

// launchFailure records a failed launch and returns the status to end with.
func (a *Agent) launchFailure(ex *executor, err error) containerizer.ExitStatus {
	a.log.Error("launching executor", "framework_id", ex.fw.id, "executor_id", ex.id, "err", err)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.counters.containerLaunchErrors++
	if ex.cause == nil {
		ex.cause = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED,
			"Failed to launch container: " + err.Error()}
	}
	return containerizer.ExitStatus{Message: "launch failed: " + err.Error()}
}

// launched records the pid and arms the registration timeout; an executor
// told to stop while it was launching is destroyed now.
func (a *Agent) launched(ex *executor, pid int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ex.pid = pid
	switch ex.state {
	case executorRegistering:
		ex.regTimer = time.AfterFunc(a.cfg.ExecutorRegistrationTimeout, func() { a.registrationTimedOut(ex) })
	case executorTerminating:
		if ex.conn == nil {
			a.destroy(ex)
		}
	}
}

func (a *Agent) registrationTimedOut(ex *executor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ex.state != executorRegistering {
		return
	}
	a.log.Warn("executor did not subscribe in time; destroying it", "framework_id", ex.fw.id,
		"executor_id", ex.id, "timeout", a.cfg.ExecutorRegistrationTimeout)
	ex.state = executorTerminating
	ex.cause = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_REGISTRATION_TIMEOUT,
		fmt.Sprintf("Executor did not register within %v", a.cfg.ExecutorRegistrationTimeout)}
	a.destroy(ex)
}

// shutdownExecutor asks a subscribed executor to shut down and destroys it
// after the grace period; one that is not subscribed is destroyed now.
// Callers hold a.mu.
func (a *Agent) shutdownExecutor(ex *executor, cause termination) {
	if ex.state >= executorTerminating {
		return
	}
	ex.state = executorTerminating
	ex.cause = &cause
	stopTimer(ex.regTimer)
	if ex.conn == nil {
		a.destroy(ex)
		return
	}
	ex.conn.send(&executorpb.Event{Type: executorpb.Event_SHUTDOWN.Enum()})
	ex.shutdownTimer = time.AfterFunc(a.shutdownGrace(ex), func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if ex.state != executorTerminated {
			a.destroy(ex)
		}
	})
}

// destroy kills the container in the background; the executor's goroutine
// sees it end. A container still being launched is destroyed by launched.
func (a *Agent) destroy(ex *executor) {
	ctx, id := a.lifetime, ex.containerID
	if ctx.Err() != nil {
		return // the agent is stopping; containers outlive it
	}
	a.workers.Go(func() {
		if err := a.cont.Destroy(ctx, id); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) &&
			ctx.Err() == nil {
			a.log.Error("destroying container", "container_id", id, "err", err)
		}
	})
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// executorEnded handles the end of an executor's container: its live tasks
// get a terminal update from the agent, the master hears EXECUTOR_EXITED,
// and the executor retires once its tasks' updates are acknowledged.
func (a *Agent) executorEnded(ex *executor, status containerizer.ExitStatus) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log.Info("executor ended", "framework_id", ex.fw.id, "executor_id", ex.id, "status", status.String())
	ex.state = executorTerminated
	ex.exitStatus = status.String()
	stopTimer(ex.regTimer)
	stopTimer(ex.shutdownTimer)
	if ex.conn != nil {
		ex.conn.out.Close("executor ended")
		ex.conn = nil
	}
	cause := a.endCause(ex, status)
	for _, t := range append([]*task(nil), ex.queued...) {
		a.agentUpdate(ex, t, cause.state, cause.reason, cause.message)
	}
	for _, t := range ex.launched {
		if !t.state.IsTerminal() {
			a.agentUpdate(ex, t, cause.state, cause.reason, cause.message)
		}
	}
	a.counters.executorsTerminated++
	exited := &protocol.AgentCall_ExecutorExited{FrameworkId: ex.info.FrameworkId, ExecutorId: ex.info.ExecutorId}
	if status.Known {
		exited.Status = proto.Int32(int32(status.WaitStatus))
	}
	a.calls.Put(&protocol.AgentCall{Type: protocol.AgentCall_EXECUTOR_EXITED.Enum(), ExecutorExited: exited})
	a.maybeRetireExecutor(ex)
}

// endCause is why the executor's live tasks ended: the agent's own reason
// when it ended the executor, else the executor terminated (reference §4:
// TASK_FAILED; REASON_EXECUTOR_TERMINATED).
func (a *Agent) endCause(ex *executor, status containerizer.ExitStatus) termination {
	if ex.cause != nil {
		return *ex.cause
	}
	if l := status.Limitation; l != nil {
		return termination{mesos.TaskState_TASK_FAILED, l.Reason, l.Message}
	}
	what := "Executor"
	if ex.command {
		what = "Command executor"
	}
	return termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
		what + " terminated: " + status.String()}
}

// maybeRetireExecutor moves an ended executor whose tasks are all retired
// to the completed list, and its framework too when it has no executors
// left. Callers hold a.mu.
func (a *Agent) maybeRetireExecutor(ex *executor) {
	fw := ex.fw
	if ex.state != executorTerminated {
		return
	}
	a.markRunEnded(ex)
	if fw.removed {
		for tid, t := range ex.launched {
			a.updates.Forget(fw.id, tid)
			delete(fw.taskExecutor, tid)
			ex.completedTasks = appendCapped(ex.completedTasks, t, maxCompletedTasks)
		}
		clear(ex.launched)
	}
	if len(ex.queued) > 0 || len(ex.launched) > 0 || fw.executors[ex.id] != ex {
		return
	}
	delete(fw.executors, ex.id)
	fw.completedExecutors = appendCapped(fw.completedExecutors, ex, maxCompletedExecutors)
	a.executorRetired(ex)
	if len(fw.executors) == 0 && a.frameworks[fw.id] == fw {
		delete(a.frameworks, fw.id)
		a.completedFrameworks = appendCapped(a.completedFrameworks, fw, maxCompletedFrameworks)
		a.frameworkRetired(fw)
	}
}

// agentUpdate makes a status update from the agent for one of ex's tasks and
// hands it to the update manager. Callers hold a.mu.
func (a *Agent) agentUpdate(ex *executor, t *task, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	status := a.agentStatus(t.info.GetTaskId().GetValue(), state, reason, msg)
	status.ExecutorId = ex.info.ExecutorId
	a.applyStatus(ex, t, status)
	tid := t.info.GetTaskId().GetValue()
	u := &protocol.AgentCall_Update{FrameworkId: ex.info.FrameworkId, Status: status}
	if _, err := a.updates.Update(u, ex.updatesFile(tid), time.Now()); err != nil {
		a.log.Error("status update", "task_id", tid, "err", err)
	}
}

// orphanUpdate sends an agent status update for a task that has no executor
// here (refused, unknown); it is retried like any other but not
// checkpointed. Callers hold a.mu.
func (a *Agent) orphanUpdate(fid, tid string, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	u := &protocol.AgentCall_Update{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)},
		Status:      a.agentStatus(tid, state, reason, msg),
	}
	if _, err := a.updates.Update(u, "", time.Now()); err != nil {
		a.log.Error("status update", "task_id", tid, "err", err)
	}
}

func (a *Agent) agentStatus(tid string, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) *mesos.TaskStatus {
	uuid, _ := newUUID()
	return &mesos.TaskStatus{
		TaskId:    &mesos.TaskID{Value: proto.String(tid)},
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_AGENT.Enum(),
		Reason:    reason.Enum(),
		Message:   proto.String(msg),
		AgentId:   &mesos.AgentID{Value: proto.String(a.agentID)},
		Timestamp: proto.Float64(nowSeconds()),
		Uuid:      uuid,
	}
}

func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// applyStatus records a status on the task: a queued task becomes launched,
// the state moves, and terminal transitions are counted. Callers hold a.mu.
func (a *Agent) applyStatus(ex *executor, t *task, status *mesos.TaskStatus) {
	tid := t.info.GetTaskId().GetValue()
	if _, queued := ex.task(tid); queued {
		ex.dequeue(tid)
		ex.launched[tid] = t
	}
	prev := t.state
	t.state = status.GetState()
	kept := status
	if status.Data != nil {
		kept = proto.CloneOf(status)
		kept.Data = nil
	}
	t.statuses = append(t.statuses, kept)
	if t.state.IsTerminal() && !prev.IsTerminal() {
		a.counters.countTerminal(t.state)
	}
}
