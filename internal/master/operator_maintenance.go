package master

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	allocatorpb "github.com/agoraproject/agora/api/v1/allocator"
	"github.com/agoraproject/agora/api/v1/maintenance"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
)

// Maintenance (reference §9): the schedule and the machines' modes live in
// the registry (registry.UpdateSchedule, StartMaintenance,
// StopMaintenance); the master mirrors them after each commit and on
// recovery (loadMaintenance).
//
//	scheduled (DRAINING) ──START_MAINTENANCE──► DOWN ──STOP_MAINTENANCE──► up, unscheduled
//
// While a machine is DRAINING, offers of its agents carry its
// unavailability, and every framework running tasks or executors on them
// gets an inverse offer after each allocation run, until it answers
// (ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS: the answer is the
// machine's status for that framework, and no new inverse offer goes out
// for the filter's refuse_seconds). A DOWN machine's agents are shut down
// and removed (tasks TASK_GONE_BY_OPERATOR), and its agents may not
// register until it is up again.
//
// An agent is on a machine when the MachineID's hostname (if set) is the
// agent's hostname and its IP (if set) is the agent's IP.

type maintenanceState struct {
	schedule      *maintenance.Schedule
	machines      []*machine // scheduled machines, in schedule order
	inverseOffers map[string]*inverseOffer
	nextID        int
}

// machine is a scheduled machine.
type machine struct {
	id             *mesos.MachineID
	down           bool
	unavailability *mesos.Unavailability
	// statuses are the frameworks' answers to inverse offers.
	statuses map[string]*allocatorpb.InverseOfferStatus
	// refused holds, by framework ID, when the framework may next be sent
	// an inverse offer for this machine.
	refused map[string]time.Time
}

type inverseOffer struct {
	id, frameworkID, agentID string
	machine                  *machine
	proto                    *mesos.InverseOffer
}

func machineKey(id *mesos.MachineID) string { return id.GetHostname() + "/" + id.GetIp() }

// loadMaintenance mirrors the registry's schedule and machines, keeping
// the answers of machines still scheduled.
func (m *Master) loadMaintenance(st *registry.State) {
	mt := &m.ops.maintenance
	old := map[string]*machine{}
	for _, mc := range mt.machines {
		old[machineKey(mc.id)] = mc
	}
	mt.schedule = st.Schedule()
	mt.machines = nil
	for _, rm := range st.Machines() {
		mc := &machine{id: rm.GetId(), down: rm.GetMode() == registry.Machine_DOWN, unavailability: rm.GetUnavailability(),
			statuses: map[string]*allocatorpb.InverseOfferStatus{}, refused: map[string]time.Time{}}
		if prev := old[machineKey(mc.id)]; prev != nil {
			mc.statuses, mc.refused = prev.statuses, prev.refused
		}
		mt.machines = append(mt.machines, mc)
	}
	m.changed()
}

func onMachine(id *mesos.MachineID, hostname, ip string) bool {
	return (id.GetHostname() == "" || strings.EqualFold(id.GetHostname(), hostname)) && (id.GetIp() == "" || id.GetIp() == ip)
}

func (m *Master) machineOf(hostname, ip string) *machine {
	for _, mc := range m.ops.maintenance.machines {
		if onMachine(mc.id, hostname, ip) {
			return mc
		}
	}
	return nil
}

func (m *Master) agentMachine(ag *agent) *machine {
	if len(m.ops.maintenance.machines) == 0 || ag.info == nil {
		return nil
	}
	ip, _ := pidAddress(ag.pid)
	return m.machineOf(ag.info.GetHostname(), ip)
}

// unavailabilityOf is the unavailability offers of the agent carry: its
// machine's, while the machine is draining.
func (m *Master) unavailabilityOf(ag *agent) *mesos.Unavailability {
	if mc := m.agentMachine(ag); mc != nil && !mc.down {
		return mc.unavailability
	}
	return nil
}

