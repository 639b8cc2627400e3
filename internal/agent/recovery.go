package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
)

// Agent restart (reference §1 "Agent restart", §5, §8). Before it serves
// or subscribes, a starting agent reads meta/ (recoverystate.go) and
//
//	--recover=reconnect (default)
//	  takes the agent ID, frameworks, executors, tasks and the
//	  unacknowledged status updates of the previous run; re-adopts the live
//	  executors through Containerizer.Recover; serves; waits up to
//	  executor_reregistration_timeout (2 s) for them to re-subscribe (those
//	  that do not are destroyed: their tasks fail with
//	  REASON_EXECUTOR_REREGISTRATION_TIMEOUT); then subscribes with the
//	  same agent ID, reporting everything, and re-sends the head of every
//	  update stream.
//	--recover=cleanup
//	  destroys the previous run's executors and starts as a new agent (new
//	  ID); the old directories are left to GC.
//
// A reboot (meta/boot_id differs from this boot's) means every executor
// died with the host: nothing is adopted (a pid may name a stranger now),
// and their live tasks end TASK_FAILED for a command executor, TASK_GONE
// for a custom one (TASK_LOST if the framework is not partition-aware).
// Only checkpointing frameworks have a checkpoint; their executors survive
// a restart. Executors of other frameworks are destroyed (orphans.go), and
// their sandboxes are GC'd.
//
// Recovered executors wait in the REGISTERING state. When one
// re-subscribes, the agent takes the status updates it replays (those it
// already checkpointed are duplicates, acknowledged again) and the tasks it
// reports as unacknowledged; a task still STAGING that the executor does
// not report was never delivered, and ends TASK_LOST (TASK_DROPPED if
// partition-aware) with REASON_AGENT_RESTARTED.

// recover rebuilds the agent from its checkpoint. With --strict (the
// default) any checkpoint it cannot read fails the start.
func (a *Agent) recover(ctx context.Context) error {
	previousBoot := readFileString(a.paths.bootIDFile())
	var errs []error
	if err := a.loadCheckpointedResources(); err != nil {
		errs = append(errs, err)
	}
	cp, readErrs := a.paths.readAgentCheckpoint()
	if err := a.recoveryErrors(append(errs, readErrs...)); err != nil {
		return err
	}
	rebooted := previousBoot != "" && previousBoot != readBootID()
	procs := a.scanExecutors()
	switch {
	case cp == nil:
		a.scheduleLeftovers(nil)
		a.destroyOrphans(ctx, procs, nil)
		// No container to adopt; the containerizers clean up after an
		// earlier run (cgroups left under --cgroups_root).
		if err := a.cont.Recover(ctx, nil); err != nil {
			return a.recoveryErrors([]error{fmt.Errorf("recovering containers: %w", err)})
		}
		return nil
	case a.cfg.Recover == RecoverCleanup:
		return a.cleanupPrevious(ctx, cp, procs, rebooted)
	}
	return a.reconnectPrevious(ctx, cp, procs, rebooted)
}

// recoveryErrors logs and counts what could not be recovered; under
// --strict they fail the start.
func (a *Agent) recoveryErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if !a.cfg.NonStrict {
		return fmt.Errorf("agent: recovering from %s (start with --strict=false to skip what cannot be read): %w",
			a.paths.metaDir(), errors.Join(errs...))
	}
	for _, err := range errs {
		a.log.Error("skipping what cannot be recovered", "err", err)
	}
	a.mu.Lock()
	a.counters.recoveryErrors += uint64(len(errs))
	a.mu.Unlock()
	return nil
}

