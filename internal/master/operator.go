package master

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/version"
)

// The v1 operator API, POST /api/v1 (reference §6): the same request
// ladder as the scheduler API, then one handler per call type. GET calls
// answer 200 with a Response in the negotiated encoding; resource
// conversions answer 202; other mutations answer 200 with no body once
// their registry write has committed. SUBSCRIBE is a stream
// (operator_subscribe.go).
//
// Files: operator_state.go (GET_STATE and its parts), operator_files.go
// (logging level, the master's log), operator_resources.go (reservations
// and volumes), operator_maintenance.go (schedule, machines, inverse
// offers), operator_agents.go (drain, (de)activate, gone, teardown),
// operator_subscribe.go and events.go (the event stream).

// operatorState is the loop-owned state of the operator API.
type operatorState struct {
	subscribers []*operatorSubscriber // oldest first
	maintenance maintenanceState
	// draining holds the agents whose MarkAgentDrained write is in flight.
	draining map[string]bool
	// logRevert restores the log level after SET_LOGGING_LEVEL's duration.
	logRevert *time.Timer
}

// operatorResult is what an operator call produces: a body, or a write
// whose outcome decides the answer; accepted answers 202.
type operatorResult struct {
	resp *masterpb.Response
	// encode, when set instead of resp, encodes the answer itself
	// (operator_render.go).
	encode   func(wire.Encoding) ([]byte, error)
	wait     <-chan error
	accepted bool
}

type operatorCall func(m *Master, ctx context.Context, call *masterpb.Call) (operatorResult, error)

// operatorCalls are the implemented calls; others answer 501.
var operatorCalls = map[masterpb.Call_Type]operatorCall{
	masterpb.Call_GET_HEALTH:     (*Master).opGetHealth,
	masterpb.Call_GET_FLAGS:      (*Master).opGetFlags,
	masterpb.Call_GET_VERSION:    (*Master).opGetVersion,
	masterpb.Call_GET_METRICS:    (*Master).opGetMetrics,
	masterpb.Call_GET_ROLES:      (*Master).opGetRoles,
	masterpb.Call_GET_WEIGHTS:    (*Master).opGetWeights,
	masterpb.Call_UPDATE_WEIGHTS: (*Master).opUpdateWeights,
	masterpb.Call_GET_QUOTA:      (*Master).opGetQuota,
	masterpb.Call_UPDATE_QUOTA:   (*Master).opUpdateQuota,
	masterpb.Call_GET_MASTER:     (*Master).opGetMaster,

	masterpb.Call_GET_LOGGING_LEVEL: (*Master).opGetLoggingLevel,
	masterpb.Call_SET_LOGGING_LEVEL: (*Master).opSetLoggingLevel,
	masterpb.Call_LIST_FILES:        (*Master).opListFiles,
	masterpb.Call_READ_FILE:         (*Master).opReadFile,

	masterpb.Call_GET_STATE:      (*Master).opGetState,
	masterpb.Call_GET_AGENTS:     (*Master).opGetAgents,
	masterpb.Call_GET_FRAMEWORKS: (*Master).opGetFrameworks,
	masterpb.Call_GET_EXECUTORS:  (*Master).opGetExecutors,
	masterpb.Call_GET_TASKS:      (*Master).opGetTasks,
	masterpb.Call_GET_OPERATIONS: (*Master).opGetOperations,

	masterpb.Call_RESERVE_RESOURCES:   (*Master).opReserveResources,
	masterpb.Call_UNRESERVE_RESOURCES: (*Master).opUnreserveResources,
	masterpb.Call_CREATE_VOLUMES:      (*Master).opCreateVolumes,
	masterpb.Call_DESTROY_VOLUMES:     (*Master).opDestroyVolumes,
	masterpb.Call_GROW_VOLUME:         (*Master).opGrowVolume,
	masterpb.Call_SHRINK_VOLUME:       (*Master).opShrinkVolume,

	masterpb.Call_GET_MAINTENANCE_STATUS:      (*Master).opGetMaintenanceStatus,
	masterpb.Call_GET_MAINTENANCE_SCHEDULE:    (*Master).opGetMaintenanceSchedule,
	masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE: (*Master).opUpdateMaintenanceSchedule,
	masterpb.Call_START_MAINTENANCE:           (*Master).opStartMaintenance,
	masterpb.Call_STOP_MAINTENANCE:            (*Master).opStopMaintenance,

	masterpb.Call_DRAIN_AGENT:      (*Master).opDrainAgent,
	masterpb.Call_DEACTIVATE_AGENT: (*Master).opDeactivateAgent,
	masterpb.Call_REACTIVATE_AGENT: (*Master).opReactivateAgent,
	masterpb.Call_MARK_AGENT_GONE:  (*Master).opMarkAgentGone,
	masterpb.Call_TEARDOWN:         (*Master).opTeardown,
}

