package master

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
)

// Agent lifecycle as the master sees it:
//
//	SUBSCRIBE ──► connected ──stream breaks / no PONG──► disconnected ──ping timeout × max──► unreachable
//	                 ▲                                        │                                   │
//	                 └────────── re-SUBSCRIBE (same id) ◄─────┴───────────────────────────────────┘
//
// A disconnected agent gets no offers; its tasks keep their state. An
// unreachable agent's tasks become TASK_UNREACHABLE (TASK_LOST for
// frameworks that are not partition-aware) until it comes back.

// agent is the master's record of one agent.
type agent struct {
	id           string
	info         *mesos.AgentInfo
	capabilities []*mesos.AgentInfo_Capability
	version      string
	pid          string // slave(1)@ip:port
	bootID       string

	conn      agentConn
	streamID  string
	connected bool
	// deactivated by an operator (no offers while set).
	deactivated bool
	// drain is set while the agent drains (DRAIN_AGENT) and once drained.
	drain *mesos.DrainInfo
	// recovering: known from before a failover, not re-registered yet.
	recovering bool
	// unreachableAt is when the agent was marked unreachable (zero if not).
	unreachableAt time.Time

	registeredTime   time.Time
	reregisteredTime time.Time
	lastSeen         time.Time
	unreachableTimer Timer

	total   resources.Resources
	used    resources.Resources // tasks and executors, all frameworks
	offered resources.Resources

	// tasks and executors by framework ID, then task/executor ID.
	tasks     map[string]map[string]*task
	executors map[string]map[string]*mesos.ExecutorInfo
	offers    map[string]*offer
}

func (ag *agent) active() bool { return ag.connected && !ag.deactivated }

func (ag *agent) unreachable() bool { return !ag.unreachableAt.IsZero() }

func (ag *agent) addTask(t *task) {
	if ag.tasks[t.frameworkID] == nil {
		ag.tasks[t.frameworkID] = map[string]*task{}
	}
	ag.tasks[t.frameworkID][t.id] = t
}

func (ag *agent) addExecutor(frameworkID string, e *mesos.ExecutorInfo) {
	if ag.executors[frameworkID] == nil {
		ag.executors[frameworkID] = map[string]*mesos.ExecutorInfo{}
	}
	ag.executors[frameworkID][e.GetExecutorId().GetValue()] = e
}

// agentSubscribe handles an agent's SUBSCRIBE: registration of a new
// agent or re-registration of a known one. What the registry must learn
// (admission, a changed AgentInfo, an unreachable agent coming back) is
// written first; SUBSCRIBED is queued on conn once it commits.
func (m *Master) agentSubscribe(sub *protocol.AgentCall_Subscribe, remoteIP string, conn agentConn, streamID string, now time.Time) error {
	if !m.isLeading() {
		return errNotLeading
	}
	info := proto.Clone(sub.GetAgentInfo()).(*mesos.AgentInfo)
	if _, err := resources.FromProto(info.GetResources()); err != nil {
		return apihttp.Errorf(http.StatusBadRequest, "Invalid agent resources: %v", err)
	}
	if info.Id == nil {
		info.Id = &mesos.AgentID{Value: ptr(m.newAgentID())}
	} else if err := validateID("AgentID", info.GetId().GetValue()); err != nil {
		return apihttp.Errorf(http.StatusBadRequest, "%v", err)
	}
	id := info.GetId().GetValue()
	if _, gone := m.gone[id]; gone {
		conn.send(&protocol.AgentEvent{Type: protocol.AgentEvent_SHUTDOWN.Enum(),
			Shutdown: &protocol.AgentEvent_Shutdown{Message: ptr("Agent " + id + " has been marked gone")}})
		conn.close("agent is gone")
		return nil
	}
	if m.refuseDownMachine(info, agentIP(sub.GetAddress(), remoteIP), conn) {
		return nil
	}
	op := m.agentRegistration(id, info, sub.GetCapabilities())
	if op == nil {
		m.attachAgent(sub, info, remoteIP, conn, streamID, now)
		return nil
	}
	ops := []*registry.Operation{op}
	// A new agent at the address of a known one replaces it: the old one
	// restarted without its ID (or never heard its SUBSCRIBED).
	replaced := m.agentReplacedBy(sub)
	if replaced != nil {
		ops = append([]*registry.Operation{registry.RemoveAgent(replaced.id)}, ops...)
	}
	m.persistFor("agent/"+id, ops, func(err error) {
		if err == nil && replaced != nil && m.agents[replaced.id] == replaced {
			// Its old stream, if the master still holds one, is just
			// closed: SHUTDOWN could reach the very process re-registering.
			m.detachAgent(replaced)
			m.removeAgent(replaced, "Agent "+replaced.id+" was replaced by a new agent at the same address",
				mesos.TaskState_TASK_GONE, mesos.TaskStatus_REASON_AGENT_REMOVED, m.clock.Now())
		}
		if conn.closed() {
			return
		}
		if err != nil {
			conn.send(&protocol.AgentEvent{Type: protocol.AgentEvent_ERROR.Enum(),
				Error: &protocol.AgentEvent_Error{Message: ptr("Failed to persist the agent: " + err.Error())}})
			conn.close("registry write failed")
			return
		}
		m.attachAgent(sub, info, remoteIP, conn, streamID, m.clock.Now())
	})
	return nil
}

