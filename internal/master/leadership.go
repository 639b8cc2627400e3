package master

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
)

// Leadership: the Raft leader of the registry is the leading master.
//
//	follower ──LeaderCh(true)──► recovering ──barrier, SetMaster, load registry──► leading
//	   ▲                              │                                               │
//	   └────────────── LeaderCh(false): close every stream, drop all state ◄──────────┘
//
// A follower answers leader-only endpoints with 307 to the leader recorded
// in the registry (503 while there is none); a recovering master answers
// 503. Only a leading master's loop acts on calls, and every loop function
// that acts checks it, so that two masters never act at once.

type leadership int32

const (
	follower leadership = iota
	recovering
	leading
)

// becomeLeader starts recovery: wait until every committed registry entry
// is applied here, record this master as the leader, then load the registry.
func (m *Master) becomeLeader() {
	m.epoch++
	epoch := m.epoch
	ctx, cancel := context.WithCancel(context.Background())
	m.leaderCtx, m.cancelLeader = ctx, cancel
	m.status.Store(int32(recovering))
	m.log.Info("elected leader; recovering from the registry")
	m.spawn(func() {
		for ctx.Err() == nil {
			err := m.reg.Barrier(ctx)
			if err == nil {
				err = m.registrar.Apply(ctx, registry.SetMaster(m.info, m.reg.ID()))
			}
			if err == nil {
				state := m.reg.State()
				fetched := m.clock.Now()
				m.post(func() {
					if m.epoch == epoch {
						m.metrics.registryFetch = m.clock.Now().Sub(fetched)
						m.recover(state, m.clock.Now())
					}
				})
				return
			}
			m.log.Warn("registry recovery failed; retrying", "error", err)
			if m.simulated {
				return // the simulator decides when to try again
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
}

// stepDown stops acting at once: every stream closes (clients reconnect
// and find the new leader) and all in-memory state is dropped; the next
// election rebuilds it from the registry and the agents.
func (m *Master) stepDown() {
	if leadership(m.status.Load()) == follower {
		return
	}
	m.log.Warn("lost leadership; stepping down")
	m.epoch++
	if m.cancelLeader != nil {
		m.cancelLeader()
	}
	m.status.Store(int32(follower))
	m.shutdownConnections()
	m.stopTimers()
	m.state = newState(m.cfg)
	m.changed()
}

// recover loads the registry into a fresh state and starts leading.
// Agents are recovering until they re-register; frameworks are
// disconnected until they re-subscribe, with their failover timeouts
// running from when they disconnected (or from now).
func (m *Master) recover(st *registry.State, now time.Time) {
	m.state = newState(m.cfg)
	for _, ra := range st.Agents() {
		m.recoverAgent(ra, now)
	}
	for _, u := range st.UnreachableAgents() {
		m.unreachable[u.GetId().GetValue()] = registry.TimeOf(u.GetTime())
	}
	for _, g := range st.GoneAgents() {
		m.gone[g.GetId().GetValue()] = registry.TimeOf(g.GetTime())
	}
	for _, c := range st.CompletedFrameworks() {
		m.removedFrameworks[c.GetId().GetValue()] = registry.TimeOf(c.GetTime())
	}
	for _, rf := range st.Frameworks() {
		m.recoverFramework(rf, now)
	}
	for role, w := range st.Weights() {
		m.alloc.SetWeight(role, w)
	}
	for _, q := range st.Quotas() {
		m.applyQuota(q)
	}
	m.loadMaintenance(st)
	m.holdAllocationForQuota()
	m.electedTime = now
	m.status.Store(int32(leading))
	m.leaderChanged.broadcast()
	m.firstLead.Do(func() { close(m.leadingOnce) })
	m.reregisterTimer = m.after(m.cfg.AgentReregisterTimeout, func() { m.expireRecoveringAgents(m.clock.Now()) })
	m.log.Info("leading", "agents", len(m.agents), "frameworks", len(m.frameworks))
	m.startApps(m.leaderCtx)
	m.requestAllocation()
	m.changed()
}

func (m *Master) recoverAgent(ra *registry.Agent, now time.Time) {
	info := ra.GetInfo()
	total, err := resources.FromProto(info.GetResources())
	if err != nil {
		m.log.Error("registry holds an agent with invalid resources", "agent_id", info.GetId().GetValue(), "error", err)
	}
	ag := newAgent(info.GetId().GetValue(), now)
	ag.info, ag.capabilities, ag.total = info, ra.GetCapabilities(), total
	ag.deactivated, ag.recovering = ra.GetDeactivated(), true
	ag.drain = ra.GetDrainInfo()
	ag.pid = agentPID(nil, "", info.GetPort())
	m.agents[ag.id] = ag
	m.alloc.AddAgent(ag.id, allocator.Agent{Hostname: info.GetHostname(), Total: total, Active: false}, nil)
}

func (m *Master) recoverFramework(rf *registry.Framework, now time.Time) {
	fw := newFramework(rf.GetInfo(), registry.TimeOf(rf.GetRegisteredTime()))
	fw.recovered = true
	fw.unregisteredTime = now
	if rf.DisconnectedTime != nil {
		fw.unregisteredTime = registry.TimeOf(rf.GetDisconnectedTime())
	}
	m.frameworks[fw.id] = fw
	m.alloc.AddFramework(fw.id, m.allocatorFramework(fw))
	m.startFailoverTimer(fw, now)
}

// expireRecoveringAgents marks unreachable the agents that did not
// re-register within agent_reregister_timeout of the election.
func (m *Master) expireRecoveringAgents(now time.Time) {
	m.allocationHeld = false
	for _, ag := range m.agents {
		if ag.recovering {
			m.log.Warn("agent did not re-register after failover", "agent_id", ag.id)
			m.markAgentUnreachable(ag, now)
		}
	}
}

func (m *Master) stopTimers() {
	for _, fw := range m.frameworks {
		if fw.failoverTimer != nil {
			fw.failoverTimer.Stop()
		}
	}
	for _, ag := range m.agents {
		if ag.unreachableTimer != nil {
			ag.unreachableTimer.Stop()
		}
	}
	if m.reregisterTimer != nil {
		m.reregisterTimer.Stop()
	}
}

// isLeading is read by HTTP handlers; the loop's own checks use it too.
func (m *Master) isLeading() bool { return leadership(m.status.Load()) == leading }

// errNotLeading is what a loop function returns when leadership moved
// between the handler's check and the loop running it.
var errNotLeading = apihttp.Errorf(http.StatusServiceUnavailable, "This master is not the leader")

// leaderOnly wraps a leader-only endpoint: a follower redirects to the
// leader (307, protocol-relative, path and query kept) or answers 503 "No
// leader elected"; a recovering leader answers 503.
func (m *Master) leaderOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch leadership(m.status.Load()) {
		case leading:
			h(w, r)
		case recovering:
			apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "Master has not finished recovery"))
		default:
			leader := m.leaderAddress()
			if leader == "" {
				apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "No leader elected"))
				return
			}
			w.Header().Set("Location", "//"+leader+r.URL.RequestURI())
			w.WriteHeader(http.StatusTemporaryRedirect)
		}
	}
}