func readFileString(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// reconnectPrevious adopts the previous run's state and its live executors.
func (a *Agent) reconnectPrevious(ctx context.Context, cp *agentCheckpoint, procs executorProcs, rebooted bool) error {
	live, ended := a.adoptCheckpoint(cp, procs, rebooted)
	a.scheduleLeftovers(cp)
	specs := make([]containerizer.RecoverSpec, 0, len(live))
	for _, ex := range live {
		specs = append(specs, containerizer.RecoverSpec{ContainerID: ex.containerID, Pid: ex.pid,
			Container: recoveredContainer(ex.info, slices.Collect(maps.Values(ex.launched)))})
	}
	if err := a.cont.Recover(ctx, specs); err != nil {
		if fatal := a.recoveryErrors([]error{fmt.Errorf("recovering containers: %w", err)}); fatal != nil {
			return fatal
		}
		for _, ex := range live {
			ex.cause = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
				"Executor could not be recovered after an agent restart: " + err.Error()}
		}
		live, ended = nil, append(ended, live...)
	}
	a.awaitExecutors(live)
	keep := make(map[int]bool, len(live))
	for _, ex := range live {
		keep[ex.pid] = true
	}
	a.destroyOrphans(ctx, procs, keep)
	for _, ex := range ended {
		a.endRecovered(ex)
	}
	for _, ex := range live {
		a.workers.Go(func() { a.watchRecovered(ex) })
	}
	a.log.Info("recovered from the checkpoint", "agent_id", cp.agentID, "frameworks", len(cp.frameworks),
		"live_executors", len(live), "ended_executors", len(ended), "rebooted", rebooted)
	return nil
}

// adoptCheckpoint builds frameworks, executors and tasks from the
// checkpoint and restores the update streams. It returns the executors to
// re-adopt and those already ended.
func (a *Agent) adoptCheckpoint(cp *agentCheckpoint, procs executorProcs, rebooted bool) (live, ended []*executor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.agentID = cp.agentID
	for _, fc := range cp.frameworks {
		fw := newFramework(fc.info)
		a.frameworks[fw.id] = fw
		for _, xc := range fc.executors {
			ex := a.adoptExecutor(fw, xc)
			if xc.latest.pidMissing && !rebooted {
				a.findUncheckpointedPid(ex, procs)
			}
			switch {
			case ex.pid == 0:
				ex.cause = &termination{lostState(fw), mesos.TaskStatus_REASON_AGENT_RESTARTED,
					"Executor's launch was interrupted by an agent restart"}
				ended = append(ended, ex)
			case rebooted:
				ex.cause = rebootCause(ex)
				ended = append(ended, ex)
			default:
				live = append(live, ex)
			}
		}
		if len(fw.executors) == 0 {
			delete(a.frameworks, fw.id)
			a.completedFrameworks = appendCapped(a.completedFrameworks, fw, maxCompletedFrameworks)
			a.frameworkRetired(fw)
		}
	}
	return live, ended
}

// awaitExecutors puts re-adopted executors on the re-registration wait.
func (a *Agent) awaitExecutors(live []*executor) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ex := range live {
		ex.recovering = true
		a.reregistering++
	}
}

// findUncheckpointedPid finds the executor of a run whose forked.pid was
// never written (the agent died right after the launch) by its sandbox,
// and checkpoints the pid. Callers hold a.mu.
func (a *Agent) findUncheckpointedPid(ex *executor, procs executorProcs) {
	pid := procs.bySandbox(ex.directory)
	if pid == 0 {
		return
	}
	ex.pid, ex.runEnded = pid, false
	if err := writeNewFile(forkedPidFile(ex.metaRun), []byte(strconv.Itoa(pid))); err != nil {
		a.log.Error("checkpointing a recovered executor's pid", "executor_id", ex.id, "err", err)
	}
	a.log.Info("found the executor of a run without a checkpointed pid", "executor_id", ex.id, "pid", pid)
}

// lostState is TASK_DROPPED for a partition-aware framework, else
// TASK_LOST.
func lostState(fw *framework) mesos.TaskState {
	if fw.partitionAware() {
		return mesos.TaskState_TASK_DROPPED
	}
	return mesos.TaskState_TASK_LOST
}

// rebootCause is how the live tasks of an executor killed by a reboot
// end (reference §4 "Origins").
func rebootCause(ex *executor) *termination {
	state := mesos.TaskState_TASK_FAILED
	if !ex.command {
		state = mesos.TaskState_TASK_GONE
		if !ex.fw.partitionAware() {
			state = mesos.TaskState_TASK_LOST
		}
	}
	return &termination{state, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
		"Executor did not survive a reboot of the agent's host"}
}