// agentReplacedBy is the known agent a registering agent without an ID
// replaces: one at the same advertised address that is not connected, or
// whose connection this new one supersedes. Agents that advertise no
// address (simulated ones) never replace anyone.
func (m *Master) agentReplacedBy(sub *protocol.AgentCall_Subscribe) *agent {
	if sub.GetAgentInfo().Id != nil || sub.GetAddress().GetIp() == "" {
		return nil
	}
	pid := agentPID(sub.GetAddress(), "", sub.GetAgentInfo().GetPort())
	for _, id := range sortedKeys(m.agents) {
		if ag := m.agents[id]; ag.pid == pid {
			return ag
		}
	}
	return nil
}

// agentRegistration is the registry write an agent's (re-)registration
// needs, or nil when the registry already has it as it is.
func (m *Master) agentRegistration(id string, info *mesos.AgentInfo, caps []*mesos.AgentInfo_Capability) *registry.Operation {
	record := &registry.Agent{Info: info, Capabilities: caps}
	ag := m.agents[id]
	_, unreachable := m.unreachable[id]
	switch {
	case ag != nil && ag.unreachable(), ag == nil && unreachable:
		return registry.MarkAgentReachable(record)
	case ag == nil:
		return registry.AdmitAgent(record)
	case !proto.Equal(ag.info, info) || !sameCapabilities(ag.capabilities, caps):
		return registry.UpdateAgent(info, caps)
	}
	return nil
}

func sameCapabilities(a, b []*mesos.AgentInfo_Capability) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func newAgent(id string, now time.Time) *agent {
	return &agent{
		id:             id,
		registeredTime: now,
		tasks:          map[string]map[string]*task{},
		executors:      map[string]map[string]*mesos.ExecutorInfo{},
		offers:         map[string]*offer{},
	}
}

