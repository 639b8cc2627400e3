package agent

import (
	"context"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/agoraproject/agora/api/v1/agent"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// The operator API's state calls (reference §6.3). Each is built under
// a.mu from the live model; the messages it shares with the model (infos,
// statuses) are never changed in place, so they are encoded after the
// lock is released.
//
// GET_TASKS buckets, as Mesos': queued_tasks wait for their executor to
// subscribe; launched_tasks were delivered and are not terminal;
// terminated_tasks are terminal with their terminal update not yet
// acknowledged; completed_tasks are history (capped). pending_tasks (tasks
// held before their executor exists) is always empty: an Agora agent
// starts the executor at once.

func (a *Agent) opGetState(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := response(agentpb.Response_GET_STATE)
	resp.GetState = &agentpb.Response_GetState{
		GetTasks:      a.getTasks(),
		GetExecutors:  a.getExecutors(),
		GetFrameworks: a.getFrameworks(),
	}
	return resp, nil
}

func (a *Agent) opGetFrameworks(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := response(agentpb.Response_GET_FRAMEWORKS)
	resp.GetFrameworks = a.getFrameworks()
	return resp, nil
}

func (a *Agent) opGetExecutors(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := response(agentpb.Response_GET_EXECUTORS)
	resp.GetExecutors = a.getExecutors()
	return resp, nil
}

func (a *Agent) opGetTasks(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	resp := response(agentpb.Response_GET_TASKS)
	resp.GetTasks = a.getTasks()
	return resp, nil
}

func (a *Agent) opGetAgent(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := a.agentInfo()
	info.Resources = a.totalResources().ToProto(resources.Endpoint)
	resp := response(agentpb.Response_GET_AGENT)
	resp.GetAgent = &agentpb.Response_GetAgent{AgentInfo: info}
	return resp, nil
}

func (a *Agent) opGetOperations(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	resp := response(agentpb.Response_GET_OPERATIONS)
	resp.GetOperations = &agentpb.Response_GetOperations{}
	return resp, nil
}

func (a *Agent) opGetResourceProviders(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	resp := response(agentpb.Response_GET_RESOURCE_PROVIDERS)
	resp.GetResourceProviders = &agentpb.Response_GetResourceProviders{}
	return resp, nil
}

// getFrameworks lists frameworks by ID, completed ones oldest first.
// Callers hold a.mu.
func (a *Agent) getFrameworks() *agentpb.Response_GetFrameworks {
	out := &agentpb.Response_GetFrameworks{}
	for _, id := range sortedKeys(a.frameworks) {
		out.Frameworks = append(out.Frameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: a.frameworks[id].info})
	}
	for _, fw := range a.completedFrameworks {
		out.CompletedFrameworks = append(out.CompletedFrameworks, &agentpb.Response_GetFrameworks_Framework{FrameworkInfo: fw.info})
	}
	return out
}

// getExecutors lists live executors and, as completed, the retired ones
// of live and completed frameworks. Callers hold a.mu.
func (a *Agent) getExecutors() *agentpb.Response_GetExecutors {
	out := &agentpb.Response_GetExecutors{}
	entry := func(ex *executor) *agentpb.Response_GetExecutors_Executor {
		return &agentpb.Response_GetExecutors_Executor{ExecutorInfo: ex.info}
	}
	a.eachFramework(func(fw *framework, completed bool) {
		for _, id := range sortedKeys(fw.executors) {
			if completed {
				out.CompletedExecutors = append(out.CompletedExecutors, entry(fw.executors[id]))
			} else {
				out.Executors = append(out.Executors, entry(fw.executors[id]))
			}
		}
		for _, ex := range fw.completedExecutors {
			out.CompletedExecutors = append(out.CompletedExecutors, entry(ex))
		}
	})
	return out
}

