package master

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// Dynamic reservations and persistent volumes (reference §9): RESERVE,
// UNRESERVE, CREATE and DESTROY convert resources of an agent, either free
// ones (the operator calls RESERVE_RESOURCES, UNRESERVE_RESOURCES,
// CREATE_VOLUMES, DESTROY_VOLUMES, answered 202) or offered ones (the same
// operations in an ACCEPT). The allocator converts its view first
// (UpdateAvailable, UpdateAllocation); the master's total of the agent
// follows it, and the agent is sent the resulting set of checkpointed
// resources (CHECKPOINT_RESOURCES), which it reports back when it
// re-registers. Nothing of this is in the registry: as in Mesos the agent
// keeps it.

func (m *Master) opReserveResources(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	r := call.GetReserveResources()
	if r == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'reserve_resources' to be present")
	}
	return m.operatorConversion(ctx, r.GetAgentId(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
		Reserve: &mesos.Offer_Operation_Reserve{Source: r.GetSource(), Resources: r.GetResources()}})
}

func (m *Master) opUnreserveResources(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	r := call.GetUnreserveResources()
	if r == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'unreserve_resources' to be present")
	}
	return m.operatorConversion(ctx, r.GetAgentId(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_UNRESERVE.Enum(),
		Unreserve: &mesos.Offer_Operation_Unreserve{Resources: r.GetResources()}})
}

func (m *Master) opCreateVolumes(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	r := call.GetCreateVolumes()
	if r == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'create_volumes' to be present")
	}
	return m.operatorConversion(ctx, r.GetAgentId(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(),
		Create: &mesos.Offer_Operation_Create{Volumes: r.GetVolumes()}})
}

func (m *Master) opDestroyVolumes(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	r := call.GetDestroyVolumes()
	if r == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'destroy_volumes' to be present")
	}
	return m.operatorConversion(ctx, r.GetAgentId(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(),
		Destroy: &mesos.Offer_Operation_Destroy{Volumes: r.GetVolumes()}})
}

func (m *Master) opGrowVolume(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	r := call.GetGrowVolume()
	if r == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'grow_volume' to be present")
	}
	return m.operatorConversion(ctx, r.GetAgentId(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
		GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: r.GetVolume(), Addition: r.GetAddition()}})
}

func (m *Master) opShrinkVolume(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	r := call.GetShrinkVolume()
	if r == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'shrink_volume' to be present")
	}
	return m.operatorConversion(ctx, r.GetAgentId(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
		ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: r.GetVolume(), Subtract: r.GetSubtract()}})
}

// operatorConversion applies an operator's conversion to the agent's free
// resources: 400 for an invalid one or an unknown agent, 409 when the
// agent is disconnected or its unused resources lack what it consumes, 202
// once applied.
func (m *Master) operatorConversion(ctx context.Context, agentID *mesos.AgentID, op *mesos.Offer_Operation) (operatorResult, error) {
	if err := validateConversion(op, ""); err != nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Invalid %s operation: %v", op.GetType(), err)
	}
	return m.onLoop(ctx, func() (operatorResult, error) {
		ag := m.agents[agentID.GetValue()]
		if ag == nil || ag.unreachable() || ag.recovering {
			return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "No agent found with specified ID")
		}
		if !ag.connected {
			// It could not be told to checkpoint the change.
			return operatorResult{}, apihttp.Errorf(http.StatusConflict, "Agent %s is not connected", ag.id)
		}
		if err := checkVolumeIDs(ag, op); err != nil {
			return operatorResult{}, apihttp.Errorf(http.StatusConflict, "%v", err)
		}
		if err := m.convertAvailable(ag, op); err != nil {
			return operatorResult{}, err
		}
		return operatorResult{accepted: true}, nil
	})
}

