package registry

import (
	"cmp"
	"slices"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Agents move between three lists:
//
//	          admit_agent             mark_agent_unreachable
//	(unknown) ----------> admitted ------------------------> unreachable
//	                      |  ^  <------------------------      |
//	        remove_agent  |  |     mark_agent_reachable        |
//	      (back to unknown)  |                                 |
//	                      mark_agent_gone              mark_agent_gone
//	                      v                                    v
//	                      gone <-------------------------------'
//
// Gone is final. prune forgets old unreachable and gone records.

func (w *writer) admitAgent(op *Operation_AdmitAgent) *OpError {
	a := op.GetAgent()
	id, err := agentIDOf(a.GetInfo())
	if err != nil {
		return err
	}
	if err := w.checkUnknownAgent(id); err != nil {
		return err
	}
	set(w, own(w, &w.s.agents), id, a)
	return nil
}

// checkUnknownAgent accepts an agent ID that is in none of the lists.
func (w *writer) checkUnknownAgent(id string) *OpError {
	switch {
	case w.s.agents[id] != nil:
		return conflictf("agent %q is already admitted", id)
	case w.s.unreachable[id] != nil:
		return conflictf("agent %q is unreachable: re-admit it with mark_agent_reachable", id)
	case w.s.gone[id] != nil:
		return conflictf("agent %q is gone", id)
	}
	return nil
}

func (w *writer) updateAgent(op *Operation_UpdateAgent) *OpError {
	id, err := agentIDOf(op.GetInfo())
	if err != nil {
		return err
	}
	old, err := w.admitted(id)
	if err != nil {
		return err
	}
	next := &Agent{Info: op.GetInfo(), Capabilities: op.GetCapabilities(), Deactivated: old.Deactivated, DrainInfo: old.DrainInfo}
	set(w, own(w, &w.s.agents), id, next)
	return nil
}

func (w *writer) removeAgent(op *Operation_RemoveAgent) *OpError {
	id := op.GetId().GetValue()
	if _, err := w.admitted(id); err != nil {
		return err
	}
	remove(w, own(w, &w.s.agents), id)
	return nil
}

func (w *writer) markAgentUnreachable(op *Operation_MarkAgentUnreachable) *OpError {
	id := op.GetId().GetValue()
	if w.s.unreachable[id] != nil {
		return conflictf("agent %q is already unreachable", id)
	}
	if _, err := w.admitted(id); err != nil {
		return err
	}
	remove(w, own(w, &w.s.agents), id)
	set(w, own(w, &w.s.unreachable), id, &RemovedAgent{Id: op.GetId(), Time: op.GetTime()})
	return nil
}

func (w *writer) markAgentReachable(op *Operation_MarkAgentReachable) *OpError {
	a := op.GetAgent()
	id, err := agentIDOf(a.GetInfo())
	if err != nil {
		return err
	}
	switch {
	case w.s.agents[id] != nil:
		return conflictf("agent %q is already admitted", id)
	case w.s.gone[id] != nil:
		return conflictf("agent %q is gone", id)
	case w.s.unreachable[id] == nil:
		return notFoundf("agent %q is not unreachable", id)
	}
	remove(w, own(w, &w.s.unreachable), id)
	set(w, own(w, &w.s.agents), id, a)
	return nil
}

func (w *writer) markAgentGone(op *Operation_MarkAgentGone) *OpError {
	id := op.GetId().GetValue()
	gone := &RemovedAgent{Id: op.GetId(), Time: op.GetTime()}
	switch {
	case id == "":
		return invalidf("agent ID is empty")
	case w.s.gone[id] != nil:
		return conflictf("agent %q is already gone", id)
	case w.s.agents[id] != nil:
		remove(w, own(w, &w.s.agents), id)
	case w.s.unreachable[id] != nil:
		remove(w, own(w, &w.s.unreachable), id)
	default:
		return notFoundf("agent %q is not admitted nor unreachable", id)
	}
	set(w, own(w, &w.s.gone), id, gone)
	return nil
}

func (w *writer) deactivateAgent(op *Operation_DeactivateAgent) *OpError {
	return w.changeAgent(op.GetId().GetValue(), func(a *Agent) (*Agent, *OpError) {
		if a.GetDeactivated() {
			return nil, conflictf("agent %q is already deactivated", a.GetInfo().GetId().GetValue())
		}
		return withFlags(a, true, a.DrainInfo), nil
	})
}

func (w *writer) reactivateAgent(op *Operation_ReactivateAgent) *OpError {
	return w.changeAgent(op.GetId().GetValue(), func(a *Agent) (*Agent, *OpError) {
		if !a.GetDeactivated() {
			return nil, conflictf("agent %q is not deactivated", a.GetInfo().GetId().GetValue())
		}
		return withFlags(a, false, nil), nil
	})
}

func (w *writer) drainAgent(op *Operation_DrainAgent) *OpError {
	if op.GetConfig().GetMaxGracePeriod().GetNanoseconds() < 0 {
		return invalidf("max_grace_period must not be negative")
	}
	return w.changeAgent(op.GetId().GetValue(), func(a *Agent) (*Agent, *OpError) {
		if a.GetDrainInfo().GetState() == mesos.DrainState_DRAINED {
			return nil, conflictf("agent %q is already drained", a.GetInfo().GetId().GetValue())
		}
		info := &mesos.DrainInfo{State: mesos.DrainState_DRAINING.Enum(), Config: op.GetConfig()}
		return withFlags(a, true, info), nil
	})
}

func (w *writer) markAgentDrained(op *Operation_MarkAgentDrained) *OpError {
	return w.changeAgent(op.GetId().GetValue(), func(a *Agent) (*Agent, *OpError) {
		if a.GetDrainInfo().GetState() != mesos.DrainState_DRAINING {
			return nil, conflictf("agent %q is not draining", a.GetInfo().GetId().GetValue())
		}
		info := &mesos.DrainInfo{State: mesos.DrainState_DRAINED.Enum(), Config: a.GetDrainInfo().GetConfig()}
		return withFlags(a, true, info), nil
	})
}

// changeAgent replaces an admitted agent's record with change's result.
func (w *writer) changeAgent(id string, change func(*Agent) (*Agent, *OpError)) *OpError {
	a, err := w.admitted(id)
	if err != nil {
		return err
	}
	next, err := change(a)
	if err != nil {
		return err
	}
	set(w, own(w, &w.s.agents), id, next)
	return nil
}

// withFlags is a new record sharing a's info with the given flags.
func withFlags(a *Agent, deactivated bool, drain *mesos.DrainInfo) *Agent {
	next := &Agent{Info: a.Info, Capabilities: a.Capabilities, DrainInfo: drain}
	if deactivated {
		next.Deactivated = &deactivated
	}
	return next
}

func (w *writer) admitted(id string) (*Agent, *OpError) {
	if id == "" {
		return nil, invalidf("agent ID is empty")
	}
	a := w.s.agents[id]
	if a == nil {
		return nil, notFoundf("agent %q is not admitted", id)
	}
	return a, nil
}

func agentIDOf(info *mesos.AgentInfo) (string, *OpError) {
	if info == nil {
		return "", invalidf("agent info is missing")
	}
	id := info.GetId().GetValue()
	if id == "" {
		return "", invalidf("agent info has no ID")
	}
	return id, nil
}

// prune forgets unreachable agents, gone agents and completed frameworks
// that are too old or too many, oldest first.
func (w *writer) prune(op *Operation_Prune) *OpError {
	maxAge := op.GetMaxAge().GetNanoseconds()
	if maxAge < 0 {
		return invalidf("max_age must not be negative")
	}
	cutoff := op.GetNow().GetNanoseconds() - maxAge
	limit := int(op.GetMaxCount())
	for _, id := range expired(w.s.unreachable, (*RemovedAgent).GetTime, cutoff, limit) {
		remove(w, own(w, &w.s.unreachable), id)
	}
	for _, id := range expired(w.s.gone, (*RemovedAgent).GetTime, cutoff, limit) {
		remove(w, own(w, &w.s.gone), id)
	}
	for _, id := range expired(w.s.completed, (*CompletedFramework).GetTime, cutoff, limit) {
		remove(w, own(w, &w.s.completed), id)
	}
	return nil
}

// expired returns the keys of records marked before cutoff, plus the oldest
// beyond limit, in a deterministic order.
func expired[V any](m map[string]V, timeOf func(V) *mesos.TimeInfo, cutoff int64, limit int) []string {
	type rec struct {
		id string
		t  int64
	}
	all := make([]rec, 0, len(m))
	for id, v := range m {
		all = append(all, rec{id, timeOf(v).GetNanoseconds()})
	}
	slices.SortFunc(all, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.t, b.t), strings.Compare(a.id, b.id))
	})
	var out []string
	for i, r := range all {
		if r.t < cutoff || len(all)-i > limit {
			out = append(out, r.id)
		}
	}
	return out
}
