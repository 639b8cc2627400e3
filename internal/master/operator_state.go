package master

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/resources"
)

// The operator API's read calls (GET_STATE, GET_AGENTS, GET_FRAMEWORKS,
// GET_EXECUTORS, GET_TASKS, GET_OPERATIONS) render a Snapshot off the loop,
// like the legacy state endpoints. Resources are in the endpoint format;
// times are TimeInfo (nanoseconds).

func (m *Master) snapshotCall(ctx context.Context, t masterpb.Response_Type, fill func(*Snapshot, *masterpb.Response)) (operatorResult, error) {
	s, err := m.Snapshot(ctx)
	if err != nil {
		return operatorResult{}, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	resp := response(t)
	fill(s, resp)
	return operatorResult{resp: resp}, nil
}

// opGetState and opGetTasks encode their tasks from the tasks' caches
// (operator_render.go).
func (m *Master) opGetState(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	s, err := m.Snapshot(ctx)
	if err != nil {
		return operatorResult{}, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	resp, holder := response(masterpb.Response_GET_STATE), &masterpb.Response_GetTasks{}
	resp.GetState = &masterpb.Response_GetState{
		GetTasks: holder, GetExecutors: getExecutors(s), GetFrameworks: getFrameworks(s), GetAgents: getAgents(s),
	}
	lists := taskListsOf(s)
	return operatorResult{encode: func(enc wire.Encoding) ([]byte, error) {
		return encodeWithTasks(enc, resp, holder, []protoreflect.Name{"get_state", "get_tasks"}, lists)
	}}, nil
}

func (m *Master) opGetAgents(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.snapshotCall(ctx, masterpb.Response_GET_AGENTS, func(s *Snapshot, r *masterpb.Response) {
		r.GetAgents = getAgents(s)
	})
}

func (m *Master) opGetFrameworks(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.snapshotCall(ctx, masterpb.Response_GET_FRAMEWORKS, func(s *Snapshot, r *masterpb.Response) {
		r.GetFrameworks = getFrameworks(s)
	})
}

func (m *Master) opGetExecutors(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.snapshotCall(ctx, masterpb.Response_GET_EXECUTORS, func(s *Snapshot, r *masterpb.Response) {
		r.GetExecutors = getExecutors(s)
	})
}

func (m *Master) opGetTasks(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	s, err := m.Snapshot(ctx)
	if err != nil {
		return operatorResult{}, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	resp, holder := response(masterpb.Response_GET_TASKS), &masterpb.Response_GetTasks{}
	resp.GetTasks = holder
	lists := taskListsOf(s)
	return operatorResult{encode: func(enc wire.Encoding) ([]byte, error) {
		return encodeWithTasks(enc, resp, holder, []protoreflect.Name{"get_tasks"}, lists)
	}}, nil
}

// opGetOperations answers an empty list: Agora has no operation feedback
// yet, so no operation is ever pending.
func (m *Master) opGetOperations(context.Context, *masterpb.Call) (operatorResult, error) {
	resp := response(masterpb.Response_GET_OPERATIONS)
	resp.GetOperations = &masterpb.Response_GetOperations{}
	return operatorResult{resp: resp}, nil
}

func getState(s *Snapshot) *masterpb.Response_GetState {
	return &masterpb.Response_GetState{
		GetTasks:      getTasks(s),
		GetExecutors:  getExecutors(s),
		GetFrameworks: getFrameworks(s),
		GetAgents:     getAgents(s),
	}
}

// getAgents lists registered agents; agents known from the registry that
// have not re-registered since a failover are recovered_agents, and
// unreachable agents are in neither list (as in Mesos).
func getAgents(s *Snapshot) *masterpb.Response_GetAgents {
	out := &masterpb.Response_GetAgents{}
	for i := range s.Agents {
		a := &s.Agents[i]
		switch {
		case a.Recovered:
			out.RecoveredAgents = append(out.RecoveredAgents, a.Info)
		case !a.Unreachable:
			out.Agents = append(out.Agents, agentEntry(a))
		}
	}
	return out
}

func agentEntry(a *AgentView) *masterpb.Response_GetAgents_Agent {
	e := &masterpb.Response_GetAgents_Agent{
		AgentInfo:          a.Info,
		Active:             proto.Bool(a.Active()),
		Deactivated:        proto.Bool(a.Deactivated),
		Version:            proto.String(a.Version),
		Pid:                proto.String(a.PID),
		RegisteredTime:     timeInfo(a.RegisteredTime),
		ReregisteredTime:   timeInfo(a.ReregisteredTime),
		TotalResources:     a.Total.ToProto(resources.Endpoint),
		AllocatedResources: a.Used.ToProto(resources.Endpoint),
		OfferedResources:   a.Offered.ToProto(resources.Endpoint),
		Capabilities:       a.Capabilities,
		DrainInfo:          a.Drain,
	}
	if a.Unavailability != nil {
		e.EstimatedDrainStartTime = a.Unavailability.GetStart()
	}
	return e
}

func getFrameworks(s *Snapshot) *masterpb.Response_GetFrameworks {
	out := &masterpb.Response_GetFrameworks{}
	for i := range s.Frameworks {
		out.Frameworks = append(out.Frameworks, frameworkEntry(&s.Frameworks[i]))
	}
	for i := range s.Completed {
		out.CompletedFrameworks = append(out.CompletedFrameworks, frameworkEntry(&s.Completed[i]))
	}
	return out
}

func frameworkEntry(f *FrameworkView) *masterpb.Response_GetFrameworks_Framework {
	e := &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo:      f.Info,
		Active:             proto.Bool(f.Active()),
		Connected:          proto.Bool(f.Connected),
		Recovered:          proto.Bool(f.Recovered),
		RegisteredTime:     timeInfo(f.RegisteredTime),
		ReregisteredTime:   timeInfo(f.ReregisteredTime),
		UnregisteredTime:   timeInfo(f.UnregisteredTime),
		InverseOffers:      f.InverseOffers,
		AllocatedResources: f.Used.ToProto(resources.Endpoint),
		OfferedResources:   f.Offered.ToProto(resources.Endpoint),
	}
	for _, o := range f.Offers {
		e.Offers = append(e.Offers, o.Proto)
	}
	return e
}

func getExecutors(s *Snapshot) *masterpb.Response_GetExecutors {
	out := &masterpb.Response_GetExecutors{}
	for i := range s.Frameworks {
		for _, e := range s.Frameworks[i].Executors {
			out.Executors = append(out.Executors, &masterpb.Response_GetExecutors_Executor{
				ExecutorInfo: e.Info,
				AgentId:      &mesos.AgentID{Value: proto.String(e.AgentID)},
			})
		}
	}
	return out
}

// getTasks: the active frameworks' tasks (terminal ones not yet
// acknowledged included) and unreachable tasks; completed tasks of active
// and completed frameworks, with a completed framework's remaining tasks.
func getTasks(s *Snapshot) *masterpb.Response_GetTasks {
	l := taskListsOf(s)
	return &masterpb.Response_GetTasks{
		Tasks: taskProtos(l.tasks), UnreachableTasks: taskProtos(l.unreachable), CompletedTasks: taskProtos(l.completed),
	}
}

func taskProtos(ts []*TaskView) []*mesos.Task {
	var out []*mesos.Task
	for _, t := range ts {
		out = append(out, taskProto(t))
	}
	return out
}

// taskProto is the v1 Task of a task view.
func taskProto(t *TaskView) *mesos.Task {
	p := &mesos.Task{
		Name:        proto.String(t.Name),
		TaskId:      &mesos.TaskID{Value: proto.String(t.ID)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(t.FrameworkID)},
		AgentId:     &mesos.AgentID{Value: proto.String(t.AgentID)},
		State:       t.State.Enum(),
		Resources:   t.Resources.ToProto(resources.Endpoint),
		Statuses:    t.Statuses,
		Labels:      t.Info.GetLabels(),
		Discovery:   t.Info.GetDiscovery(),
		Container:   t.Info.GetContainer(),
		HealthCheck: t.Info.GetHealthCheck(),
		KillPolicy:  t.Info.GetKillPolicy(),
		Limits:      t.Info.GetLimits(),
	}
	if t.ExecutorID != "" {
		p.ExecutorId = &mesos.ExecutorID{Value: proto.String(t.ExecutorID)}
	}
	if len(t.StatusUpdateUUID) > 0 {
		p.StatusUpdateState = t.StatusUpdateState.Enum()
		p.StatusUpdateUuid = t.StatusUpdateUUID
	}
	if t.User != "" {
		p.User = proto.String(t.User)
	}
	return p
}

// timeInfo is t as a TimeInfo; nil for the zero time.
func timeInfo(t time.Time) *mesos.TimeInfo {
	if t.IsZero() {
		return nil
	}
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}
