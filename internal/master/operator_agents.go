package master

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
)

// Operator calls on agents and frameworks: DEACTIVATE_AGENT,
// REACTIVATE_AGENT, DRAIN_AGENT, MARK_AGENT_GONE and TEARDOWN. Each is
// answered 200 with no body once its registry write has committed and
// taken effect.
//
// Draining (reference §9):
//
//	DRAIN_AGENT ──► DRAINING (deactivated; every task killed, grace ≤ max_grace_period)
//	                   │ no task left (terminal updates acknowledged)
//	                   ▼
//	                DRAINED ──mark_gone──► gone
//	REACTIVATE_AGENT ends either (the agent is offered again).

func (m *Master) opDeactivateAgent(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	id := call.GetDeactivateAgent().GetAgentId().GetValue()
	return m.onLoop(ctx, func() (operatorResult, error) {
		ag, err := m.registeredAgent(id)
		if err != nil || ag.deactivated {
			return operatorResult{}, err
		}
		return m.agentWrite(ag, registry.DeactivateAgent(id), func() {
			ag.deactivated = true
			m.alloc.SetAgentActive(id, false)
			for _, o := range sortedOffers(ag.offers) {
				m.rescindOffer(o)
			}
		}), nil
	})
}

func (m *Master) opReactivateAgent(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	id := call.GetReactivateAgent().GetAgentId().GetValue()
	return m.onLoop(ctx, func() (operatorResult, error) {
		ag, err := m.registeredAgent(id)
		if err != nil || !ag.deactivated {
			return operatorResult{}, err
		}
		return m.agentWrite(ag, registry.ReactivateAgent(id), func() {
			ag.deactivated, ag.drain = false, nil
			m.alloc.SetAgentActive(id, ag.active())
			m.requestAllocation()
		}), nil
	})
}

func (m *Master) opDrainAgent(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	d := call.GetDrainAgent()
	config := &mesos.DrainConfig{MarkGone: proto.Bool(d.GetMarkGone())}
	if g := d.GetMaxGracePeriod(); g != nil {
		ns := g.GetSeconds()*int64(time.Second) + int64(g.GetNanos())
		if ns < 0 {
			return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "'drain_agent.max_grace_period' must not be negative")
		}
		config.MaxGracePeriod = &mesos.DurationInfo{Nanoseconds: proto.Int64(ns)}
	}
	id := d.GetAgentId().GetValue()
	return m.onLoop(ctx, func() (operatorResult, error) {
		ag, err := m.registeredAgent(id)
		if err != nil || ag.drain.GetState() == mesos.DrainState_DRAINED {
			return operatorResult{}, err
		}
		return m.agentWrite(ag, registry.DrainAgent(id, config), func() {
			ag.drain = &mesos.DrainInfo{State: mesos.DrainState_DRAINING.Enum(), Config: config}
			ag.deactivated = true
			m.alloc.SetAgentActive(id, false)
			for _, o := range sortedOffers(ag.offers) {
				m.rescindOffer(o)
			}
			m.log.Info("draining agent", "agent_id", id)
			m.continueDraining(ag)
		}), nil
	})
}

func (m *Master) opMarkAgentGone(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	id := call.GetMarkAgentGone().GetAgentId().GetValue()
	return m.onLoop(ctx, func() (operatorResult, error) {
		if _, gone := m.gone[id]; gone {
			return operatorResult{}, nil
		}
		_, unreachable := m.unreachable[id]
		if m.agents[id] == nil && !unreachable {
			return operatorResult{}, apihttp.Errorf(http.StatusNotFound, "Agent '%s' not found", id)
		}
		return operatorResult{wait: m.markGone(id, m.clock.Now())}, nil
	})
}

func (m *Master) opTeardown(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	id := call.GetTeardown().GetFrameworkId().GetValue()
	return m.onLoop(ctx, func() (operatorResult, error) {
		fw := m.frameworks[id]
		if fw == nil {
			return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "No framework found with specified ID")
		}
		m.removeFramework(fw, m.clock.Now())
		return operatorResult{}, nil
	})
}

