package cluster

import (
	"fmt"
	"slices"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/protocol"
)

// The master emits some of a batch's events in map order (rescinding a
// framework's offers, reconciling, marking an agent's tasks unreachable).
// Before they enter the network each batch is sorted stably by (class,
// entity): events about one entity keep their order, events about
// different entities of the same class are ordered by the entity's ID, and
// the classes keep the order the master always uses (SUBSCRIBED first,
// OFFERS after the updates of the batch, ERROR last).

type eventKey struct {
	class  int
	entity string
}

func (k eventKey) compare(o eventKey) int {
	if k.class != o.class {
		return k.class - o.class
	}
	return strings.Compare(k.entity, o.entity)
}

func frameworkEventKey(ev *scheduler.Event) eventKey {
	switch ev.GetType() {
	case scheduler.Event_SUBSCRIBED:
		return eventKey{class: 0}
	case scheduler.Event_HEARTBEAT:
		return eventKey{class: 1}
	case scheduler.Event_UPDATE:
		return eventKey{2, "task " + ev.GetUpdate().GetStatus().GetTaskId().GetValue()}
	case scheduler.Event_RESCIND:
		return eventKey{2, "offer " + ev.GetRescind().GetOfferId().GetValue()}
	case scheduler.Event_FAILURE:
		f := ev.GetFailure()
		return eventKey{2, "agent " + f.GetAgentId().GetValue() + "/" + f.GetExecutorId().GetValue()}
	case scheduler.Event_RESCIND_INVERSE_OFFER:
		return eventKey{2, "inverse " + ev.GetRescindInverseOffer().GetInverseOfferId().GetValue()}
	case scheduler.Event_OFFERS, scheduler.Event_INVERSE_OFFERS:
		return eventKey{class: 3}
	case scheduler.Event_ERROR:
		return eventKey{class: 9}
	}
	return eventKey{class: 2}
}

func sortFrameworkEvents(evs []*scheduler.Event) {
	slices.SortStableFunc(evs, func(a, b *scheduler.Event) int {
		return frameworkEventKey(a).compare(frameworkEventKey(b))
	})
}

// agentEventKey groups an agent's events by framework: one framework's
// events (RUN_TASK, KILL_TASK, ACKNOWLEDGE, SHUTDOWN_FRAMEWORK ...) keep
// their order.
func agentEventKey(ev *protocol.AgentEvent) eventKey {
	switch ev.GetType() {
	case protocol.AgentEvent_SUBSCRIBED:
		return eventKey{class: 0}
	case protocol.AgentEvent_PING:
		return eventKey{class: 1}
	case protocol.AgentEvent_RUN_TASK:
		return eventKey{2, ev.GetRunTask().GetFramework().GetId().GetValue()}
	case protocol.AgentEvent_RUN_TASK_GROUP:
		return eventKey{2, ev.GetRunTaskGroup().GetFramework().GetId().GetValue()}
	case protocol.AgentEvent_KILL_TASK:
		return eventKey{2, ev.GetKillTask().GetFrameworkId().GetValue()}
	case protocol.AgentEvent_ACKNOWLEDGE:
		return eventKey{2, ev.GetAcknowledge().GetFrameworkId().GetValue()}
	case protocol.AgentEvent_SHUTDOWN_EXECUTOR:
		return eventKey{2, ev.GetShutdownExecutor().GetFrameworkId().GetValue()}
	case protocol.AgentEvent_SHUTDOWN_FRAMEWORK:
		return eventKey{2, ev.GetShutdownFramework().GetFrameworkId().GetValue()}
	case protocol.AgentEvent_MESSAGE:
		return eventKey{2, ev.GetMessage().GetFrameworkId().GetValue()}
	case protocol.AgentEvent_UPDATE_FRAMEWORK:
		return eventKey{2, ev.GetUpdateFramework().GetFrameworkInfo().GetId().GetValue()}
	case protocol.AgentEvent_SHUTDOWN, protocol.AgentEvent_ERROR:
		return eventKey{class: 9}
	}
	return eventKey{class: 3}
}

func sortAgentEvents(evs []*protocol.AgentEvent) {
	slices.SortStableFunc(evs, func(a, b *protocol.AgentEvent) int {
		return agentEventKey(a).compare(agentEventKey(b))
	})
}

func pingEvent(st *stream) *protocol.AgentEvent {
	st.beats++
	seq := st.beats
	return &protocol.AgentEvent{Type: protocol.AgentEvent_PING.Enum(), Ping: &protocol.AgentEvent_Ping{Sequence: &seq}}
}