// adoptExecutor rebuilds an executor's latest run. Callers hold a.mu.
func (a *Agent) adoptExecutor(fw *framework, xc *executorCheckpoint) *executor {
	run := xc.latest
	ex := &executor{
		id:          xc.id,
		fw:          fw,
		info:        xc.info,
		command:     isCommandExecutor(xc.info),
		containerID: run.containerID,
		directory:   a.paths.sandbox(a.agentID, fw.id, xc.id, run.containerID),
		metaRun:     a.paths.metaRun(a.agentID, fw.id, xc.id, run.containerID),
		pid:         run.pid,
		launched:    make(map[string]*task),
		launchedAt:  modTime(forkedPidFile(a.paths.metaRun(a.agentID, fw.id, xc.id, run.containerID))),
		runEnded:    run.pid == 0,
	}
	var first *mesos.TaskInfo
	for _, tc := range run.tasks {
		if first == nil {
			first = tc.info
		}
		a.adoptTask(ex, tc)
	}
	ex.user = a.executorUser(fw.info, xc.info, first)
	fw.executors[ex.id] = ex
	a.files.attachRun(fw.id, ex.id, ex.directory, a.paths.latestRun(a.agentID, fw.id, ex.id))
	return ex
}

// isCommandExecutor recognizes the ExecutorInfo commandExecutorInfo makes.
func isCommandExecutor(info *mesos.ExecutorInfo) bool {
	return strings.HasPrefix(info.GetName(), "Command Executor (Task: ") &&
		info.GetSource() == info.GetExecutorId().GetValue()
}

// adoptTask restores a task and its update stream. A task whose terminal
// update was acknowledged is history. Callers hold a.mu.
func (a *Agent) adoptTask(ex *executor, tc *taskCheckpoint) {
	tid := tc.info.GetTaskId().GetValue()
	cutTornRecord(tc.updatesFile, tc.complete)
	if tc.info.Resources == nil && tc.info.Command == nil && tc.info.Executor == nil {
		a.completeTaskInfo(ex, tc.info)
	}
	t := &task{info: tc.info, state: tc.updates.latestState()}
	for _, u := range tc.updates.all {
		st := u.GetStatus()
		if st.Data != nil {
			st = proto.CloneOf(st)
			st.Data = nil
		}
		t.statuses = append(t.statuses, st)
	}
	if tc.updates.done() {
		ex.completedTasks = appendCapped(ex.completedTasks, t, maxCompletedTasks)
		return
	}
	ex.launched[tid] = t
	ex.fw.taskExecutor[tid] = ex
	a.updates.Restore(ex.fw.id, tid, tc.updatesFile, tc.updates)
}

// completeTaskInfo fills what can be known of a task whose task.info was
// never written (it holds its ID only): a command task's resources are its
// executor's without the executor's overhead. The result is checkpointed.
// Callers hold a.mu.
func (a *Agent) completeTaskInfo(ex *executor, info *mesos.TaskInfo) {
	if rs := ex.info.GetResources(); ex.command && len(rs) >= 2 {
		info.Resources = rs[:len(rs)-2]
	}
	if err := writeMessage(taskInfoFile(ex.metaRun, info.GetTaskId().GetValue()), info); err != nil {
		a.log.Error("checkpointing a recovered task", "task_id", info.GetTaskId().GetValue(), "err", err)
	}
}

// cutTornRecord truncates a task.updates file to its complete records, so
// that the next record appended is framed right.
func cutTornRecord(path string, complete int64) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > complete {
		os.Truncate(path, complete)
	}
}

func modTime(path string) time.Time {
	if fi, err := os.Stat(path); err == nil {
		return fi.ModTime()
	}
	return time.Now()
}

