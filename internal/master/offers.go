package master

import (
	"fmt"
	"sort"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/resources"
)

// Offer lifecycle:
//
//	allocator ──► outstanding ──ACCEPT──► used (tasks) + rest recovered with the filter
//	                  │ ──DECLINE──► recovered with the filter
//	                  └─(agent lost, framework gone, role removed, offer timeout)──► RESCIND
//
// While outstanding, an offer's resources count as allocated to its
// framework; an offer ID is good for one ACCEPT or DECLINE.

// offer is an outstanding offer.
type offer struct {
	id          string
	frameworkID string
	agentID     string
	role        string
	resources   resources.Resources // with allocation_info set to role
	created     time.Time
	proto       *mesos.Offer
}

// requestAllocation asks for an allocation run after the current batch.
func (m *Master) requestAllocation() {
	if !m.allocationPending {
		m.allocationPending = true
		m.allocationRequested = m.clock.Now()
	}
}

// allocate runs the allocator and sends its offers, one OFFERS event per
// framework.
func (m *Master) allocate(now time.Time) {
	m.allocationPending = false
	start := time.Now()
	decisions := m.alloc.Allocate(now)
	m.metrics.allocationRun(time.Since(start), now.Sub(m.allocationRequested))
	byFramework := map[string][]*mesos.Offer{}
	for _, d := range decisions {
		fw, ag := m.frameworks[d.FrameworkID], m.agents[d.AgentID]
		if fw == nil || fw.conn == nil || ag == nil || !ag.active() {
			// The allocator's view lagged the master's: give it back.
			m.alloc.Recover(d.FrameworkID, d.AgentID, d.Resources, 0, now)
			continue
		}
		o := m.newOffer(fw, ag, d.Role, d.Resources, now)
		byFramework[fw.id] = append(byFramework[fw.id], o.proto)
	}
	ids := make([]string, 0, len(byFramework))
	for id := range byFramework {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m.frameworks[id].conn.send(&scheduler.Event{
			Type:   scheduler.Event_OFFERS.Enum(),
			Offers: &scheduler.Event_Offers{Offers: byFramework[id]},
		})
		m.metrics.offersSent(len(byFramework[id]))
	}
	if len(decisions) > 0 {
		m.changed()
	}
	m.sendInverseOffers(now)
}

func (m *Master) newOffer(fw *framework, ag *agent, role string, res resources.Resources, now time.Time) *offer {
	o := &offer{
		id:          fmt.Sprintf("%s-O%d", m.id, m.nextOfferID),
		frameworkID: fw.id,
		agentID:     ag.id,
		role:        role,
		resources:   res,
		created:     now,
	}
	m.nextOfferID++
	o.proto = m.offerProto(fw, ag, o)
	m.offers[o.id] = o
	fw.offers[o.id] = o
	ag.offers[o.id] = o
	ag.offered = ag.offered.Add(res)
	return o
}

// offerProto shapes an offer for its framework: allocation_info only for
// MULTI_ROLE frameworks, the pre-refinement resource format for frameworks
// without RESERVATION_REFINEMENT.
func (m *Master) offerProto(fw *framework, ag *agent, o *offer) *mesos.Offer {
	res := o.resources
	if !fw.caps.multiRole {
		res = res.Unallocated()
	}
	format := resources.PreRefinement
	if fw.caps.reservationRefinement {
		format = resources.PostRefinement
	}
	p := &mesos.Offer{
		Id:          &mesos.OfferID{Value: ptr(o.id)},
		FrameworkId: &mesos.FrameworkID{Value: ptr(fw.id)},
		AgentId:     ag.info.GetId(),
		Hostname:    ag.info.Hostname,
		Url:         agentURL(ag),
		Domain:      ag.info.GetDomain(),
		Resources:   res.ToProto(format),
		Attributes:  ag.info.GetAttributes(),
	}
	if fw.caps.multiRole {
		p.AllocationInfo = &mesos.Resource_AllocationInfo{Role: ptr(o.role)}
	}
	p.Unavailability = m.unavailabilityOf(ag)
	for eid := range ag.executors[fw.id] {
		p.ExecutorIds = append(p.ExecutorIds, &mesos.ExecutorID{Value: ptr(eid)})
	}
	sort.Slice(p.ExecutorIds, func(i, j int) bool { return p.ExecutorIds[i].GetValue() < p.ExecutorIds[j].GetValue() })
	return p
}

