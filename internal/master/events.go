package master

import (
	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// The operator event stream (reference §6.2): the loop calls one function
// per change at the point the state changes; each builds its event once,
// only when someone is subscribed, and queues the same message on every
// subscriber's outbox (messages are not mutated once queued).

// publish queues ev on every operator subscriber.
func (m *Master) publish(ev *masterpb.Event) {
	for _, sub := range m.ops.subscribers {
		sub.conn.send(ev)
	}
}

func (m *Master) hasSubscribers() bool { return len(m.ops.subscribers) > 0 }

// taskAdded: a task was launched (TASK_ADDED).
func (m *Master) taskAdded(t *task) {
	if !m.hasSubscribers() {
		return
	}
	v := taskView(t)
	m.publish(&masterpb.Event{
		Type:      masterpb.Event_TASK_ADDED.Enum(),
		TaskAdded: &masterpb.Event_TaskAdded{Task: taskProto(&v)},
	})
}

// taskUpdated: a task's latest state moved from old, or a status reported
// a health or check change (TASK_UPDATED).
func (m *Master) taskUpdated(t *task, status *mesos.TaskStatus, old mesos.TaskState) {
	if !m.hasSubscribers() || (old == t.state && !healthOrCheckUpdate(status)) {
		return
	}
	m.publish(&masterpb.Event{
		Type: masterpb.Event_TASK_UPDATED.Enum(),
		TaskUpdated: &masterpb.Event_TaskUpdated{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(t.frameworkID)},
			Status:      status,
			State:       t.state.Enum(),
		},
	})
}

func healthOrCheckUpdate(s *mesos.TaskStatus) bool {
	switch s.GetReason() {
	case mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED:
		return true
	}
	return false
}

// agentAdded: an agent registered, or came back after a failover or from
// being unreachable (AGENT_ADDED).
func (m *Master) agentAdded(ag *agent) {
	if !m.hasSubscribers() {
		return
	}
	v := agentView(ag)
	v.Unavailability = m.unavailabilityOf(ag)
	m.publish(&masterpb.Event{
		Type:       masterpb.Event_AGENT_ADDED.Enum(),
		AgentAdded: &masterpb.Event_AgentAdded{Agent: agentEntry(&v)},
	})
}

// agentRemoved: an agent became unreachable, gone, or was shut down
// (AGENT_REMOVED).
func (m *Master) agentRemoved(id string) {
	if !m.hasSubscribers() {
		return
	}
	m.publish(&masterpb.Event{
		Type:         masterpb.Event_AGENT_REMOVED.Enum(),
		AgentRemoved: &masterpb.Event_AgentRemoved{AgentId: &mesos.AgentID{Value: proto.String(id)}},
	})
}

// frameworkAdded: a framework subscribed for the first time
// (FRAMEWORK_ADDED).
func (m *Master) frameworkAdded(fw *framework) {
	if m.hasSubscribers() {
		m.publish(&masterpb.Event{
			Type:           masterpb.Event_FRAMEWORK_ADDED.Enum(),
			FrameworkAdded: &masterpb.Event_FrameworkAdded{Framework: m.frameworkEvent(fw)},
		})
	}
}

// frameworkUpdated: a framework re-subscribed, changed its FrameworkInfo or
// disconnected (FRAMEWORK_UPDATED).
func (m *Master) frameworkUpdated(fw *framework) {
	if m.hasSubscribers() {
		m.publish(&masterpb.Event{
			Type:             masterpb.Event_FRAMEWORK_UPDATED.Enum(),
			FrameworkUpdated: &masterpb.Event_FrameworkUpdated{Framework: m.frameworkEvent(fw)},
		})
	}
}

// frameworkRemoved: a framework was torn down or failed over too late
// (FRAMEWORK_REMOVED).
func (m *Master) frameworkRemoved(fw *framework) {
	if m.hasSubscribers() {
		m.publish(&masterpb.Event{
			Type:             masterpb.Event_FRAMEWORK_REMOVED.Enum(),
			FrameworkRemoved: &masterpb.Event_FrameworkRemoved{FrameworkInfo: fw.info},
		})
	}
}

// frameworkEvent is a framework's entry for events: without its tasks,
// which events carry on their own.
func (m *Master) frameworkEvent(fw *framework) *masterpb.Response_GetFrameworks_Framework {
	v := FrameworkView{
		ID: fw.id, Info: fw.info, Connected: fw.connected, Recovered: fw.recovered,
		RegisteredTime: fw.registeredTime, ReregisteredTime: fw.reregisteredTime, UnregisteredTime: fw.unregisteredTime,
		Used: fw.used, InverseOffers: m.inverseOffersOf(fw.id),
	}
	for _, o := range sortedOffers(fw.offers) {
		v.Offers = append(v.Offers, OfferView{Proto: o.proto})
		v.Offered = v.Offered.Add(o.resources)
	}
	return frameworkEntry(&v)
}