// attachAgent makes a registered agent live on conn: its reported tasks
// are reconciled, the allocator learns its resources, and SUBSCRIBED goes
// out.
func (m *Master) attachAgent(sub *protocol.AgentCall_Subscribe, info *mesos.AgentInfo, remoteIP string, conn agentConn, streamID string, now time.Time) {
	id := info.GetId().GetValue()
	total := m.agentTotal(info, sub.GetCheckpointedResources())
	ag, known := m.agents[id]
	announce := !known || ag.recovering || ag.unreachable()
	if known {
		m.detachAgent(ag)
	} else {
		ag = newAgent(id, now)
		m.agents[id] = ag
	}
	reregistering := known || sub.GetAgentInfo().Id != nil
	if reregistering {
		ag.reregisteredTime = now
	}
	delete(m.unreachable, id)
	ag.info = info
	ag.capabilities = sub.GetCapabilities()
	ag.version = sub.GetVersion()
	ag.bootID = sub.GetBootId()
	ag.pid = agentPID(sub.GetAddress(), remoteIP, info.GetPort())
	ag.total = total
	ag.conn, ag.connected, ag.lastSeen, ag.streamID = conn, true, now, streamID
	m.agentConns[conn] = id
	if ag.recovering {
		m.agentRecovered()
	}
	ag.recovering, ag.unreachableAt = false, time.Time{}
	if ag.unreachableTimer != nil {
		ag.unreachableTimer.Stop()
		ag.unreachableTimer = nil
	}
	m.reconcileAgentTasks(ag, sub, now)
	m.alloc.RemoveAgent(id)
	m.alloc.AddAgent(id, allocator.Agent{Hostname: info.GetHostname(), Total: total, Active: ag.active()}, m.usedByFramework(ag))

	conn.send(&protocol.AgentEvent{
		Type: protocol.AgentEvent_SUBSCRIBED.Enum(),
		Subscribed: &protocol.AgentEvent_Subscribed{
			AgentId:             info.GetId(),
			MasterInfo:          m.info,
			PingIntervalSeconds: ptr(m.cfg.AgentPingTimeout.Seconds()),
		},
	})
	m.sendPendingKills(ag)
	m.metrics.agentRegistered(reregistering)
	m.log.Info("agent subscribed", "agent_id", id, "hostname", info.GetHostname(), "reregistered", reregistering,
		"resources", total.String())
	m.agentAttached(ag, announce)
	m.requestAllocation()
	m.changed()
}

// agentIP is the IP an agent advertises, else the one its connection
// came from.
func agentIP(addr *mesos.Address, remoteIP string) string {
	if ip := addr.GetIp(); ip != "" {
		return ip
	}
	if remoteIP != "" {
		return remoteIP
	}
	return "127.0.0.1"
}

// agentPID is the agent's libprocess-style pid, slave(1)@ip:port: from the
// address it advertises, else the address its connection came from and the
// port in its AgentInfo.
func agentPID(addr *mesos.Address, remoteIP string, infoPort int32) string {
	ip, port := agentIP(addr, remoteIP), addr.GetPort()
	if port == 0 {
		port = infoPort
	}
	return "slave(1)@" + net.JoinHostPort(ip, strconv.Itoa(int(port)))
}

// reconcileAgentTasks merges what a (re-)registering agent reports with what
// the master knows. Reported tasks the master lacks are adopted (the master
// restarted, or the agent was unreachable); tasks the master has on this
// agent that the agent no longer reports are lost.
func (m *Master) reconcileAgentTasks(ag *agent, sub *protocol.AgentCall_Subscribe, now time.Time) {
	for _, e := range sub.GetExecutors() {
		fid := e.GetFrameworkId().GetValue()
		if ag.executors[fid][e.GetExecutorId().GetValue()] == nil {
			ag.addExecutor(fid, e)
			if fw := m.frameworks[fid]; fw != nil {
				fw.addExecutor(ag.id, e.GetExecutorId().GetValue(), e)
			}
			m.chargeExecutor(ag, fid, e)
		}
	}
	reported := map[string]bool{}
	for _, rt := range sub.GetTasks() {
		key := rt.GetFrameworkId().GetValue() + "/" + rt.GetTaskId().GetValue()
		reported[key] = true
		if t := ag.tasks[rt.GetFrameworkId().GetValue()][rt.GetTaskId().GetValue()]; t != nil {
			if t.unreachable {
				m.taskReachableAgain(t, rt, now)
			}
			continue
		}
		m.adoptTask(ag, rt, now)
	}
	for fid, tasks := range ag.tasks {
		for _, t := range tasks {
			if reported[fid+"/"+t.id] || t.state.IsTerminal() {
				continue
			}
			// TASK_DROPPED, which frameworks that are not partition-aware
			// see as TASK_LOST (forFramework).
			m.transitionTask(t, &mesos.TaskStatus{
				TaskId:  &mesos.TaskID{Value: ptr(t.id)},
				State:   mesos.TaskState_TASK_DROPPED.Enum(),
				Source:  mesos.TaskStatus_SOURCE_MASTER.Enum(),
				Reason:  mesos.TaskStatus_REASON_AGENT_REREGISTERED.Enum(),
				Message: ptr("Task was not reported by the re-registering agent"),
				AgentId: ag.info.GetId(),
			}, now)
		}
	}
}