// leaderAddress is host:port of the leading master's HTTP API, as it
// recorded itself in the registry ("" while unknown).
func (m *Master) leaderAddress() string {
	if m.isLeading() {
		return net.JoinHostPort(m.info.GetHostname(), strconv.Itoa(int(m.info.GetPort())))
	}
	lm, ok := m.reg.LeadingMaster()
	if !ok {
		return ""
	}
	return masterAddress(lm.GetInfo())
}

func masterAddress(info *mesos.MasterInfo) string {
	host := info.GetHostname()
	if host == "" {
		host = info.GetAddress().GetIp()
	}
	return net.JoinHostPort(host, strconv.Itoa(int(info.GetPort())))
}

// pendingWrite is a registry write waiting for an earlier one on the same
// key (framework or agent) to finish.
type pendingWrite struct {
	ops  []*registry.Operation
	then func(error)
}

// persistFor writes ops to the registry off the loop, then runs then on the
// loop with the outcome, unless leadership changed meanwhile (the new
// leader's registry decides then). Writes for one key (say
// "framework/<id>") are applied in the order they are asked for; writes
// for different keys go concurrently, and the Registrar commits them
// together.
func (m *Master) persistFor(key string, ops []*registry.Operation, then func(error)) {
	w := pendingWrite{ops: ops, then: then}
	if queue, busy := m.writes[key]; busy {
		m.writes[key] = append(queue, w)
		return
	}
	m.writes[key] = nil
	m.startWrite(key, w)
}

func (m *Master) startWrite(key string, w pendingWrite) {
	epoch, ctx := m.epoch, m.leaderCtx
	if ctx == nil {
		ctx = context.Background()
	}
	m.spawn(func() {
		start := m.clock.Now()
		err := m.registrar.Apply(ctx, w.ops...)
		took := m.clock.Now().Sub(start)
		m.post(func() {
			m.metrics.registryStores.add(took)
			if m.epoch != epoch {
				return
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				m.log.Warn("registry write failed", "key", key, "error", err)
			}
			if w.then != nil {
				w.then(err)
			}
			queue := m.writes[key]
			if len(queue) == 0 {
				delete(m.writes, key)
				return
			}
			m.writes[key] = queue[1:]
			m.startWrite(key, queue[0])
		})
	})
}

// Leading is closed the first time this master becomes the leading master.
func (m *Master) Leading() <-chan struct{} { return m.leadingOnce }

// IsLeading reports whether this master is the leading master and has
// finished recovering.
func (m *Master) IsLeading() bool { return m.isLeading() }

// holdAllocationForQuota: with quota configured, a new leader offers
// nothing until most agents are back (80%, or agent_reregister_timeout),
// as Mesos does: offering from a partial view could let a role pass its
// limit once the rest of its tasks are reported.
func (m *Master) holdAllocationForQuota() {
	for _, ag := range m.agents {
		if ag.recovering {
			m.recoveringAgents++
		}
	}
	m.allocationHeld = len(m.quotas) > 0 && m.recoveringAgents > 0
	m.expectedAgents = m.recoveringAgents
}

// agentRecovered counts an agent back after a failover, and lifts the
// allocation hold once 80% are.
func (m *Master) agentRecovered() {
	m.recoveringAgents--
	if m.allocationHeld && float64(m.expectedAgents-m.recoveringAgents) >= 0.8*float64(m.expectedAgents) {
		m.allocationHeld = false
		m.log.Info("enough agents re-registered; allocating again")
		m.requestAllocation()
	}
}