func (m *Master) opGetMaintenanceSchedule(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.onLoop(ctx, func() (operatorResult, error) {
		sched := m.ops.maintenance.schedule
		if sched == nil {
			sched = &maintenance.Schedule{}
		}
		resp := response(masterpb.Response_GET_MAINTENANCE_SCHEDULE)
		resp.GetMaintenanceSchedule = &masterpb.Response_GetMaintenanceSchedule{Schedule: sched}
		return operatorResult{resp: resp}, nil
	})
}

func (m *Master) opGetMaintenanceStatus(ctx context.Context, _ *masterpb.Call) (operatorResult, error) {
	return m.onLoop(ctx, func() (operatorResult, error) {
		status := &maintenance.ClusterStatus{}
		for _, mc := range m.ops.maintenance.machines {
			if mc.down {
				status.DownMachines = append(status.DownMachines, mc.id)
				continue
			}
			dm := &maintenance.ClusterStatus_DrainingMachine{Id: mc.id}
			for _, fid := range sortedKeys(mc.statuses) {
				dm.Statuses = append(dm.Statuses, mc.statuses[fid])
			}
			status.DrainingMachines = append(status.DrainingMachines, dm)
		}
		resp := response(masterpb.Response_GET_MAINTENANCE_STATUS)
		resp.GetMaintenanceStatus = &masterpb.Response_GetMaintenanceStatus{Status: status}
		return operatorResult{resp: resp}, nil
	})
}

func (m *Master) opUpdateMaintenanceSchedule(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	u := call.GetUpdateMaintenanceSchedule()
	if u == nil {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'update_maintenance_schedule' to be present")
	}
	sched := proto.Clone(u.GetSchedule()).(*maintenance.Schedule)
	return m.onLoop(ctx, func() (operatorResult, error) {
		return m.maintenanceWrite([]*registry.Operation{registry.UpdateSchedule(sched)}, nil), nil
	})
}

func (m *Master) opStartMaintenance(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	s := call.GetStartMaintenance()
	if s == nil || len(s.GetMachines()) == 0 {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'start_maintenance.machines' to be present")
	}
	return m.onLoop(ctx, func() (operatorResult, error) {
		ops := []*registry.Operation{registry.StartMaintenance(s.GetMachines()...)}
		var downed []*agent
		for _, ag := range m.agentsOn(s.GetMachines()) {
			if !ag.unreachable() {
				ops = append(ops, registry.RemoveAgent(ag.id))
				downed = append(downed, ag)
			}
		}
		return m.maintenanceWrite(ops, func() {
			for _, ag := range downed {
				if m.agents[ag.id] == ag {
					m.removeAgentByOperator(ag, "Agent's machine is down for maintenance", m.clock.Now())
				}
			}
		}), nil
	})
}

func (m *Master) opStopMaintenance(ctx context.Context, call *masterpb.Call) (operatorResult, error) {
	s := call.GetStopMaintenance()
	if s == nil || len(s.GetMachines()) == 0 {
		return operatorResult{}, apihttp.Errorf(http.StatusBadRequest, "Expecting 'stop_maintenance.machines' to be present")
	}
	return m.onLoop(ctx, func() (operatorResult, error) {
		return m.maintenanceWrite([]*registry.Operation{registry.StopMaintenance(s.GetMachines()...)}, nil), nil
	})
}

// agentsOn lists the known agents on any of the machines.
func (m *Master) agentsOn(ids []*mesos.MachineID) []*agent {
	var out []*agent
	for _, id := range sortedKeys(m.agents) {
		ag := m.agents[id]
		ip, _ := pidAddress(ag.pid)
		for _, mid := range ids {
			if onMachine(mid, ag.info.GetHostname(), ip) {
				out = append(out, ag)
				break
			}
		}
	}
	return out
}

