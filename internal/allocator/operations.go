package allocator

import (
	"errors"
	"fmt"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// Offer operations that convert resources (RESERVE, UNRESERVE, CREATE,
// DESTROY) change an agent's total: reserved or volume resources replace the
// plain ones they were made from. Two entry points, as in Mesos:
//
//   - UpdateAllocation: a framework ACCEPTs an offer with such operations;
//     they convert resources it holds (allocation_info set), and the agent's
//     total follows.
//   - UpdateAvailable: an operator converts free resources of an agent
//     (RESERVE_RESOURCES, CREATE_VOLUMES, ...; allocation_info unset).
//
// Either succeeds as a whole or changes nothing.

// ErrUnknownAgent is returned for operations on an agent the allocator does
// not know.
var ErrUnknownAgent = errors.New("allocator: unknown agent")

// UpdateAllocation applies ops, in order, to res, resources the framework
// holds on the agent (allocation_info set, as offered), and returns what res
// became; the framework holds that instead, and the agent's total changes
// accordingly. An error wrapping resources.ErrInsufficient means the
// framework does not hold what an operation consumes.
func (a *Allocator) UpdateAllocation(frameworkID, agentID string, res resources.Resources, ops []*mesos.Offer_Operation) (resources.Resources, error) {
	ag := a.agents[agentID]
	if ag == nil {
		return resources.Resources{}, fmt.Errorf("%w %q", ErrUnknownAgent, agentID)
	}
	held := ag.allocated[frameworkID]
	if !held.Contains(res) {
		return resources.Resources{}, fmt.Errorf("%w: framework %s does not hold %s on agent %s",
			resources.ErrInsufficient, frameworkID, res, agentID)
	}
	converted, err := applyAll(res, ops)
	if err != nil {
		return resources.Resources{}, err
	}
	fw := a.frameworks[frameworkID]
	a.charge(fw, res, false)
	a.release(fw, ag, held.Subtract(res))
	a.setTotal(ag, ag.total.Subtract(res.Unallocated()).Add(converted.Unallocated()))
	a.hold(fw, ag, converted)
	a.charge(fw, converted, true)
	return converted, nil
}

// UpdateAvailable applies ops, in order, to the agent's free resources (what
// no framework holds). An error wrapping resources.ErrInsufficient means the
// free resources lack what an operation consumes: the caller may rescind
// offers on the agent and try again.
func (a *Allocator) UpdateAvailable(agentID string, ops []*mesos.Offer_Operation) error {
	ag := a.agents[agentID]
	if ag == nil {
		return fmt.Errorf("%w %q", ErrUnknownAgent, agentID)
	}
	free, err := applyAll(ag.free, ops)
	if err != nil {
		return err
	}
	a.setTotal(ag, ag.total.Subtract(ag.free).Add(free))
	ag.setFree(free)
	return nil
}

// AgentTotal is the agent's total as the allocator has it (false if the
// agent is unknown).
func (a *Allocator) AgentTotal(agentID string) (resources.Resources, bool) {
	ag := a.agents[agentID]
	if ag == nil {
		return resources.Resources{}, false
	}
	return ag.total, true
}

func applyAll(res resources.Resources, ops []*mesos.Offer_Operation) (resources.Resources, error) {
	for _, op := range ops {
		next, err := res.Apply(op)
		if err != nil {
			return resources.Resources{}, err
		}
		res = next
	}
	return res, nil
}

// setTotal replaces the agent's total in the cluster totals, reservations
// and share basis.
func (a *Allocator) setTotal(ag *agent, total resources.Resources) {
	a.addTotal(ag.total, false)
	ag.total = total
	ag.describe()
	a.addTotal(ag.total, true)
}