// convertAvailable applies op to what no task, executor or offer uses on
// the agent, rescinding the agent's offers one at a time until that holds
// what op consumes.
func (m *Master) convertAvailable(ag *agent, op *mesos.Offer_Operation) error {
	for {
		err := m.alloc.UpdateAvailable(ag.id, []*mesos.Offer_Operation{op})
		if err == nil {
			break
		}
		if !errors.Is(err, resources.ErrInsufficient) {
			return apihttp.Errorf(http.StatusBadRequest, "Invalid %s operation: %v", op.GetType(), err)
		}
		offers := sortedOffers(ag.offers)
		if len(offers) == 0 {
			return apihttp.Errorf(http.StatusConflict, "Insufficient resources on agent %s: %v", ag.id, err)
		}
		m.rescindOffer(offers[0])
	}
	m.log.Info("operator converted agent resources", "agent_id", ag.id, "operation", op.GetType().String())
	m.syncAgentTotal(ag)
	m.requestAllocation()
	return nil
}

// acceptConversion applies a RESERVE, UNRESERVE, CREATE, DESTROY,
// GROW_VOLUME or SHRINK_VOLUME of an ACCEPT to the offered resources still available, and returns what they
// became. A failing operation is dropped (with OPERATION_ERROR when it has
// an ID) and changes nothing.
func (m *Master) acceptConversion(fw *framework, ag *agent, role string, available resources.Resources, op *mesos.Offer_Operation) resources.Resources {
	allocated, err := m.allocatedOperation(fw, role, op)
	if err == nil {
		err = validateConversion(allocated, role)
	}
	if err == nil {
		err = checkVolumeIDs(ag, allocated)
	}
	var converted resources.Resources
	if err == nil {
		converted, err = m.alloc.UpdateAllocation(fw.id, ag.id, available, []*mesos.Offer_Operation{allocated})
	}
	if err != nil {
		m.log.Info("offer operation failed", "framework_id", fw.id, "type", op.GetType().String(), "error", err)
		m.operationStatus(fw, ag, op, mesos.OperationState_OPERATION_ERROR, err.Error(), resources.Resources{})
		return available
	}
	m.syncAgentTotal(ag)
	m.operationStatus(fw, ag, op, mesos.OperationState_OPERATION_FINISHED, "", converted)
	return converted
}

// allocatedOperation is op with its resources allocated to role, as the
// offered ones are: set for frameworks without MULTI_ROLE, checked for the
// others.
func (m *Master) allocatedOperation(fw *framework, role string, op *mesos.Offer_Operation) (*mesos.Offer_Operation, error) {
	out := proto.Clone(op).(*mesos.Offer_Operation)
	for _, list := range operationResources(out) {
		res, err := m.taskResources(fw, role, *list)
		if err != nil {
			return nil, err
		}
		*list = res.ToProto(resources.PostRefinement)
	}
	for _, one := range operationResource(out) {
		if *one == nil {
			continue // validateConversion says what is missing
		}
		res, err := m.taskResources(fw, role, []*mesos.Resource{*one})
		if err != nil {
			return nil, err
		}
		if ps := res.ToProto(resources.PostRefinement); len(ps) == 1 {
			*one = ps[0]
		}
	}
	return out, nil
}

// operationResource are the single resources of a GROW_VOLUME (the volume,
// the addition) or a SHRINK_VOLUME (the volume), to read or replace.
func operationResource(op *mesos.Offer_Operation) []**mesos.Resource {
	switch op.GetType() {
	case mesos.Offer_Operation_GROW_VOLUME:
		if op.GrowVolume == nil {
			op.GrowVolume = &mesos.Offer_Operation_GrowVolume{}
		}
		return []**mesos.Resource{&op.GrowVolume.Volume, &op.GrowVolume.Addition}
	case mesos.Offer_Operation_SHRINK_VOLUME:
		if op.ShrinkVolume == nil {
			op.ShrinkVolume = &mesos.Offer_Operation_ShrinkVolume{}
		}
		return []**mesos.Resource{&op.ShrinkVolume.Volume}
	}
	return nil
}