// agentURL is the agent's address as offers carry it.
func agentURL(ag *agent) *mesos.URL {
	ip, port := pidAddress(ag.pid)
	return &mesos.URL{
		Scheme: ptr("http"),
		Address: &mesos.Address{
			Hostname: ag.info.Hostname,
			Ip:       &ip,
			Port:     ptr(int32(port)),
		},
		Path: ptr("/slave(1)"),
	}
}

// removeOffer takes an offer out of circulation without telling anyone.
// Its resources are not recovered: the caller decides what happens to them.
func (m *Master) removeOffer(o *offer) {
	delete(m.offers, o.id)
	if fw := m.frameworks[o.frameworkID]; fw != nil {
		delete(fw.offers, o.id)
	}
	if ag := m.agents[o.agentID]; ag != nil {
		delete(ag.offers, o.id)
		ag.offered = ag.offered.Subtract(o.resources)
	}
	m.changed()
}

// rescindOffer withdraws an offer: its resources go back to the allocator
// and the framework, if connected, gets RESCIND.
func (m *Master) rescindOffer(o *offer) {
	m.removeOffer(o)
	m.alloc.Recover(o.frameworkID, o.agentID, o.resources, 0, time.Time{})
	if fw := m.frameworks[o.frameworkID]; fw != nil && fw.conn != nil {
		fw.conn.send(&scheduler.Event{
			Type:    scheduler.Event_RESCIND.Enum(),
			Rescind: &scheduler.Event_Rescind{OfferId: &mesos.OfferID{Value: ptr(o.id)}},
		})
	}
	m.requestAllocation()
}

func (m *Master) rescindFrameworkOffers(fw *framework) {
	for _, o := range fw.offers {
		m.rescindOffer(o)
	}
}

// expireOffers rescinds offers older than the offer timeout, if one is set.
func (m *Master) expireOffers(now time.Time) {
	if m.cfg.OfferTimeout <= 0 {
		return
	}
	for _, o := range m.offers {
		if now.Sub(o.created) >= m.cfg.OfferTimeout {
			m.rescindOffer(o)
		}
	}
}

// refuseDuration turns Filters.refuse_seconds into a filter duration:
// default 5 s, negative means the default, capped at 365 days, and never
// shorter than the allocation interval (0 stays 0: no filter).
func (m *Master) refuseDuration(f *mesos.Filters) time.Duration {
	secs := 5.0
	if f != nil && f.RefuseSeconds != nil {
		secs = f.GetRefuseSeconds()
	}
	if secs < 0 || secs != secs {
		secs = 5
	}
	const maxSecs = 365 * 24 * 3600
	if secs > maxSecs {
		secs = maxSecs
	}
	if secs == 0 {
		return 0
	}
	d := time.Duration(secs * float64(time.Second))
	if d < m.cfg.AllocationInterval {
		d = m.cfg.AllocationInterval
	}
	return d
}

// decline returns offers' resources with a refusal filter.
func (m *Master) decline(fw *framework, d *scheduler.Call_Decline, now time.Time) {
	m.metrics.declineOffers()
	refuse := m.refuseDuration(d.GetFilters())
	for _, id := range d.GetOfferIds() {
		o := fw.offers[id.GetValue()]
		if o == nil {
			continue
		}
		m.removeOffer(o)
		m.alloc.Recover(fw.id, o.agentID, o.resources, refuse, now)
	}
	m.requestAllocation()
}

// revive clears filters and suppression for roles (all when empty).
func (m *Master) revive(fw *framework, roles []string) {
	m.metrics.reviveOffers()
	all := len(roles) == 0
	var kept []string
	for _, r := range fw.suppressed {
		if !all && !contains(roles, r) {
			kept = append(kept, r)
		}
	}
	fw.suppressed = kept
	m.alloc.Revive(fw.id, roles)
	m.requestAllocation()
	m.changed()
}

// suppress stops offers for roles (all when empty).
func (m *Master) suppress(fw *framework, roles []string) {
	m.metrics.suppressOffers()
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		if !contains(fw.suppressed, r) {
			fw.suppressed = append(fw.suppressed, r)
		}
	}
	m.alloc.Suppress(fw.id, roles)
	m.changed()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