// adoptTask adds a task reported by an agent that the master did not know.
func (m *Master) adoptTask(ag *agent, rt *mesos.Task, now time.Time) {
	res, err := resources.FromProto(rt.GetResources())
	if err != nil {
		m.log.Warn("ignoring reported task with invalid resources", "agent_id", ag.id, "task_id", rt.GetTaskId().GetValue(), "error", err)
		return
	}
	t := &task{
		id:          rt.GetTaskId().GetValue(),
		name:        rt.GetName(),
		frameworkID: rt.GetFrameworkId().GetValue(),
		agentID:     ag.id,
		executorID:  rt.GetExecutorId().GetValue(),
		state:       rt.GetState(),
		statuses:    rt.GetStatuses(),
		resources:   res,
		user:        rt.GetUser(),
		info:        taskInfoFromTask(rt),
	}
	if rt.StatusUpdateState != nil {
		t.statusUpdateState, t.statusUpdateUUID = rt.GetStatusUpdateState(), rt.GetStatusUpdateUuid()
	}
	t.role = roleOf(res)
	ag.addTask(t)
	if !t.state.IsTerminal() {
		ag.used = ag.used.Add(res)
	} else {
		t.released = true
	}
	if fw := m.frameworks[t.frameworkID]; fw != nil {
		fw.tasks[t.id] = t
		if !t.released {
			fw.used = fw.used.Add(res)
		}
	}
	m.metrics.taskAdopted(t.state)
}

func (m *Master) chargeExecutor(ag *agent, frameworkID string, e *mesos.ExecutorInfo) {
	res, err := resources.FromProto(e.GetResources())
	if err != nil || res.IsEmpty() {
		return
	}
	ag.used = ag.used.Add(res)
	if fw := m.frameworks[frameworkID]; fw != nil {
		fw.used = fw.used.Add(res)
	}
}

// usedByFramework sums, per framework, the resources of the agent's live
// tasks and executors, for the allocator.
func (m *Master) usedByFramework(ag *agent) map[string]resources.Resources {
	used := map[string]resources.Resources{}
	for fid, tasks := range ag.tasks {
		for _, t := range tasks {
			if !t.released {
				used[fid] = used[fid].Add(t.resources)
			}
		}
	}
	for fid, execs := range ag.executors {
		for _, e := range execs {
			if res, err := resources.FromProto(e.GetResources()); err == nil {
				used[fid] = used[fid].Add(res)
			}
		}
	}
	return used
}

// detachAgent drops an agent's current connection and its offers.
func (m *Master) detachAgent(ag *agent) {
	if ag.conn != nil {
		ag.conn.close("agent re-subscribed")
		delete(m.agentConns, ag.conn)
	}
	ag.conn, ag.connected, ag.streamID = nil, false, ""
	for _, o := range ag.offers {
		m.rescindOffer(o)
	}
}

// agentConnGone runs when an agent's stream ends from the agent's side.
func (m *Master) agentConnGone(conn agentConn, now time.Time) {
	conn.close("agent disconnected")
	if id, ok := m.agentConns[conn]; ok {
		m.agentDisconnected(id, conn, now)
	}
}

// agentDisconnected runs when an agent's stream ends or it stops answering
// pings. It is ignored if the agent has re-subscribed since.
func (m *Master) agentDisconnected(id string, conn agentConn, now time.Time) {
	ag, ok := m.agents[id]
	if !ok || ag.conn != conn {
		return
	}
	m.detachAgent(ag)
	m.alloc.SetAgentActive(id, false)
	m.metrics.agentDisconnected()
	m.log.Info("agent disconnected", "agent_id", id)
	timeout := m.cfg.AgentPingTimeout * time.Duration(m.cfg.MaxAgentPingTimeouts)
	ag.unreachableTimer = m.after(timeout, func() {
		if cur, ok := m.agents[id]; ok && cur == ag && !ag.connected {
			m.markAgentUnreachable(ag, m.clock.Now())
		}
	})
	m.changed()
}