func heartbeatEvent() *scheduler.Event {
	return &scheduler.Event{Type: scheduler.Event_HEARTBEAT.Enum()}
}

// describe summarises a message for the history: its kind and the IDs and
// states that matter when reading a trace.
func describe(msg any) string {
	switch m := msg.(type) {
	case *scheduler.Event:
		return describeFrameworkEvent(m)
	case *scheduler.Call:
		return describeFrameworkCall(m)
	case *protocol.AgentEvent:
		return describeAgentEvent(m)
	case *protocol.AgentCall:
		if m.GetType() == protocol.AgentCall_UPDATE {
			return "UPDATE " + describeStatus(m.GetUpdate().GetStatus())
		}
		return m.GetType().String()
	}
	return ""
}

func describeStatus(s *mesos.TaskStatus) string {
	out := s.GetTaskId().GetValue() + " " + strings.TrimPrefix(s.GetState().String(), "TASK_")
	if u := s.GetUuid(); len(u) > 0 {
		out += fmt.Sprintf(" u=%x", u[:4])
	}
	return out
}

func describeFrameworkEvent(ev *scheduler.Event) string {
	switch ev.GetType() {
	case scheduler.Event_UPDATE:
		return "UPDATE " + describeStatus(ev.GetUpdate().GetStatus())
	case scheduler.Event_OFFERS:
		var ids []string
		for _, o := range ev.GetOffers().GetOffers() {
			ids = append(ids, fmt.Sprintf("%s@%s(%s)", o.GetId().GetValue(), o.GetHostname(), scalarSummary(o.GetResources())))
		}
		return "OFFERS " + strings.Join(ids, ",")
	case scheduler.Event_RESCIND:
		return "RESCIND " + ev.GetRescind().GetOfferId().GetValue()
	case scheduler.Event_ERROR:
		return "ERROR " + ev.GetError().GetMessage()
	}
	return ev.GetType().String()
}

func describeFrameworkCall(c *scheduler.Call) string {
	switch c.GetType() {
	case scheduler.Call_ACCEPT:
		var ids []string
		for _, o := range c.GetAccept().GetOfferIds() {
			ids = append(ids, o.GetValue())
		}
		return fmt.Sprintf("ACCEPT %s %d tasks", strings.Join(ids, ","), len(launchedTaskIDs(c)))
	case scheduler.Call_DECLINE:
		return fmt.Sprintf("DECLINE %d offers", len(c.GetDecline().GetOfferIds()))
	case scheduler.Call_ACKNOWLEDGE:
		return fmt.Sprintf("ACKNOWLEDGE %s u=%x", c.GetAcknowledge().GetTaskId().GetValue(), c.GetAcknowledge().GetUuid()[:min(4, len(c.GetAcknowledge().GetUuid()))])
	case scheduler.Call_KILL:
		return "KILL " + c.GetKill().GetTaskId().GetValue()
	}
	return c.GetType().String()
}

func launchedTaskIDs(c *scheduler.Call) []string {
	var ids []string
	for _, op := range c.GetAccept().GetOperations() {
		for _, ti := range op.GetLaunch().GetTaskInfos() {
			ids = append(ids, ti.GetTaskId().GetValue())
		}
	}
	return ids
}

func describeAgentEvent(ev *protocol.AgentEvent) string {
	switch ev.GetType() {
	case protocol.AgentEvent_RUN_TASK:
		return "RUN_TASK " + ev.GetRunTask().GetTask().GetTaskId().GetValue()
	case protocol.AgentEvent_KILL_TASK:
		return "KILL_TASK " + ev.GetKillTask().GetTaskId().GetValue()
	case protocol.AgentEvent_ACKNOWLEDGE:
		a := ev.GetAcknowledge()
		return fmt.Sprintf("ACKNOWLEDGE %s u=%x", a.GetTaskId().GetValue(), a.GetUuid()[:min(4, len(a.GetUuid()))])
	case protocol.AgentEvent_SUBSCRIBED:
		return "SUBSCRIBED " + ev.GetSubscribed().GetAgentId().GetValue()
	}
	return ev.GetType().String()
}

// scalarSummary is "cpus:2;mem:1024" for the scalars among rs.
func scalarSummary(rs []*mesos.Resource) string {
	var parts []string
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			parts = append(parts, fmt.Sprintf("%s:%g", r.GetName(), r.GetScalar().GetValue()))
		}
	}
	return strings.Join(parts, ";")
}
