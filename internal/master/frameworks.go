package master

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
)

// Framework lifecycle:
//
//	SUBSCRIBE ──► connected ──stream breaks──► disconnected ──failover_timeout──► removed
//	                  ▲                              │                                ▲
//	                  └────── re-SUBSCRIBE (same id) ┘                TEARDOWN ───────┘
//
// A removed framework's tasks are killed and it moves to the completed list;
// re-subscribing with its id is refused.

// framework is the master's record of one framework.
type framework struct {
	id       string
	info     *mesos.FrameworkInfo
	roles    []string
	caps     capabilities
	conn     frameworkConn
	streamID string

	connected bool
	// recovered: known from the registry, not re-subscribed since the
	// failover.
	recovered bool
	// persistedDisconnected: the registry has been told it disconnected.
	persistedDisconnected bool
	// suppressed roles, as the framework last asked.
	suppressed []string

	registeredTime   time.Time
	reregisteredTime time.Time
	unregisteredTime time.Time
	failoverTimer    Timer

	tasks     map[string]*task // active and terminal-but-unacknowledged
	completed []*task          // oldest first, bounded
	offers    map[string]*offer
	// executors by agent ID, then executor ID.
	executors map[string]map[string]*mesos.ExecutorInfo

	// used sums the resources of the framework's tasks and executors.
	used resources.Resources
}

type capabilities struct {
	multiRole, partitionAware, taskKillingState, reservationRefinement, gpu, revocable bool
}

func capabilitiesOf(info *mesos.FrameworkInfo) capabilities {
	var c capabilities
	for _, cap := range info.GetCapabilities() {
		switch cap.GetType() {
		case mesos.FrameworkInfo_Capability_MULTI_ROLE:
			c.multiRole = true
		case mesos.FrameworkInfo_Capability_PARTITION_AWARE:
			c.partitionAware = true
		case mesos.FrameworkInfo_Capability_TASK_KILLING_STATE:
			c.taskKillingState = true
		case mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT:
			c.reservationRefinement = true
		case mesos.FrameworkInfo_Capability_GPU_RESOURCES:
			c.gpu = true
		case mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES:
			c.revocable = true
		}
	}
	return c
}

// rolesOf returns the roles a framework subscribes to: `roles` with
// MULTI_ROLE, else the legacy `role` (default "*").
func rolesOf(info *mesos.FrameworkInfo) []string {
	if capabilitiesOf(info).multiRole {
		return slices.Clone(info.GetRoles())
	}
	return []string{info.GetRole()}
}

// validateFrameworkInfo applies Mesos' FrameworkInfo rules.
func validateFrameworkInfo(info *mesos.FrameworkInfo) error {
	caps := capabilitiesOf(info)
	if caps.multiRole {
		if info.Role != nil {
			return fmt.Errorf("'FrameworkInfo.role' must not be set when the MULTI_ROLE capability is set (use 'roles')")
		}
	} else if len(info.GetRoles()) > 0 {
		return fmt.Errorf("'FrameworkInfo.roles' needs the MULTI_ROLE capability")
	}
	seen := map[string]bool{}
	for _, role := range rolesOf(info) {
		if err := resources.ValidateRole(role); err != nil {
			return fmt.Errorf("invalid role %q: %w", role, err)
		}
		if seen[role] {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate role %q", role)
		}
		seen[role] = true
	}
	if ft := info.GetFailoverTimeout(); ft < 0 || ft != ft {
		return fmt.Errorf("'FrameworkInfo.failover_timeout' must be a non-negative number")
	}
	if info.Id != nil {
		if err := validateID("FrameworkID", info.GetId().GetValue()); err != nil {
			return err
		}
	}
	return nil
}

func validateSuppressedRoles(roles, suppressed []string) error {
	for _, r := range suppressed {
		if !slices.Contains(roles, r) {
			return fmt.Errorf("suppressed role %q is not one of the framework's roles", r)
		}
	}
	return nil
}