// checkAgentPings disconnects agents that have not answered a PING for
// max_agent_ping_timeouts intervals.
func (m *Master) checkAgentPings(now time.Time) {
	limit := m.cfg.AgentPingTimeout * time.Duration(m.cfg.MaxAgentPingTimeouts)
	for _, ag := range m.agents {
		if ag.connected && now.Sub(ag.lastSeen) > limit {
			m.log.Warn("agent stopped answering pings", "agent_id", ag.id, "last_seen", ag.lastSeen)
			m.agentDisconnected(ag.id, ag.conn, now)
		}
	}
}

// markAgentUnreachable turns the agent's tasks unreachable and tells
// frameworks the agent is lost. The agent stays known so that it can come
// back with its tasks.
func (m *Master) markAgentUnreachable(ag *agent, now time.Time) {
	m.persistFor("agent/"+ag.id, []*registry.Operation{registry.MarkAgentUnreachable(ag.id, now)}, func(err error) {
		switch {
		case err != nil || m.agents[ag.id] != ag:
		case ag.connected:
			// It came back while the registry was being written.
			m.persistFor("agent/"+ag.id, []*registry.Operation{registry.MarkAgentReachable(
				&registry.Agent{Info: ag.info, Capabilities: ag.capabilities})}, nil)
		default:
			m.agentUnreachable(ag, now)
		}
	})
}

// agentUnreachable applies an unreachable mark the registry has committed.
func (m *Master) agentUnreachable(ag *agent, now time.Time) {
	m.log.Warn("agent marked unreachable", "agent_id", ag.id)
	m.metrics.agentUnreachable()
	ag.unreachableAt = now
	m.agentRemoved(ag.id)
	unreachableTime := &mesos.TimeInfo{Nanoseconds: ptr(now.UnixNano())}
	for _, tasks := range ag.tasks {
		for _, t := range tasks {
			if t.state.IsTerminal() {
				continue
			}
			m.transitionTask(t, &mesos.TaskStatus{
				TaskId:          &mesos.TaskID{Value: ptr(t.id)},
				State:           mesos.TaskState_TASK_UNREACHABLE.Enum(),
				Source:          mesos.TaskStatus_SOURCE_MASTER.Enum(),
				Reason:          mesos.TaskStatus_REASON_AGENT_REMOVED.Enum(),
				Message:         ptr("Agent " + ag.id + " is unreachable"),
				AgentId:         ag.info.GetId(),
				UnreachableTime: unreachableTime,
			}, now)
			t.unreachable = true
		}
	}
	for _, fw := range m.frameworks {
		if fw.conn != nil {
			fw.conn.send(&scheduler.Event{
				Type:    scheduler.Event_FAILURE.Enum(),
				Failure: &scheduler.Event_Failure{AgentId: ag.info.GetId()},
			})
		}
	}
	m.changed()
}

// taskReachableAgain re-announces a task whose agent came back.
func (m *Master) taskReachableAgain(t *task, reported *mesos.Task, now time.Time) {
	t.unreachable = false
	m.transitionTask(t, &mesos.TaskStatus{
		TaskId:  &mesos.TaskID{Value: ptr(t.id)},
		State:   reported.GetState().Enum(),
		Source:  mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:  mesos.TaskStatus_REASON_AGENT_REREGISTERED.Enum(),
		Message: ptr("Agent re-registered"),
		AgentId: &mesos.AgentID{Value: ptr(t.agentID)},
	}, now)
}

// agentPong records that an agent answered.
func (m *Master) agentPong(ag *agent, now time.Time) { ag.lastSeen = now }

func (m *Master) newAgentID() string {
	id := fmt.Sprintf("%s-S%d", m.id, m.nextAgentID)
	m.nextAgentID++
	return id
}

// pidAddress splits a libprocess-style pid ("slave(1)@10.0.0.1:5051") into
// its IP and port.
func pidAddress(pid string) (string, int) {
	at := strings.LastIndexByte(pid, '@')
	host, portStr, err := net.SplitHostPort(pid[at+1:])
	if err != nil {
		return "", 0
	}
	port, _ := strconv.Atoi(portStr)
	return host, port
}
