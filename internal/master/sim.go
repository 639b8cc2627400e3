package master

import (
	"fmt"

	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/protocol"
)

// The simulator's entry points (internal/sim). A simulated master has no
// listener and no loop goroutine: the simulator calls these from its one
// goroutine, feeding it calls as the HTTP handlers would, and Step runs
// whatever those, the fake clock's timers and registry writes queued. The
// same calls in the same order give the same master state.

// NewSimulated builds a master for the simulator. cfg.Registry (usually a
// registry.MemoryNode), cfg.Clock (a fake) and cfg.ID should be set; addr
// is the address it pretends to serve on.
func NewSimulated(cfg Config, addr string) (*Master, error) {
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = addr
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Apps = nil // the apps framework needs real goroutines and HTTP
	m := newMaster(cfg.withDefaults(), addr)
	m.simulated = true
	m.registrar = m.reg
	return m, nil
}

// Step runs queued work until none is left, then ends the batch as the
// loop does: a pending allocation, then every connection with new events
// is flushed.
func (m *Master) Step() {
	for len(m.queue) > 0 {
		fn := m.queue[0]
		m.queue = m.queue[1:]
		fn()
	}
	if m.allocationPending && m.isLeading() && !m.allocationHeld {
		m.allocate(m.clock.Now())
	}
	m.toFlush.flushAll()
}

// Tick is the allocation-interval tick: offers time out, silent agents are
// disconnected, and an allocation runs.
func (m *Master) Tick() {
	if !m.isLeading() {
		return
	}
	now := m.clock.Now()
	m.requestAllocation()
	m.expireOffers(now)
	m.checkAgentPings(now)
	m.Step()
}

// Elected is what the registry's LeaderCh delivers.
func (m *Master) Elected(elected bool) {
	if elected {
		m.becomeLeader()
	} else {
		m.stepDown()
	}
	m.Step()
}

// SimFrameworkConn is an in-memory framework event stream.
type SimFrameworkConn struct {
	events []*scheduler.Event
	gone   bool
	reason string
}

func (c *SimFrameworkConn) send(ev *scheduler.Event) {
	if !c.gone {
		c.events = append(c.events, ev)
	}
}
func (c *SimFrameworkConn) close(reason string) {
	if !c.gone {
		c.gone, c.reason = true, reason
	}
}
func (c *SimFrameworkConn) closed() bool { return c.gone }

// Take returns and forgets the events sent so far, and whether the master
// has closed the stream (with why).
func (c *SimFrameworkConn) Take() (events []*scheduler.Event, closed bool, reason string) {
	events, c.events = c.events, nil
	return events, c.gone, c.reason
}

// SimAgentConn is an in-memory agent event stream.
type SimAgentConn struct {
	events []*protocol.AgentEvent
	gone   bool
	reason string
}

func (c *SimAgentConn) send(ev *protocol.AgentEvent) {
	if !c.gone {
		c.events = append(c.events, ev)
	}
}
func (c *SimAgentConn) close(reason string) {
	if !c.gone {
		c.gone, c.reason = true, reason
	}
}
func (c *SimAgentConn) closed() bool { return c.gone }

// Take returns and forgets the events sent so far, and whether the master
// has closed the stream.
func (c *SimAgentConn) Take() (events []*protocol.AgentEvent, closed bool, reason string) {
	events, c.events = c.events, nil
	return events, c.gone, c.reason
}

// Subscribe is a framework's SUBSCRIBE, as the HTTP handler runs it (the
// request ladder's checks are the handler's; the simulator sends valid
// calls). A returned error is what the handler would answer.
func (m *Master) Subscribe(call *scheduler.Call, conn *SimFrameworkConn, streamID string) error {
	if err := validateSchedulerCall(call); err != nil {
		return err
	}
	err := m.subscribe(call, conn, streamID, m.clock.Now())
	m.Step()
	return err
}

// Call is a framework's non-SUBSCRIBE call. UPDATE_FRAMEWORK's outcome
// arrives on the returned channel after a later Step.
func (m *Master) Call(call *scheduler.Call, streamID string) (<-chan error, error) {
	if err := validateSchedulerCall(call); err != nil {
		return nil, err
	}
	committed, err := m.schedulerCall(call, streamID, m.clock.Now())
	m.Step()
	return committed, err
}

// FrameworkGone is a framework's stream ending from its side.
func (m *Master) FrameworkGone(conn *SimFrameworkConn) {
	conn.close("framework went away")
	m.frameworkConnGone(conn, m.clock.Now())
	m.Step()
}

// AgentSubscribe is an agent's SUBSCRIBE from ip.
func (m *Master) AgentSubscribe(call *protocol.AgentCall, ip string, conn *SimAgentConn, streamID string) error {
	if call.GetType() != protocol.AgentCall_SUBSCRIBE || call.Subscribe == nil {
		return fmt.Errorf("not a SUBSCRIBE: %v", call.GetType())
	}
	err := m.agentSubscribe(call.GetSubscribe(), ip, conn, streamID, m.clock.Now())
	m.Step()
	return err
}

// AgentCall is an agent's non-SUBSCRIBE call.
func (m *Master) AgentCall(call *protocol.AgentCall, streamID string) error {
	err := m.agentCall(call, streamID, m.clock.Now())
	m.Step()
	return err
}

// AgentGone is an agent's stream ending from its side.
func (m *Master) AgentGone(conn *SimAgentConn) {
	conn.close("agent went away")
	m.agentConnGone(conn, m.clock.Now())
	m.Step()
}

// View is the master's state now, for the simulator's invariants.
func (m *Master) View() *Snapshot {
	return m.buildSnapshot(m.clock.Now()).finish()
}

// UpdateQuota is the operator API's UPDATE_QUOTA as its handler runs it on
// the loop. The returned channel holds the outcome once the registry write
// has committed (within this Step, with a registry.Memory).
func (m *Master) UpdateQuota(force bool, configs ...*quota.QuotaConfig) (<-chan error, error) {
	if !m.isLeading() {
		return nil, errNotLeading
	}
	done, err := m.updateQuota(&registryQuotaUpdate{force: force, configs: configs})
	m.Step()
	return done, err
}

// AcceptKeepingOffers is Call with a deliberately planted bug, for the
// simulator's test that its invariants catch one: the offers an ACCEPT
// names stay outstanding after it is applied, as if the master forgot to
// remove them. Nothing but that test may use it.
func (m *Master) AcceptKeepingOffers(call *scheduler.Call, streamID string) (<-chan error, error) {
	var kept []*offer
	if fw := m.frameworks[call.GetFrameworkId().GetValue()]; fw != nil {
		for _, id := range call.GetAccept().GetOfferIds() {
			if o := fw.offers[id.GetValue()]; o != nil {
				kept = append(kept, o)
			}
		}
	}
	committed, err := m.Call(call, streamID)
	for _, o := range kept {
		fw, ag := m.frameworks[o.frameworkID], m.agents[o.agentID]
		if m.offers[o.id] != nil || fw == nil || ag == nil {
			continue
		}
		m.offers[o.id], fw.offers[o.id], ag.offers[o.id] = o, o, o
		ag.offered = ag.offered.Add(o.resources)
		m.changed()
	}
	return committed, err
}
