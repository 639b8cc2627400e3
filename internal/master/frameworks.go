package master

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/apihttp"
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
	// suppressed roles, as the framework last asked.
	suppressed []string

	registeredTime   time.Time
	reregisteredTime time.Time
	unregisteredTime time.Time
	failoverTimer    *time.Timer

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

// subscribeResult is what a SUBSCRIBE handler needs after the loop accepted it.
type subscribeResult struct {
	frameworkID string
	streamID    string
}

// subscribe handles SUBSCRIBE on the loop: a new framework, a re-subscribe
// (framework failover) or a refusal. The SUBSCRIBED event and the first
// HEARTBEAT are queued on conn before it returns.
func (m *Master) subscribe(call *scheduler.Call, conn frameworkConn, now time.Time) (subscribeResult, error) {
	sub := call.GetSubscribe()
	info := proto.Clone(sub.GetFrameworkInfo()).(*mesos.FrameworkInfo)
	if call.FrameworkId != nil && call.GetFrameworkId().GetValue() != info.GetId().GetValue() {
		return subscribeResult{}, apihttp.Errorf(http.StatusBadRequest,
			"'framework_id' differs from 'subscribe.framework_info.id'")
	}
	if err := validateFrameworkInfo(info); err != nil {
		return subscribeResult{}, apihttp.Errorf(http.StatusBadRequest, "Invalid FrameworkInfo: %v", err)
	}
	if err := validateSuppressedRoles(rolesOf(info), sub.GetSuppressedRoles()); err != nil {
		return subscribeResult{}, apihttp.Errorf(http.StatusBadRequest, "%v", err)
	}
	streamID := uuid.NewString()

	if info.Id != nil {
		id := info.GetId().GetValue()
		if m.isCompletedFramework(id) {
			conn.send(errorEvent("Framework has been removed"))
			conn.close("framework has been removed")
			return subscribeResult{frameworkID: id, streamID: streamID}, nil
		}
		if fw, ok := m.frameworks[id]; ok {
			m.resubscribe(fw, info, sub.GetSuppressedRoles(), conn, streamID, now)
			return subscribeResult{frameworkID: id, streamID: streamID}, nil
		}
		// An ID this master does not know (its previous master's): adopt it.
	} else {
		info.Id = &mesos.FrameworkID{Value: ptr(m.newFrameworkID())}
	}
	fw := m.addFramework(info, sub.GetSuppressedRoles(), conn, streamID, now)
	return subscribeResult{frameworkID: fw.id, streamID: streamID}, nil
}

func (m *Master) addFramework(info *mesos.FrameworkInfo, suppressed []string, conn frameworkConn, streamID string, now time.Time) *framework {
	fw := &framework{
		id:             info.GetId().GetValue(),
		info:           info,
		roles:          rolesOf(info),
		caps:           capabilitiesOf(info),
		conn:           conn,
		streamID:       streamID,
		connected:      true,
		suppressed:     slices.Clone(suppressed),
		registeredTime: now,
		tasks:          map[string]*task{},
		offers:         map[string]*offer{},
		executors:      map[string]map[string]*mesos.ExecutorInfo{},
	}
	m.frameworks[fw.id] = fw
	// Tasks that re-registered agents reported before the framework came back.
	for _, ag := range m.agents {
		for _, t := range ag.tasks[fw.id] {
			fw.tasks[t.id] = t
			fw.used = fw.used.Add(t.resources)
		}
		for eid, e := range ag.executors[fw.id] {
			fw.addExecutor(ag.id, eid, e)
		}
	}
	m.alloc.AddFramework(fw.id, m.allocatorFramework(fw))
	m.metrics.frameworkSubscribed()
	m.sendSubscribed(fw)
	m.log.Info("framework subscribed", "framework_id", fw.id, "name", info.GetName(), "roles", fw.roles)
	m.requestAllocation()
	m.changed()
	return fw
}

// resubscribe is a framework failover: a new connection for a known
// framework. The old stream, if any, is told and closed.
func (m *Master) resubscribe(fw *framework, info *mesos.FrameworkInfo, suppressed []string, conn frameworkConn, streamID string, now time.Time) {
	if fw.conn != nil {
		fw.conn.send(errorEvent("Framework failed over"))
		fw.conn.close("framework failed over")
	}
	if fw.failoverTimer != nil {
		fw.failoverTimer.Stop()
		fw.failoverTimer = nil
	}
	m.rescindFrameworkOffers(fw)
	// Changes to principal, user and checkpoint are ignored on re-subscribe.
	info.Principal, info.User, info.Checkpoint = fw.info.Principal, fw.info.User, fw.info.Checkpoint
	m.updateFrameworkInfo(fw, info, suppressed)
	fw.conn, fw.streamID, fw.connected = conn, streamID, true
	fw.reregisteredTime = now
	m.alloc.UpdateFramework(fw.id, m.allocatorFramework(fw))
	m.sendSubscribed(fw)
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
	return allocator.Framework{Roles: fw.roles, Suppressed: fw.suppressed, Active: fw.connected}
}

// frameworkDisconnected runs when a framework's stream ends from the
// client's side. It is ignored if the framework has re-subscribed since.
func (m *Master) frameworkDisconnected(id string, conn frameworkConn, now time.Time) {
	fw, ok := m.frameworks[id]
	if !ok || fw.conn != conn {
		return
	}
	conn.close("disconnected")
	fw.conn, fw.connected, fw.streamID = nil, false, ""
	fw.unregisteredTime = now
	m.rescindFrameworkOffers(fw)
	m.alloc.UpdateFramework(fw.id, m.allocatorFramework(fw))
	timeout := time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
	m.log.Info("framework disconnected", "framework_id", id, "failover_timeout", timeout)
	m.metrics.frameworkDisconnected()
	if timeout <= 0 {
		m.removeFramework(fw, now)
		return
	}
	fw.failoverTimer = m.after(timeout, func() {
		if cur, ok := m.frameworks[id]; ok && cur == fw && !fw.connected {
			m.log.Info("framework failover timeout expired", "framework_id", id)
			m.removeFramework(fw, time.Now())
		}
	})
	m.changed()
}

// removeFramework tears a framework down: its offers are rescinded, agents
// shut down its executors, its tasks are killed, and it moves to the
// completed list.
func (m *Master) removeFramework(fw *framework, now time.Time) {
	if fw.conn != nil {
		fw.conn.close("framework removed")
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
		if !isTerminal(t.state) {
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
	m.metrics.frameworkRemoved()
	m.log.Info("framework removed", "framework_id", fw.id)
	m.changed()
}

func (m *Master) isCompletedFramework(id string) bool {
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
