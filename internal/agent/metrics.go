package agent

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/agoraproject/agora/api/mesosjson"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/hostinfo"
)

// counters are the agent's cumulative metrics (reset on restart).
type counters struct {
	registered            bool
	tasksFinished         uint64
	tasksFailed           uint64
	tasksKilled           uint64
	tasksLost             uint64
	tasksGone             uint64
	executorsTerminated   uint64
	validStatusUpdates    uint64
	invalidStatusUpdates  uint64
	containerLaunchErrors uint64
	recoveryErrors        uint64
}

func (c *counters) countTerminal(s mesos.TaskState) {
	switch s {
	case mesos.TaskState_TASK_FINISHED:
		c.tasksFinished++
	case mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_ERROR:
		c.tasksFailed++
	case mesos.TaskState_TASK_KILLED:
		c.tasksKilled++
	case mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED:
		c.tasksLost++
	case mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		c.tasksGone++
	}
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsSnapshot is /metrics/snapshot: the slave/* names of reference §7.1
// the agent can know, plus system/*.
func (a *Agent) metricsSnapshot() map[string]float64 {
	m := hostinfo.SystemMetrics()
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.counters
	m["slave/registered"] = boolMetric(c.registered)
	m["slave/uptime_secs"] = time.Since(a.startTime).Seconds()
	used := a.allocatedResources()
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		total, u := scalarSum(a.resources, name), scalarSum(used, name)
		m["slave/"+name+"_total"] = total
		m["slave/"+name+"_used"] = u
		m["slave/"+name+"_percent"] = 0
		if total > 0 {
			m["slave/"+name+"_percent"] = u / total
		}
	}
	for state, n := range a.liveTaskStates() {
		m["slave/tasks_"+state] = float64(n)
	}
	for name, v := range map[string]uint64{
		"tasks_finished": c.tasksFinished, "tasks_failed": c.tasksFailed, "tasks_killed": c.tasksKilled,
		"tasks_lost": c.tasksLost, "tasks_gone": c.tasksGone,
		"executors_terminated": c.executorsTerminated, "executors_preempted": 0,
		"valid_status_updates": c.validStatusUpdates, "invalid_status_updates": c.invalidStatusUpdates,
		"container_launch_errors": c.containerLaunchErrors, "recovery_errors": c.recoveryErrors,
	} {
		m["slave/"+name] = float64(v)
	}
	for state, n := range a.executorStates() {
		m["slave/executors_"+state] = float64(n)
	}
	m["slave/frameworks_active"] = float64(len(a.frameworks))
	succeeded, failed, pending := a.gc.stats()
	m["gc/path_removals_succeeded"] = float64(succeeded)
	m["gc/path_removals_failed"] = float64(failed)
	m["gc/path_removals_pending"] = float64(pending)
	return m
}

// liveTaskStates counts live tasks in the gauge states. Callers hold a.mu.
func (a *Agent) liveTaskStates() map[string]int {
	out := map[string]int{"staging": 0, "starting": 0, "running": 0, "killing": 0}
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			out["staging"] += len(ex.queued)
			for _, t := range ex.launched {
				switch t.state {
				case mesos.TaskState_TASK_STAGING:
					out["staging"]++
				case mesos.TaskState_TASK_STARTING:
					out["starting"]++
				case mesos.TaskState_TASK_RUNNING:
					out["running"]++
				case mesos.TaskState_TASK_KILLING:
					out["killing"]++
				}
			}
		}
	}
	return out
}

// executorStates counts executors in the gauge states. Callers hold a.mu.
func (a *Agent) executorStates() map[string]int {
	out := map[string]int{"registering": 0, "running": 0, "terminating": 0}
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			switch ex.state {
			case executorRegistering:
				out["registering"]++
			case executorRunning:
				out["running"]++
			case executorTerminating:
				out["terminating"]++
			}
		}
	}
	return out
}

// allocatedResources are the resources of every live executor and its live
// tasks. Callers hold a.mu.
func (a *Agent) allocatedResources() []*mesos.Resource {
	var out []*mesos.Resource
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.state != executorTerminated {
				out = append(out, executorResources(ex)...)
			}
		}
	}
	return out
}

// executorResources are an executor's own resources plus its live tasks'
// (a command executor's ExecutorInfo already holds its task's).
func executorResources(ex *executor) []*mesos.Resource {
	out := append([]*mesos.Resource(nil), ex.info.GetResources()...)
	if ex.command {
		return out
	}
	for _, t := range ex.queued {
		out = append(out, t.info.GetResources()...)
	}
	for _, t := range ex.launched {
		if !t.state.IsTerminal() {
			out = append(out, t.info.GetResources()...)
		}
	}
	return out
}

func scalarSum(rs []*mesos.Resource, name string) float64 {
	var sum float64
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
			sum += r.GetScalar().GetValue()
		}
	}
	return sum
}

// executorStatistics is one /monitor/statistics entry.
type executorStatistics struct {
	FrameworkID  string          `json:"framework_id"`
	ExecutorID   string          `json:"executor_id"`
	ExecutorName string          `json:"executor_name"`
	Source       string          `json:"source"`
	Statistics   json.RawMessage `json:"statistics"`
}

// monitorStatistics is /monitor/statistics: usage of every running
// executor's container, with its limits.
func (a *Agent) monitorStatistics(w http.ResponseWriter, r *http.Request) {
	type sample struct {
		entry       executorStatistics
		containerID string
		resources   []*mesos.Resource
	}
	var samples []sample
	a.mu.Lock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.pid == 0 || ex.state == executorTerminated {
				continue
			}
			samples = append(samples, sample{
				entry: executorStatistics{FrameworkID: fw.id, ExecutorID: ex.id,
					ExecutorName: ex.info.GetName(), Source: ex.info.GetSource()},
				containerID: ex.containerID,
				resources:   executorResources(ex),
			})
		}
	}
	a.mu.Unlock()
	out := []executorStatistics{}
	for _, s := range samples {
		stats, err := a.cont.Usage(s.containerID)
		if err != nil {
			continue // ended meanwhile
		}
		stats.CpusLimit = ptr(scalarSum(s.resources, "cpus"))
		stats.MemLimitBytes = ptr(uint64(scalarSum(s.resources, "mem")) << 20)
		if s.entry.Statistics, err = mesosjson.Marshal(stats); err != nil {
			continue
		}
		out = append(out, s.entry)
	}
	writeJSON(w, r, out)
}

func ptr[T any](v T) *T { return &v }