// maintenanceWrite commits ops, mirrors the result, withdraws the offers
// and inverse offers the change makes stale, then runs then.
func (m *Master) maintenanceWrite(ops []*registry.Operation, then func()) operatorResult {
	done := make(chan error, 1)
	m.persistFor("maintenance", ops, func(err error) {
		if err != nil {
			done <- maintenanceFailure(err)
			return
		}
		before := m.unavailabilities()
		m.loadMaintenance(m.reg.State())
		for id, old := range before {
			if ag := m.agents[id]; ag != nil && !proto.Equal(old, m.unavailabilityOf(ag)) {
				for _, o := range sortedOffers(ag.offers) {
					m.rescindOffer(o)
				}
			}
		}
		m.rescindInverseOffers(func(*inverseOffer) bool { return true })
		if then != nil {
			then()
		}
		m.requestAllocation()
		done <- nil
	})
	return operatorResult{wait: done}
}

func (m *Master) unavailabilities() map[string]*mesos.Unavailability {
	out := make(map[string]*mesos.Unavailability, len(m.agents))
	for id, ag := range m.agents {
		out[id] = m.unavailabilityOf(ag)
	}
	return out
}

// maintenanceFailure maps a refused registry write to 400 (the schedule or
// machines do not fit) and anything else to 503.
func maintenanceFailure(err error) error {
	if errors.Is(err, registry.ErrInvalid) || errors.Is(err, registry.ErrConflict) || errors.Is(err, registry.ErrNotFound) {
		return apihttp.Errorf(http.StatusBadRequest, "%v", err)
	}
	return writeFailure(err)
}

// refuseDownMachine shuts down an agent that subscribes from a machine
// that is down for maintenance. It reports whether it did.
func (m *Master) refuseDownMachine(info *mesos.AgentInfo, ip string, conn agentConn) bool {
	mc := m.machineOf(info.GetHostname(), ip)
	if mc == nil || !mc.down {
		return false
	}
	conn.send(&protocol.AgentEvent{Type: protocol.AgentEvent_SHUTDOWN.Enum(),
		Shutdown: &protocol.AgentEvent_Shutdown{Message: proto.String("Agent's machine is down for maintenance")}})
	conn.close("machine is down")
	return true
}

// sendInverseOffers runs after each allocation: frameworks with tasks or
// executors on a draining machine's agents get an inverse offer for each
// such agent, unless one is outstanding or they answered recently.
func (m *Master) sendInverseOffers(now time.Time) {
	mt := &m.ops.maintenance
	if len(mt.machines) == 0 && len(mt.inverseOffers) == 0 {
		return
	}
	m.dropStaleInverseOffers()
	byFramework := map[string][]*mesos.InverseOffer{}
	for _, id := range sortedKeys(m.agents) {
		ag := m.agents[id]
		mc := m.agentMachine(ag)
		if mc == nil || mc.down || !ag.connected {
			continue
		}
		for _, fid := range frameworksOn(ag) {
			fw := m.frameworks[fid]
			if fw == nil || fw.conn == nil || m.hasInverseOffer(fid, ag.id) || now.Before(mc.refused[fid]) {
				continue
			}
			io := m.newInverseOffer(fw, ag, mc)
			byFramework[fid] = append(byFramework[fid], io.proto)
		}
	}
	for _, fid := range sortedKeys(byFramework) {
		m.frameworks[fid].conn.send(&scheduler.Event{
			Type:          scheduler.Event_INVERSE_OFFERS.Enum(),
			InverseOffers: &scheduler.Event_InverseOffers{InverseOffers: byFramework[fid]},
		})
	}
}

// frameworksOn lists the frameworks with tasks or executors on the agent.
func frameworksOn(ag *agent) []string {
	set := map[string]bool{}
	for fid, ts := range ag.tasks {
		set[fid] = len(ts) > 0
	}
	for fid, es := range ag.executors {
		set[fid] = set[fid] || len(es) > 0
	}
	var out []string
	for fid, ok := range set {
		if ok {
			out = append(out, fid)
		}
	}
	sort.Strings(out)
	return out
}

