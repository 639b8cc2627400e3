package master

import (
	"net/http"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/apihttp"
)

// SUBSCRIBE on the operator API (reference §6.2): a RecordIO stream that
// starts with SUBSCRIBED{get_state, heartbeat_interval_seconds}, then
// carries the events of events.go in the order the loop made them, and a
// HEARTBEAT every heartbeat interval without other traffic (the first one
// an interval after SUBSCRIBED, unlike the scheduler stream).
//
// The subscriber joins on the loop in the same step that takes the state
// for SUBSCRIBED, so no change falls between the two. At most
// maxOperatorSubscribers streams are open; a new one closes the oldest, as
// Mesos' --max_operator_event_stream_subscribers does.

const maxOperatorSubscribers = 1000

// operatorSubscriber is one open operator event stream.
type operatorSubscriber struct {
	conn *outboxConn[*masterpb.Event]
}

func (m *Master) serveOperatorSubscribe(w http.ResponseWriter, r *http.Request, req *apihttp.Request) {
	sub := &operatorSubscriber{conn: newOutboxConn[*masterpb.Event](&m.toFlush)}
	var snap *Snapshot
	var callErr error
	err := m.exec(r.Context(), func() {
		if !m.isLeading() {
			callErr = errNotLeading
			return
		}
		snap = m.currentSnapshot(m.clock.Now())
		m.addOperatorSubscriber(sub)
	})
	switch {
	case err != nil:
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	case callErr != nil:
		apihttp.WriteError(w, callErr)
		return
	}
	stream, err := apihttp.StartStream(w, req.Accept, nil)
	if err == nil {
		err = m.sendOperatorSubscribed(stream, req.Accept, snap.finish())
	}
	if err == nil && !sub.conn.pump(r.Context(), stream, m.cfg.HeartbeatInterval, operatorHeartbeat) {
		return // the master closed it
	}
	sub.conn.close("subscriber went away")
	m.post(func() { m.removeOperatorSubscriber(sub) })
}

// sendOperatorSubscribed sends the stream's first event, the whole state, with its
// tasks from their encoding caches (operator_render.go).
func (m *Master) sendOperatorSubscribed(stream *apihttp.Stream, enc wire.Encoding, s *Snapshot) error {
	holder := &masterpb.Response_GetTasks{}
	ev := &masterpb.Event{
		Type: masterpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &masterpb.Event_Subscribed{
			GetState: &masterpb.Response_GetState{
				GetTasks: holder, GetExecutors: getExecutors(s), GetFrameworks: getFrameworks(s), GetAgents: getAgents(s),
			},
			HeartbeatIntervalSeconds: proto.Float64(m.cfg.HeartbeatInterval.Seconds()),
		},
	}
	payload, err := encodeWithTasks(enc, ev, holder, []protoreflect.Name{"subscribed", "get_state", "get_tasks"}, taskListsOf(s))
	if err != nil {
		return err
	}
	return stream.SendEncoded(payload)
}

func operatorHeartbeat() *masterpb.Event {
	return &masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()}
}

func (m *Master) addOperatorSubscriber(sub *operatorSubscriber) {
	if len(m.ops.subscribers) >= maxOperatorSubscribers {
		oldest := m.ops.subscribers[0]
		oldest.conn.close("too many operator event stream subscribers")
		m.ops.subscribers = m.ops.subscribers[1:]
		m.log.Warn("closed the oldest operator event stream: too many subscribers", "max", maxOperatorSubscribers)
	}
	m.ops.subscribers = append(m.ops.subscribers, sub)
}

func (m *Master) removeOperatorSubscriber(sub *operatorSubscriber) {
	m.ops.subscribers = slices.DeleteFunc(m.ops.subscribers, func(s *operatorSubscriber) bool { return s == sub })
}

// closeOperatorSubscribers ends every operator event stream (the master
// steps down or stops).
func (m *Master) closeOperatorSubscribers() {
	for _, sub := range m.ops.subscribers {
		sub.conn.close("master is not leading")
	}
	m.ops.subscribers = nil
}