// getTasks buckets every task the agent knows. Callers hold a.mu.
func (a *Agent) getTasks() *agentpb.Response_GetTasks {
	out := &agentpb.Response_GetTasks{}
	a.eachFramework(func(fw *framework, _ bool) {
		for _, id := range sortedKeys(fw.executors) {
			a.bucketTasks(out, fw, fw.executors[id])
		}
		for _, ex := range fw.completedExecutors {
			a.bucketTasks(out, fw, ex)
		}
	})
	return out
}

// eachFramework calls fn for the live frameworks by ID, then the
// completed ones. Callers hold a.mu.
func (a *Agent) eachFramework(fn func(fw *framework, completed bool)) {
	for _, id := range sortedKeys(a.frameworks) {
		fn(a.frameworks[id], false)
	}
	for _, fw := range a.completedFrameworks {
		fn(fw, true)
	}
}

func (a *Agent) bucketTasks(out *agentpb.Response_GetTasks, fw *framework, ex *executor) {
	for _, t := range ex.queued {
		out.QueuedTasks = append(out.QueuedTasks, a.taskView(fw, ex, t))
	}
	for _, id := range sortedKeys(ex.launched) {
		t := ex.launched[id]
		if t.state.IsTerminal() {
			out.TerminatedTasks = append(out.TerminatedTasks, a.taskView(fw, ex, t))
		} else {
			out.LaunchedTasks = append(out.LaunchedTasks, a.taskView(fw, ex, t))
		}
	}
	for _, t := range ex.completedTasks {
		out.CompletedTasks = append(out.CompletedTasks, a.taskView(fw, ex, t))
	}
}

// taskView is a task as mesos.v1.Task, with the state of its oldest
// unacknowledged update. Callers hold a.mu.
func (a *Agent) taskView(fw *framework, ex *executor, t *task) *mesos.Task {
	mt := t.toTask(fw, ex, a.agentID)
	if head := a.updates.Head(fw.id, t.info.GetTaskId().GetValue()); head != nil {
		mt.StatusUpdateState = head.GetStatus().State
		mt.StatusUpdateUuid = head.GetStatus().GetUuid()
	}
	return mt
}

// GET_CONTAINERS: every live executor's container with its usage and
// limits. Only top-level containers exist here, so show_nested and
// show_standalone add nothing.
func (a *Agent) opGetContainers(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	type sample struct {
		entry     *agentpb.Response_GetContainers_Container
		resources []*mesos.Resource
	}
	var samples []sample
	a.mu.Lock()
	for _, fid := range sortedKeys(a.frameworks) {
		fw := a.frameworks[fid]
		for _, eid := range sortedKeys(fw.executors) {
			ex := fw.executors[eid]
			if ex.pid == 0 || ex.state == executorTerminated {
				continue
			}
			id := &mesos.ContainerID{Value: proto.String(ex.containerID)}
			samples = append(samples, sample{
				entry: &agentpb.Response_GetContainers_Container{
					FrameworkId:  ex.info.FrameworkId,
					ExecutorId:   ex.info.ExecutorId,
					ExecutorName: ex.info.Name,
					ContainerId:  id,
					ContainerStatus: &mesos.ContainerStatus{
						ContainerId: id, ExecutorPid: proto.Uint32(uint32(ex.pid)),
					},
				},
				resources: executorResources(ex),
			})
		}
	}
	a.mu.Unlock()
	resp := response(agentpb.Response_GET_CONTAINERS)
	resp.GetContainers = &agentpb.Response_GetContainers{}
	for _, s := range samples {
		if stats, err := a.cont.Usage(s.entry.GetContainerId().GetValue()); err == nil {
			stats.CpusLimit = proto.Float64(scalarSum(s.resources, "cpus"))
			stats.MemLimitBytes = proto.Uint64(uint64(scalarSum(s.resources, "mem")) << 20)
			s.entry.ResourceStatistics = stats
		}
		resp.GetContainers.Containers = append(resp.GetContainers.Containers, s.entry)
	}
	return resp, nil
}