func (m *Master) newInverseOffer(fw *framework, ag *agent, mc *machine) *inverseOffer {
	mt := &m.ops.maintenance
	if mt.inverseOffers == nil {
		mt.inverseOffers = map[string]*inverseOffer{}
	}
	id := fmt.Sprintf("%s-IO%d", m.id, mt.nextID)
	mt.nextID++
	io := &inverseOffer{id: id, frameworkID: fw.id, agentID: ag.id, machine: mc, proto: &mesos.InverseOffer{
		Id:             &mesos.OfferID{Value: proto.String(id)},
		Url:            agentURL(ag),
		FrameworkId:    &mesos.FrameworkID{Value: proto.String(fw.id)},
		AgentId:        ag.info.GetId(),
		Unavailability: mc.unavailability,
	}}
	mt.inverseOffers[id] = io
	m.changed()
	return io
}

func (m *Master) hasInverseOffer(frameworkID, agentID string) bool {
	for _, io := range m.ops.maintenance.inverseOffers {
		if io.frameworkID == frameworkID && io.agentID == agentID {
			return true
		}
	}
	return false
}

// dropStaleInverseOffers forgets inverse offers whose framework went away
// or whose agent left the draining machines.
func (m *Master) dropStaleInverseOffers() {
	m.rescindInverseOffers(func(io *inverseOffer) bool {
		fw, ag := m.frameworks[io.frameworkID], m.agents[io.agentID]
		return fw == nil || fw.conn == nil || ag == nil || m.agentMachine(ag) != io.machine || io.machine.down
	})
}

// rescindInverseOffers withdraws the inverse offers drop selects.
func (m *Master) rescindInverseOffers(drop func(*inverseOffer) bool) {
	for _, id := range sortedKeys(m.ops.maintenance.inverseOffers) {
		io := m.ops.maintenance.inverseOffers[id]
		if !drop(io) {
			continue
		}
		delete(m.ops.maintenance.inverseOffers, id)
		if fw := m.frameworks[io.frameworkID]; fw != nil && fw.conn != nil {
			fw.conn.send(&scheduler.Event{
				Type:                scheduler.Event_RESCIND_INVERSE_OFFER.Enum(),
				RescindInverseOffer: &scheduler.Event_RescindInverseOffer{InverseOfferId: io.proto.GetId()},
			})
		}
		m.changed()
	}
}

// answerInverseOffers records a framework's ACCEPT_INVERSE_OFFERS or
// DECLINE_INVERSE_OFFERS; unknown IDs are ignored.
func (m *Master) answerInverseOffers(fw *framework, ids []*mesos.OfferID, filters *mesos.Filters, accept bool, now time.Time) {
	status := allocatorpb.InverseOfferStatus_DECLINE
	if accept {
		status = allocatorpb.InverseOfferStatus_ACCEPT
	}
	for _, id := range ids {
		io := m.ops.maintenance.inverseOffers[id.GetValue()]
		if io == nil || io.frameworkID != fw.id {
			continue
		}
		delete(m.ops.maintenance.inverseOffers, id.GetValue())
		io.machine.statuses[fw.id] = &allocatorpb.InverseOfferStatus{
			Status:      status.Enum(),
			FrameworkId: &mesos.FrameworkID{Value: proto.String(fw.id)},
			Timestamp:   &mesos.TimeInfo{Nanoseconds: proto.Int64(now.UnixNano())},
		}
		io.machine.refused[fw.id] = now.Add(m.refuseDuration(filters))
		m.changed()
	}
}

// inverseOffersOf lists a framework's outstanding inverse offers.
func (m *Master) inverseOffersOf(frameworkID string) []*mesos.InverseOffer {
	var out []*mesos.InverseOffer
	for _, id := range sortedKeys(m.ops.maintenance.inverseOffers) {
		if io := m.ops.maintenance.inverseOffers[id]; io.frameworkID == frameworkID {
			out = append(out, io.proto)
		}
	}
	return out
}