// subscribe handles SUBSCRIBE on the loop: a new framework, a re-subscribe
// (framework failover) or a refusal. Validation errors are returned (the
// handler answers 400); otherwise the registry is written and, once that
// commits, SUBSCRIBED and the first HEARTBEAT are queued on conn.
func (m *Master) subscribe(call *scheduler.Call, conn frameworkConn, streamID string, now time.Time) error {
	if !m.isLeading() {
		return errNotLeading
	}
	sub := call.GetSubscribe()
	info := proto.Clone(sub.GetFrameworkInfo()).(*mesos.FrameworkInfo)
	if call.FrameworkId != nil && call.GetFrameworkId().GetValue() != info.GetId().GetValue() {
		return apihttp.Errorf(http.StatusBadRequest, "'framework_id' differs from 'subscribe.framework_info.id'")
	}
	if err := validateFrameworkInfo(info); err != nil {
		return apihttp.Errorf(http.StatusBadRequest, "Invalid FrameworkInfo: %v", err)
	}
	suppressed := sub.GetSuppressedRoles()
	if err := validateSuppressedRoles(rolesOf(info), suppressed); err != nil {
		return apihttp.Errorf(http.StatusBadRequest, "%v", err)
	}
	if info.Id == nil {
		info.Id = &mesos.FrameworkID{Value: ptr(m.newFrameworkID())}
	}
	id := info.GetId().GetValue()
	if m.isCompletedFramework(id) {
		conn.send(errorEvent("Framework has been removed"))
		conn.close("framework has been removed")
		return nil
	}
	fw := m.frameworks[id]
	if fw == nil {
		// New, or an ID this master does not know (adopted).
		m.persistFor("framework/"+id, []*registry.Operation{registry.AddFramework(info, now)}, func(err error) {
			if m.refuseOnWriteError(conn, err) || m.frameworks[id] != nil {
				return
			}
			m.addFramework(newFramework(info, now), suppressed, conn, streamID, now)
		})
		return nil
	}
	// Changes to principal, user and checkpoint are ignored on re-subscribe.
	info.Principal, info.User, info.Checkpoint = fw.info.Principal, fw.info.User, fw.info.Checkpoint
	ops := []*registry.Operation{registry.UpdateFramework(info)}
	if fw.persistedDisconnected {
		ops = append(ops, registry.MarkFrameworkConnected(id))
		fw.persistedDisconnected = false
	}
	m.persistFor("framework/"+id, ops, func(err error) {
		if m.refuseOnWriteError(conn, err) || m.frameworks[id] != fw {
			return
		}
		m.resubscribe(fw, info, suppressed, conn, streamID, m.clock.Now())
	})
	return nil
}

// refuseOnWriteError ends a subscription whose registry write failed, or
// whose client left while it was being written. It reports whether it did.
func (m *Master) refuseOnWriteError(conn frameworkConn, err error) bool {
	if conn.closed() {
		return true
	}
	if err != nil {
		conn.send(errorEvent("Failed to persist the framework: " + err.Error()))
		conn.close("registry write failed")
		return true
	}
	return false
}

func newFramework(info *mesos.FrameworkInfo, registered time.Time) *framework {
	return &framework{
		id:             info.GetId().GetValue(),
		info:           info,
		roles:          rolesOf(info),
		caps:           capabilitiesOf(info),
		registeredTime: registered,
		tasks:          map[string]*task{},
		offers:         map[string]*offer{},
		executors:      map[string]map[string]*mesos.ExecutorInfo{},
	}
}

func (m *Master) addFramework(fw *framework, suppressed []string, conn frameworkConn, streamID string, now time.Time) {
	fw.conn, fw.streamID, fw.connected = conn, streamID, true
	m.frameworkConns[conn] = fw.id
	fw.suppressed = slices.Clone(suppressed)
	m.frameworks[fw.id] = fw
	// Tasks that re-registered agents reported before the framework came back.
	for _, ag := range m.agents {
		for _, t := range ag.tasks[fw.id] {
			fw.tasks[t.id] = t
			if !t.released {
				fw.used = fw.used.Add(t.resources)
			}
		}
		for eid, e := range ag.executors[fw.id] {
			fw.addExecutor(ag.id, eid, e)
		}
	}
	m.alloc.AddFramework(fw.id, m.allocatorFramework(fw))
	m.metrics.frameworkSubscribed()
	m.frameworkAdded(fw)
	m.sendSubscribed(fw)
	m.log.Info("framework subscribed", "framework_id", fw.id, "name", fw.info.GetName(), "roles", fw.roles)
	m.requestAllocation()
	m.changed()
}