// endRecovered ends an executor known to be gone: its live tasks get the
// executor's cause, and it retires once their updates are acknowledged.
func (a *Agent) endRecovered(ex *executor) {
	a.mu.Lock()
	live := ex.liveTasks()
	if live == 0 {
		ex.state = executorTerminated
		a.maybeRetireExecutor(ex)
		if ex.fw.executors[ex.id] != ex {
			// Retired already: its runs age from when they ended, not
			// from this restart.
			a.scheduleAged(ex.directory)
			a.scheduleAged(ex.metaRun)
		}
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	a.executorEnded(ex, containerizer.ExitStatus{Message: ex.cause.message})
}

// watchRecovered waits for a re-adopted executor's container to end.
func (a *Agent) watchRecovered(ex *executor) {
	if !a.awaitContainerEnd(a.lifetime, ex) {
		return
	}
	a.mu.Lock()
	a.doneReregistering(ex)
	a.mu.Unlock()
}

// doneReregistering takes a recovered executor off the re-registration
// wait. Callers hold a.mu.
func (a *Agent) doneReregistering(ex *executor) {
	if !ex.recovering {
		return
	}
	ex.recovering = false
	a.reregistering--
	select {
	case a.reregistered <- struct{}{}:
	default:
	}
}

// awaitReregistration waits until every recovered executor re-subscribed
// or ended, at most executor_reregistration_timeout; then it destroys the
// executors still missing.
func (a *Agent) awaitReregistration(ctx context.Context) {
	timer := time.NewTimer(a.cfg.ExecutorReregistrationTimeout)
	defer timer.Stop()
	for a.stillReregistering() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			a.reregistrationTimedOut()
			return
		case <-a.reregistered:
		}
	}
}

func (a *Agent) stillReregistering() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reregistering
}

// reregistrationTimedOut destroys the recovered executors that did not
// re-subscribe.
func (a *Agent) reregistrationTimedOut() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if !ex.recovering || ex.state != executorRegistering {
				continue
			}
			a.log.Warn("executor did not re-subscribe after the agent restarted; destroying it",
				"framework_id", fw.id, "executor_id", ex.id, "timeout", a.cfg.ExecutorReregistrationTimeout)
			ex.state = executorTerminating
			ex.cause = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
				fmt.Sprintf("Executor did not re-register within %v", a.cfg.ExecutorReregistrationTimeout)}
			a.destroy(ex)
		}
	}
}

// adoptReportedTasks takes the tasks a re-subscribing recovered executor
// reports that the checkpoint lacks (the agent died before writing their
// task.info). Callers hold a.mu.
func (a *Agent) adoptReportedTasks(ex *executor, sub *executorpb.Call_Subscribe) {
	for _, info := range sub.GetUnacknowledgedTasks() {
		tid := info.GetTaskId().GetValue()
		if t, _ := ex.task(tid); t != nil || validPathID("task ID", tid) != nil {
			continue
		}
		ex.launched[tid] = &task{info: info, state: mesos.TaskState_TASK_STAGING}
		ex.fw.taskExecutor[tid] = ex
		if ex.metaRun != "" {
			if err := writeNewMessage(taskInfoFile(ex.metaRun, tid), info); err != nil {
				a.log.Error("checkpointing task", "task_id", tid, "err", err)
			}
		}
	}
}

// dropUndelivered ends the tasks of a re-subscribed recovered executor
// that are still STAGING and that it does not report: the agent died
// before delivering them. A command executor left without a task is shut
// down. Callers hold a.mu.
func (a *Agent) dropUndelivered(ex *executor, sub *executorpb.Call_Subscribe) {
	reported := make(map[string]bool)
	for _, info := range sub.GetUnacknowledgedTasks() {
		reported[info.GetTaskId().GetValue()] = true
	}
	for tid, t := range ex.launched {
		if t.state == mesos.TaskState_TASK_STAGING && !reported[tid] {
			a.agentUpdate(ex, t, lostState(ex.fw), mesos.TaskStatus_REASON_AGENT_RESTARTED,
				"Task launched during agent restart")
		}
	}
	if ex.command && ex.liveTasks() == 0 {
		a.shutdownExecutor(ex, termination{mesos.TaskState_TASK_KILLED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
			"Command executor has no task left after an agent restart"})
	}
}