// registeredAgent is an agent operator calls may act on: known and
// admitted (not unreachable, not only recovered from the registry).
func (m *Master) registeredAgent(id string) (*agent, error) {
	ag := m.agents[id]
	if ag == nil || ag.unreachable() {
		return nil, apihttp.Errorf(http.StatusBadRequest, "No agent found with specified ID")
	}
	return ag, nil
}

// agentWrite commits op for the agent, then applies it (if the agent is
// still the same one).
func (m *Master) agentWrite(ag *agent, op *registry.Operation, apply func()) operatorResult {
	done := make(chan error, 1)
	m.persistFor("agent/"+ag.id, []*registry.Operation{op}, func(err error) {
		if err == nil && m.agents[ag.id] == ag {
			apply()
			m.changed()
		}
		done <- writeFailure(err)
	})
	return operatorResult{wait: done}
}

// continueDraining kills the draining agent's live tasks, the grace period
// capped by max_grace_period, and checks whether it is drained already.
func (m *Master) continueDraining(ag *agent) {
	if ag.drain.GetState() != mesos.DrainState_DRAINING {
		return
	}
	limit := ag.drain.GetConfig().GetMaxGracePeriod()
	for _, fid := range sortedKeys(ag.tasks) {
		for _, tid := range sortedKeys(ag.tasks[fid]) {
			t := ag.tasks[fid][tid]
			if t.state.IsTerminal() || ag.conn == nil {
				continue
			}
			ag.conn.send(&protocol.AgentEvent{
				Type: protocol.AgentEvent_KILL_TASK.Enum(),
				KillTask: &protocol.AgentEvent_KillTask{
					FrameworkId: &mesos.FrameworkID{Value: proto.String(fid)},
					TaskId:      &mesos.TaskID{Value: proto.String(tid)},
					KillPolicy:  drainKillPolicy(t.info.GetKillPolicy(), limit),
				},
			})
		}
	}
	m.checkDrained(ag)
}

// drainKillPolicy is the task's kill policy with its grace period capped
// by limit (nil: the task's own policy applies).
func drainKillPolicy(kp *mesos.KillPolicy, limit *mesos.DurationInfo) *mesos.KillPolicy {
	if limit == nil {
		return kp
	}
	if g := kp.GetGracePeriod(); g != nil && g.GetNanoseconds() <= limit.GetNanoseconds() {
		return kp
	}
	return &mesos.KillPolicy{GracePeriod: limit}
}

// checkDrained moves a draining agent with no task left to DRAINED, and
// marks it gone if its drain config says so.
func (m *Master) checkDrained(ag *agent) {
	if ag.drain.GetState() != mesos.DrainState_DRAINING || len(ag.tasks) > 0 || m.ops.draining[ag.id] {
		return
	}
	if m.ops.draining == nil {
		m.ops.draining = map[string]bool{}
	}
	m.ops.draining[ag.id] = true
	config := ag.drain.GetConfig()
	m.persistFor("agent/"+ag.id, []*registry.Operation{registry.MarkAgentDrained(ag.id)}, func(err error) {
		delete(m.ops.draining, ag.id)
		if err != nil || m.agents[ag.id] != ag || ag.drain.GetState() != mesos.DrainState_DRAINING {
			return
		}
		ag.drain = &mesos.DrainInfo{State: mesos.DrainState_DRAINED.Enum(), Config: config}
		m.log.Info("agent drained", "agent_id", ag.id)
		m.changed()
		if config.GetMarkGone() {
			m.markGone(ag.id, m.clock.Now())
		}
	})
}