// resubscribe is a framework failover: a new connection for a known
// framework. The old stream, if any, is told and closed.
func (m *Master) resubscribe(fw *framework, info *mesos.FrameworkInfo, suppressed []string, conn frameworkConn, streamID string, now time.Time) {
	if fw.conn != nil {
		fw.conn.send(errorEvent("Framework failed over"))
		fw.conn.close("framework failed over")
		delete(m.frameworkConns, fw.conn)
	}
	m.frameworkConns[conn] = fw.id
	if fw.failoverTimer != nil {
		fw.failoverTimer.Stop()
		fw.failoverTimer = nil
	}
	m.rescindFrameworkOffers(fw)
	m.updateFrameworkInfo(fw, info, suppressed)
	fw.conn, fw.streamID, fw.connected, fw.recovered = conn, streamID, true, false
	fw.reregisteredTime = now
	m.alloc.UpdateFramework(fw.id, m.allocatorFramework(fw))
	m.sendSubscribed(fw)
	m.frameworkUpdated(fw)
	m.log.Info("framework re-subscribed", "framework_id", fw.id, "name", info.GetName())
	m.requestAllocation()
	m.changed()
}

// updateFrameworkInfo applies new FrameworkInfo: roles that went away lose
// their offers; roles that left suppression are revived.
func (m *Master) updateFrameworkInfo(fw *framework, info *mesos.FrameworkInfo, suppressed []string) {
	fw.info = info
	fw.roles = rolesOf(info)
	fw.caps = capabilitiesOf(info)
	for _, o := range fw.offers {
		if !slices.Contains(fw.roles, o.role) {
			m.rescindOffer(o)
		}
	}
	var revive []string
	for _, r := range fw.suppressed {
		if !slices.Contains(suppressed, r) && slices.Contains(fw.roles, r) {
			revive = append(revive, r)
		}
	}
	fw.suppressed = slices.Clone(suppressed)
	m.alloc.UpdateFramework(fw.id, m.allocatorFramework(fw))
	if len(revive) > 0 {
		m.alloc.Revive(fw.id, revive)
	}
	for _, ag := range m.agents {
		if ag.conn != nil && len(ag.executors[fw.id]) > 0 {
			ag.conn.send(updateFrameworkEvent(info))
		}
	}
}

func (m *Master) sendSubscribed(fw *framework) {
	fw.conn.send(&scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED.Enum(),
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkId:              fw.info.GetId(),
			HeartbeatIntervalSeconds: ptr(m.cfg.HeartbeatInterval.Seconds()),
			MasterInfo:               m.info,
		},
	})
	fw.conn.send(heartbeatEvent())
}

func (m *Master) allocatorFramework(fw *framework) allocator.Framework {
	return allocator.FrameworkFromInfo(fw.info, fw.suppressed, fw.connected)
}

// frameworkConnGone runs when a framework's stream ends from the client's
// side. It is ignored if the framework has re-subscribed since.
func (m *Master) frameworkConnGone(conn frameworkConn, now time.Time) {
	conn.close("disconnected")
	id, ok := m.frameworkConns[conn]
	if !ok {
		return
	}
	delete(m.frameworkConns, conn)
	if fw := m.frameworks[id]; fw != nil && fw.conn == conn {
		m.frameworkDisconnected(fw, now)
	}
}

// frameworkDisconnected marks a framework disconnected and starts its
// failover timeout.
func (m *Master) frameworkDisconnected(fw *framework, now time.Time) {
	id := fw.id
	fw.conn, fw.connected, fw.streamID = nil, false, ""
	fw.unregisteredTime = now
	m.rescindFrameworkOffers(fw)
	m.alloc.UpdateFramework(fw.id, m.allocatorFramework(fw))
	m.log.Info("framework disconnected", "framework_id", id, "failover_timeout", failoverTimeout(fw))
	m.metrics.frameworkDisconnected()
	fw.persistedDisconnected = true
	m.persistFor("framework/"+id, []*registry.Operation{registry.MarkFrameworkDisconnected(id, now)}, nil)
	m.frameworkUpdated(fw)
	m.startFailoverTimer(fw, now)
	m.changed()
}

