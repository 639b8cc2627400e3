package master

import (
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
)

// serveAgent is POST /agora/v1/agent, the agent protocol
// (docs/agent-protocol.md): SUBSCRIBE opens the agent's event stream, every
// other call is answered 202 once the loop has taken it.
func (m *Master) serveAgent(w http.ResponseWriter, r *http.Request) {
	call := &protocol.AgentCall{}
	req, err := apihttp.Decode(r, call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	if call.GetType() == protocol.AgentCall_SUBSCRIBE {
		if call.Subscribe == nil {
			apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Expecting 'subscribe' to be present"))
			return
		}
		if !req.AcceptOK {
			apihttp.WriteError(w, apihttp.NotAcceptable())
			return
		}
		m.serveAgentSubscribe(w, r, req, call)
		return
	}
	streamID := r.Header.Get("Mesos-Stream-Id")
	var callErr error
	if err := m.exec(r.Context(), func() { callErr = m.agentCall(call, streamID, m.clock.Now()) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if callErr != nil {
		apihttp.WriteError(w, callErr)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (m *Master) serveAgentSubscribe(w http.ResponseWriter, r *http.Request, req *apihttp.Request, call *protocol.AgentCall) {
	remoteIP, _, _ := net.SplitHostPort(r.RemoteAddr)
	conn := newOutboxConn[*protocol.AgentEvent](&m.toFlush)
	streamID := uuid.NewString()
	var subErr error
	if err := m.exec(r.Context(), func() {
		subErr = m.agentSubscribe(call.GetSubscribe(), remoteIP, conn, streamID, m.clock.Now())
	}); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if subErr != nil {
		apihttp.WriteError(w, subErr)
		return
	}
	stream, err := apihttp.StartStream(w, req.Accept, map[string]string{"Mesos-Stream-Id": streamID})
	if err == nil {
		var seq atomic.Uint64
		ping := func() *protocol.AgentEvent {
			return &protocol.AgentEvent{
				Type: protocol.AgentEvent_PING.Enum(),
				Ping: &protocol.AgentEvent_Ping{Sequence: ptr(seq.Add(1))},
			}
		}
		if !conn.pump(r.Context(), stream, m.cfg.AgentPingTimeout, ping) {
			return // the master closed it
		}
	}
	conn.close("agent went away")
	m.post(func() { m.agentConnGone(conn, m.clock.Now()) })
}

// agentCall runs a non-SUBSCRIBE agent call on the loop.
func (m *Master) agentCall(call *protocol.AgentCall, streamID string, now time.Time) error {
	if !m.isLeading() {
		return errNotLeading
	}
	ag := m.agents[call.GetAgentId().GetValue()]
	if ag == nil {
		return apihttp.Errorf(http.StatusBadRequest, "Agent cannot be found")
	}
	if !ag.connected {
		return apihttp.Errorf(http.StatusForbidden, "Agent is not subscribed")
	}
	if streamID != ag.streamID {
		return apihttp.Errorf(http.StatusBadRequest, "Stream ID '%s' does not match the agent's current stream", streamID)
	}
	ag.lastSeen = now
	switch call.GetType() {
	case protocol.AgentCall_UPDATE:
		if call.Update == nil && len(call.GetUpdates()) == 0 {
			return apihttp.Errorf(http.StatusBadRequest, "Expecting 'update' or 'updates' to be present")
		}
		if call.Update != nil {
			m.statusUpdate(ag, call.GetUpdate(), now)
		}
		for _, u := range call.GetUpdates() {
			m.statusUpdate(ag, u, now)
		}
	case protocol.AgentCall_EXECUTOR_EXITED:
		if call.ExecutorExited == nil {
			return apihttp.Errorf(http.StatusBadRequest, "Expecting 'executor_exited' to be present")
		}
		m.executorExited(ag, call.GetExecutorExited())
	case protocol.AgentCall_MESSAGE:
		if call.Message == nil {
			return apihttp.Errorf(http.StatusBadRequest, "Expecting 'message' to be present")
		}
		m.executorMessage(ag, call.GetMessage())
	case protocol.AgentCall_PONG:
		m.agentPong(ag, now)
	default:
		return apihttp.Errorf(http.StatusNotImplemented, "Received an unknown call type")
	}
	return nil
}