// markGone commits that the agent is gone for good, then removes it; the
// channel delivers the outcome.
func (m *Master) markGone(id string, now time.Time) <-chan error {
	done := make(chan error, 1)
	m.persistFor("agent/"+id, []*registry.Operation{registry.MarkAgentGone(id, now)}, func(err error) {
		if err == nil {
			m.gone[id] = now
			delete(m.unreachable, id)
			if ag := m.agents[id]; ag != nil {
				m.removeAgentByOperator(ag, "Agent has been marked gone", now)
			}
		}
		done <- writeFailure(err)
	})
	return done
}

// removeAgentByOperator drops an agent for good: it is told to shut down,
// its offers go, its tasks become TASK_GONE_BY_OPERATOR (TASK_LOST for
// frameworks that are not partition-aware), its executors are forgotten,
// and frameworks hear that it failed.
func (m *Master) removeAgentByOperator(ag *agent, message string, now time.Time) {
	m.removeAgent(ag, message, mesos.TaskState_TASK_GONE_BY_OPERATOR, mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, now)
}

// removeAgent drops an agent for good, its live tasks ending in state for
// reason (shown as TASK_LOST to frameworks that are not partition-aware).
func (m *Master) removeAgent(ag *agent, message string, state mesos.TaskState, reason mesos.TaskStatus_Reason, now time.Time) {
	ag.drain = nil
	if ag.conn != nil {
		ag.conn.send(&protocol.AgentEvent{Type: protocol.AgentEvent_SHUTDOWN.Enum(),
			Shutdown: &protocol.AgentEvent_Shutdown{Message: proto.String(message)}})
		ag.conn.close(message)
		delete(m.agentConns, ag.conn)
		ag.conn, ag.connected = nil, false
	}
	for _, o := range sortedOffers(ag.offers) {
		m.rescindOffer(o)
	}
	m.rescindInverseOffers(func(io *inverseOffer) bool { return io.agentID == ag.id })
	m.endAgentTasks(ag, message, state, reason, now)
	for fid, execs := range ag.executors {
		for eid := range execs {
			if fw := m.frameworks[fid]; fw != nil {
				m.removeExecutor(fw, ag.id, eid)
			} else {
				m.dropAgentExecutor(ag, fid, eid)
			}
		}
	}
	if ag.unreachableTimer != nil {
		ag.unreachableTimer.Stop()
	}
	delete(m.agents, ag.id)
	m.alloc.RemoveAgent(ag.id)
	for _, fw := range m.frameworks {
		if fw.conn != nil {
			fw.conn.send(&scheduler.Event{Type: scheduler.Event_FAILURE.Enum(), Failure: &scheduler.Event_Failure{AgentId: ag.info.GetId()}})
		}
	}
	m.agentRemoved(ag.id)
	m.log.Warn("agent removed", "agent_id", ag.id, "reason", message)
	m.changed()
}

// endAgentTasks ends a removed agent's tasks: live ones in state, terminal
// ones awaiting acknowledgement at once.
func (m *Master) endAgentTasks(ag *agent, message string, state mesos.TaskState, reason mesos.TaskStatus_Reason, now time.Time) {
	for _, fid := range sortedKeys(ag.tasks) {
		for _, tid := range sortedKeys(ag.tasks[fid]) {
			t := ag.tasks[fid][tid]
			if t.state.IsTerminal() {
				m.removeTask(t)
				continue
			}
			m.transitionTask(t, &mesos.TaskStatus{
				TaskId:  &mesos.TaskID{Value: proto.String(t.id)},
				State:   state.Enum(),
				Source:  mesos.TaskStatus_SOURCE_MASTER.Enum(),
				Reason:  reason.Enum(),
				Message: proto.String(message),
				AgentId: ag.info.GetId(),
			}, now)
		}
	}
}

// agentAttached runs when an agent's stream is live: operator subscribers
// hear of an agent that is new or back (announce), and a draining agent
// carries on draining.
func (m *Master) agentAttached(ag *agent, announce bool) {
	if announce {
		m.agentAdded(ag)
	}
	m.continueDraining(ag)
}