func (m *Master) serveOperator(w http.ResponseWriter, r *http.Request) {
	call := &masterpb.Call{}
	req, err := apihttp.Decode(r, call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	if call.GetType() == masterpb.Call_SUBSCRIBE {
		if !req.AcceptOK {
			apihttp.WriteError(w, apihttp.NotAcceptable())
			return
		}
		m.serveOperatorSubscribe(w, r, req)
		return
	}
	handle, ok := operatorCalls[call.GetType()]
	if !ok {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusNotImplemented, "Operator call %s is not implemented", call.GetType()))
		return
	}
	if !req.AcceptOK {
		apihttp.WriteError(w, apihttp.NotAcceptable())
		return
	}
	res, err := handle(m, r.Context(), call)
	if err == nil && res.wait != nil {
		select {
		case err = <-res.wait:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case err != nil:
		apihttp.WriteError(w, err)
	case res.resp != nil:
		apihttp.WriteMessage(w, req.Accept, res.resp)
	case res.encode != nil:
		body, err := res.encode(req.Accept)
		if err != nil {
			apihttp.WriteError(w, fmt.Errorf("encoding response: %w", err))
			return
		}
		w.Header().Set("Content-Type", req.Accept.ContentType())
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	case res.accepted:
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// onLoop runs fn on the loop if this master leads.
func (m *Master) onLoop(ctx context.Context, fn func() (operatorResult, error)) (operatorResult, error) {
	var res operatorResult
	var callErr error
	err := m.exec(ctx, func() {
		if !m.isLeading() {
			callErr = errNotLeading
			return
		}
		res, callErr = fn()
	})
	if err != nil {
		return res, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	return res, callErr
}

func response(t masterpb.Response_Type) *masterpb.Response { return &masterpb.Response{Type: t.Enum()} }

func (m *Master) opGetHealth(context.Context, *masterpb.Call) (operatorResult, error) {
	resp := response(masterpb.Response_GET_HEALTH)
	resp.GetHealth = &masterpb.Response_GetHealth{Healthy: proto.Bool(true)}
	return operatorResult{resp: resp}, nil
}

func (m *Master) opGetFlags(context.Context, *masterpb.Call) (operatorResult, error) {
	resp := response(masterpb.Response_GET_FLAGS)
	resp.GetFlags = &masterpb.Response_GetFlags{}
	for _, name := range sortedKeys(m.cfg.Flags) {
		resp.GetFlags.Flags = append(resp.GetFlags.Flags, &mesos.Flag{Name: proto.String(name), Value: proto.String(m.cfg.Flags[name])})
	}
	return operatorResult{resp: resp}, nil
}

func (m *Master) opGetVersion(context.Context, *masterpb.Call) (operatorResult, error) {
	resp := response(masterpb.Response_GET_VERSION)
	resp.GetVersion = &masterpb.Response_GetVersion{VersionInfo: versionInfo()}
	return operatorResult{resp: resp}, nil
}

func versionInfo() *mesos.VersionInfo {
	b := version.Info()
	return &mesos.VersionInfo{Version: proto.String(version.Mesos), BuildDate: proto.String(b.BuildTime), GitSha: proto.String(b.GitSHA)}
}

func (m *Master) opGetMetrics(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	s, err := m.MetricsSnapshot(ctx)
	if err != nil {
		return operatorResult{}, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err)
	}
	metrics := metricsOf(s, m.clock.Now())
	resp := response(masterpb.Response_GET_METRICS)
	resp.GetMetrics = &masterpb.Response_GetMetrics{}
	names := make([]string, 0, len(metrics))
	for name := range metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		resp.GetMetrics.Metrics = append(resp.GetMetrics.Metrics, &mesos.Metric{Name: proto.String(name), Value: proto.Float64(metrics[name])})
	}
	return operatorResult{resp: resp}, nil
}

func (m *Master) opGetMaster(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.onLoop(ctx, func() (operatorResult, error) {
		resp := response(masterpb.Response_GET_MASTER)
		resp.GetMaster = &masterpb.Response_GetMaster{
			MasterInfo:  m.info,
			StartTime:   proto.Float64(seconds(m.startTime)),
			ElectedTime: proto.Float64(seconds(m.electedTime)),
		}
		return operatorResult{resp: resp}, nil
	})
}

func (m *Master) opGetRoles(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.onLoop(ctx, func() (operatorResult, error) {
		resp := response(masterpb.Response_GET_ROLES)
		resp.GetRoles = &masterpb.Response_GetRoles{Roles: m.roleList()}
		return operatorResult{resp: resp}, nil
	})
}

func (m *Master) opGetWeights(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.onLoop(ctx, func() (operatorResult, error) {
		resp := response(masterpb.Response_GET_WEIGHTS)
		resp.GetWeights = &masterpb.Response_GetWeights{WeightInfos: m.weightInfos()}
		return operatorResult{resp: resp}, nil
	})
}

// weightInfos lists the roles whose weight is not the default 1.
func (m *Master) weightInfos() []*mesos.WeightInfo {
	var out []*mesos.WeightInfo
	for _, v := range m.alloc.Roles() {
		if v.Weight != 1 {
			out = append(out, &mesos.WeightInfo{Role: proto.String(v.Name), Weight: proto.Float64(v.Weight)})
		}
	}
	return out
}

func (m *Master) opUpdateWeights(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	if call.UpdateWeights == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'update_weights' to be present")
	}
	return m.onLoop(ctx, func() (operatorResult, error) {
		wait, err := m.updateWeights(call.GetUpdateWeights().GetWeightInfos())
		return operatorResult{wait: wait}, err
	})
}

func (m *Master) opGetQuota(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.onLoop(ctx, func() (operatorResult, error) {
		resp := response(masterpb.Response_GET_QUOTA)
		resp.GetQuota = &masterpb.Response_GetQuota{Status: m.quotaStatus()}
		return operatorResult{resp: resp}, nil
	})
}

func (m *Master) opUpdateQuota(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	if call.UpdateQuota == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'update_quota' to be present")
	}
	u := &registryQuotaUpdate{force: call.GetUpdateQuota().GetForce(), configs: call.GetUpdateQuota().GetQuotaConfigs()}
	return m.onLoop(ctx, func() (operatorResult, error) {
		wait, err := m.updateQuota(u)
		return operatorResult{wait: wait}, err
	})
}