// cleanupPrevious is --recover=cleanup: the previous run's executors are
// destroyed and the agent starts as a new one.
func (a *Agent) cleanupPrevious(ctx context.Context, cp *agentCheckpoint, procs executorProcs, rebooted bool) error {
	var specs []containerizer.RecoverSpec
	keep := make(map[int]bool)
	for _, fc := range cp.frameworks {
		for _, xc := range fc.executors {
			if xc.latest.pid > 0 && !rebooted {
				var tasks []*task
				for _, tc := range xc.latest.tasks {
					tasks = append(tasks, &task{info: tc.info})
				}
				specs = append(specs, containerizer.RecoverSpec{ContainerID: xc.latest.containerID, Pid: xc.latest.pid,
					Container: recoveredContainer(xc.info, tasks)})
				keep[xc.latest.pid] = true
			}
		}
	}
	if err := a.cont.Recover(ctx, specs); err != nil {
		return fmt.Errorf("agent: cleanup: recovering the previous executors: %w", err)
	}
	for _, s := range specs {
		dctx, cancel := context.WithTimeout(ctx, shutdownDestroyTimeout)
		if err := a.cont.Destroy(dctx, s.ContainerID); err != nil {
			a.log.Error("cleanup: destroying a previous executor", "container_id", s.ContainerID, "err", err)
		}
		cancel()
	}
	a.destroyOrphans(ctx, procs, keep)
	if err := os.Remove(a.paths.metaLatestAgent()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("agent: cleanup: forgetting agent %s: %w", cp.agentID, err)
	}
	a.scheduleLeftovers(nil)
	a.log.Info("cleanup: destroyed the previous run's executors; starting as a new agent",
		"previous_agent_id", cp.agentID, "executors", len(specs))
	return nil
}

// scheduleLeftovers schedules for GC, aged from their mtime, what the
// recovered state does not use: other agents' directories, frameworks
// and executors without a checkpoint, and executors' older runs. cp nil
// means nothing was recovered: every directory is left over.
func (a *Agent) scheduleLeftovers(cp *agentCheckpoint) {
	id := ""
	if cp != nil {
		id = cp.agentID
	}
	a.scheduleDirsExcept(a.paths.slavesDir(), id)
	a.scheduleDirsExcept(filepath.Join(a.paths.metaDir(), "slaves"), id, "latest")
	if cp == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scheduleUnknown(a.paths.agentDir(id))
	a.scheduleUnknown(a.paths.metaAgentDir(id))
	for _, fc := range cp.frameworks {
		for _, xc := range fc.executors {
			for _, cid := range xc.older {
				a.scheduleAged(a.paths.sandbox(id, fc.id, xc.id, cid))
				a.scheduleAged(a.paths.metaRun(id, fc.id, xc.id, cid))
			}
		}
	}
}

// scheduleUnknown schedules the framework and executor directories under
// an agent's sandbox or checkpoint directory that no recovered framework
// or executor uses. Callers hold a.mu.
func (a *Agent) scheduleUnknown(agentDir string) {
	fwDir := filepath.Join(agentDir, "frameworks")
	for _, fid := range listDir(fwDir, new([]error)) {
		fw := a.frameworks[fid]
		if fw == nil {
			a.scheduleAged(filepath.Join(fwDir, fid))
			continue
		}
		exDir := filepath.Join(fwDir, fid, "executors")
		for _, eid := range listDir(exDir, new([]error)) {
			if fw.executors[eid] == nil {
				a.scheduleAged(filepath.Join(exDir, eid))
			}
		}
	}
}

// scheduleDirsExcept schedules every directory in dir but the named ones.
func (a *Agent) scheduleDirsExcept(dir string, keep ...string) {
	for _, name := range listDir(dir, new([]error)) {
		if !slices.Contains(keep, name) {
			a.scheduleAged(filepath.Join(dir, name))
		}
	}
}

// scheduleAged schedules a path aged from its mtime.
func (a *Agent) scheduleAged(path string) { a.gc.schedule(path, modTime(path)) }

// recoveredContainer is the ContainerInfo a checkpointed executor was
// launched with, for the containerizer that launched it to adopt it (a
// DOCKER task's executor to the docker containerizer): a command task's
// own, else the executor's.
func recoveredContainer(info *mesos.ExecutorInfo, tasks []*task) *mesos.ContainerInfo {
	ex := &executor{info: info, command: isCommandExecutor(info)}
	var first *task
	if len(tasks) > 0 {
		first = tasks[0]
	}
	c, _ := launchContainer(ex, first)
	return c
}