// operationResources are the resource lists of a conversion, to read or
// replace.
func operationResources(op *mesos.Offer_Operation) []*[]*mesos.Resource {
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		if op.Reserve == nil {
			op.Reserve = &mesos.Offer_Operation_Reserve{}
		}
		if len(op.Reserve.Source) == 0 {
			return []*[]*mesos.Resource{&op.Reserve.Resources}
		}
		return []*[]*mesos.Resource{&op.Reserve.Source, &op.Reserve.Resources}
	case mesos.Offer_Operation_UNRESERVE:
		if op.Unreserve == nil {
			op.Unreserve = &mesos.Offer_Operation_Unreserve{}
		}
		return []*[]*mesos.Resource{&op.Unreserve.Resources}
	case mesos.Offer_Operation_CREATE:
		if op.Create == nil {
			op.Create = &mesos.Offer_Operation_Create{}
		}
		return []*[]*mesos.Resource{&op.Create.Volumes}
	case mesos.Offer_Operation_DESTROY:
		if op.Destroy == nil {
			op.Destroy = &mesos.Offer_Operation_Destroy{}
		}
		return []*[]*mesos.Resource{&op.Destroy.Volumes}
	}
	return nil
}

// validateConversion applies Mesos' rules: RESERVE pushes and UNRESERVE
// pops dynamic reservations only; volumes are created on reserved disk,
// need a persistence ID and a volume, and are not unreserved. role, when
// set (an ACCEPT), is the role every reservation must be for.
func validateConversion(op *mesos.Offer_Operation, role string) error {
	if one := operationResource(proto.Clone(op).(*mesos.Offer_Operation)); one != nil {
		// A resize: the volume is checked here, the rest by the resource
		// algebra (the addition's kind, the sizes).
		if *one[0] == nil {
			return fmt.Errorf("no volume given")
		}
		if _, err := resources.FromProto([]*mesos.Resource{*one[0]}); err != nil {
			return err
		}
		return checkConverted(op.GetType(), *one[0], role)
	}
	lists := operationResources(proto.Clone(op).(*mesos.Offer_Operation))
	if len(lists) == 0 {
		return fmt.Errorf("not a resource conversion")
	}
	target := *lists[len(lists)-1]
	if len(target) == 0 {
		return fmt.Errorf("no resources given")
	}
	res, err := resources.FromProto(target)
	if err != nil {
		return err
	}
	var problem error
	res.Filter(func(p *mesos.Resource) bool {
		if problem == nil {
			problem = checkConverted(op.GetType(), p, role)
		}
		return true
	})
	return problem
}

func checkConverted(t mesos.Offer_Operation_Type, p *mesos.Resource, role string) error {
	stack := p.GetReservations()
	top := stack[max(len(stack)-1, 0):]
	volume := p.GetDisk().GetPersistence() != nil
	switch {
	case (t == mesos.Offer_Operation_RESERVE || t == mesos.Offer_Operation_UNRESERVE) &&
		(len(top) == 0 || top[0].GetType() != mesos.Resource_ReservationInfo_DYNAMIC):
		return fmt.Errorf("%s is not dynamically reserved", p.GetName())
	case t == mesos.Offer_Operation_UNRESERVE && volume:
		return fmt.Errorf("persistent volume %q must be destroyed before it is unreserved", p.GetDisk().GetPersistence().GetId())
	case (t == mesos.Offer_Operation_CREATE || t == mesos.Offer_Operation_DESTROY || t == mesos.Offer_Operation_GROW_VOLUME ||
		t == mesos.Offer_Operation_SHRINK_VOLUME) && (!volume || p.GetName() != "disk"):
		return fmt.Errorf("%s is not a persistent volume", p.GetName())
	case t == mesos.Offer_Operation_CREATE && p.GetDisk().GetVolume() == nil:
		return fmt.Errorf("persistent volume %q has no 'volume'", p.GetDisk().GetPersistence().GetId())
	case t == mesos.Offer_Operation_CREATE && len(top) == 0:
		return fmt.Errorf("persistent volume %q must be created on reserved disk", p.GetDisk().GetPersistence().GetId())
	case role != "" && len(top) > 0 && t != mesos.Offer_Operation_DESTROY && top[0].GetRole() != role:
		return fmt.Errorf("%s is reserved to role %q but the offer is for role %q", p.GetName(), top[0].GetRole(), role)
	}
	return nil
}