func failoverTimeout(fw *framework) time.Duration {
	return time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
}

// startFailoverTimer removes a disconnected framework once its failover
// timeout has passed since it disconnected.
func (m *Master) startFailoverTimer(fw *framework, now time.Time) {
	left := fw.unregisteredTime.Add(failoverTimeout(fw)).Sub(now)
	if left <= 0 {
		m.removeFramework(fw, now)
		return
	}
	fw.failoverTimer = m.after(left, func() {
		if cur, ok := m.frameworks[fw.id]; ok && cur == fw && !fw.connected {
			m.log.Info("framework failover timeout expired", "framework_id", fw.id)
			m.removeFramework(fw, m.clock.Now())
		}
	})
}

// removeFramework tears a framework down: its offers are rescinded, agents
// shut down its executors, its tasks are killed, and it moves to the
// completed list.
func (m *Master) removeFramework(fw *framework, now time.Time) {
	if fw.conn != nil {
		fw.conn.close("framework removed")
		delete(m.frameworkConns, fw.conn)
		fw.conn = nil
	}
	if fw.failoverTimer != nil {
		fw.failoverTimer.Stop()
	}
	m.rescindFrameworkOffers(fw)
	for _, ag := range m.agents {
		if len(ag.tasks[fw.id]) > 0 || len(ag.executors[fw.id]) > 0 {
			if ag.conn != nil {
				ag.conn.send(shutdownFrameworkEvent(fw.id))
			}
		}
	}
	for _, t := range fw.tasks {
		if !t.state.IsTerminal() {
			m.transitionTask(t, &mesos.TaskStatus{
				TaskId:  &mesos.TaskID{Value: ptr(t.id)},
				State:   mesos.TaskState_TASK_KILLED.Enum(),
				Source:  mesos.TaskStatus_SOURCE_MASTER.Enum(),
				Reason:  mesos.TaskStatus_REASON_FRAMEWORK_REMOVED.Enum(),
				Message: ptr("Framework " + fw.id + " removed"),
			}, now)
		}
		m.removeTask(t)
	}
	for agentID, execs := range fw.executors {
		for eid := range execs {
			m.removeExecutor(fw, agentID, eid)
		}
	}
	fw.connected = false
	fw.unregisteredTime = now
	delete(m.frameworks, fw.id)
	m.alloc.RemoveFramework(fw.id)
	m.completed = append(m.completed, fw)
	if over := len(m.completed) - m.cfg.MaxCompletedFrameworks; over > 0 {
		m.completed = slices.Delete(m.completed, 0, over)
	}
	m.removedFrameworks[fw.id] = now
	m.frameworkRemoved(fw)
	m.persistFor("framework/"+fw.id, []*registry.Operation{registry.RemoveFramework(fw.id, now)}, nil)
	m.metrics.frameworkRemoved()
	m.log.Info("framework removed", "framework_id", fw.id)
	m.changed()
}

func (m *Master) isCompletedFramework(id string) bool {
	if _, ok := m.removedFrameworks[id]; ok {
		return true
	}
	for _, fw := range m.completed {
		if fw.id == id {
			return true
		}
	}
	return false
}

func (fw *framework) addExecutor(agentID, executorID string, e *mesos.ExecutorInfo) {
	if fw.executors[agentID] == nil {
		fw.executors[agentID] = map[string]*mesos.ExecutorInfo{}
	}
	fw.executors[agentID][executorID] = e
}

func (m *Master) newFrameworkID() string {
	id := fmt.Sprintf("%s-%04d", m.id, m.nextFrameworkID)
	m.nextFrameworkID++
	return id
}

func errorEvent(msg string) *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_ERROR.Enum(), Error: &scheduler.Event_Error{Message: &msg}}
}

func heartbeatEvent() *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_HEARTBEAT.Enum()}
}