// checkVolumeIDs refuses a CREATE of a persistence ID the agent already has.
func checkVolumeIDs(ag *agent, op *mesos.Offer_Operation) error {
	if op.GetType() != mesos.Offer_Operation_CREATE {
		return nil
	}
	existing := map[string]bool{}
	for _, p := range ag.total.ToProto(resources.PostRefinement) {
		if id := p.GetDisk().GetPersistence().GetId(); id != "" {
			existing[id] = true
		}
	}
	for _, v := range op.GetCreate().GetVolumes() {
		if id := v.GetDisk().GetPersistence().GetId(); existing[id] {
			return fmt.Errorf("persistence ID %q is already used by a volume on agent %s", id, ag.id)
		}
	}
	return nil
}

// syncAgentTotal takes the agent's converted total from the allocator and
// sends the agent its checkpointed resources.
func (m *Master) syncAgentTotal(ag *agent) {
	if total, ok := m.alloc.AgentTotal(ag.id); ok {
		ag.total = total
	}
	if ag.conn != nil {
		ag.conn.send(&protocol.AgentEvent{
			Type: protocol.AgentEvent_CHECKPOINT_RESOURCES.Enum(),
			CheckpointResources: &protocol.AgentEvent_CheckpointResources{
				Resources: checkpointed(ag.total).ToProto(resources.Endpoint),
			},
		})
	}
	m.changed()
}

// checkpointed is what of an agent's total it must checkpoint: dynamic
// reservations and persistent volumes.
func checkpointed(total resources.Resources) resources.Resources {
	return total.Filter(func(p *mesos.Resource) bool {
		if p.GetDisk().GetPersistence() != nil {
			return true
		}
		for _, r := range p.GetReservations() {
			if r.GetType() == mesos.Resource_ReservationInfo_DYNAMIC {
				return true
			}
		}
		return false
	})
}

// agentTotal is a (re-)registering agent's total: its static resources with
// the checkpointed ones it reports applied, each replacing the plain
// resources it was made from. A report that does not fit the static
// resources is logged and left out.
func (m *Master) agentTotal(info *mesos.AgentInfo, reported []*mesos.Resource) resources.Resources {
	total, _ := resources.FromProto(info.GetResources())
	cp, err := resources.FromProto(reported)
	if err != nil {
		m.log.Warn("agent reported invalid checkpointed resources", "agent_id", info.GetId().GetValue(), "error", err)
		return total
	}
	total, unfit := resources.WithCheckpointed(total, cp)
	for _, one := range unfit {
		m.log.Warn("agent's checkpointed resource does not fit its resources", "agent_id", info.GetId().GetValue(), "resource", one.String())
	}
	return total
}

// operationStatus tells a framework what became of an offer operation it
// gave an ID to (no uuid: nothing to acknowledge).
func (m *Master) operationStatus(fw *framework, ag *agent, op *mesos.Offer_Operation, state mesos.OperationState, msg string, converted resources.Resources) {
	if op.Id == nil || fw.conn == nil {
		return
	}
	st := &mesos.OperationStatus{OperationId: op.Id, State: state.Enum(), AgentId: ag.info.GetId()}
	if msg != "" {
		st.Message = proto.String(msg)
	}
	if !converted.IsEmpty() {
		st.ConvertedResources = converted.ToProto(resources.PostRefinement)
	}
	fw.conn.send(&scheduler.Event{
		Type:                  scheduler.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{Status: st},
	})
}
