package master

import (
	"net/http"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
)

// serveScheduler is POST /api/v1/scheduler: it runs the request ladder of
// reference §2, then hands the call to the loop. SUBSCRIBE holds the
// connection open as the framework's event stream.
func (m *Master) serveScheduler(w http.ResponseWriter, r *http.Request) {
	call := &scheduler.Call{}
	req, err := apihttp.Decode(r, call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	if err := validateSchedulerCall(call); err != nil {
		apihttp.WriteError(w, err)
		return
	}
	streamID := r.Header.Get("Mesos-Stream-Id")
	if call.GetType() == scheduler.Call_SUBSCRIBE {
		if streamID != "" {
			apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest,
				"Expecting 'Mesos-Stream-Id' header to be absent for SUBSCRIBE"))
			return
		}
		if !req.AcceptOK {
			apihttp.WriteError(w, apihttp.NotAcceptable())
			return
		}
		m.serveSubscribe(w, r, req, call)
		return
	}
	var callErr error
	if err := m.exec(r.Context(), func() { callErr = m.schedulerCall(call, streamID, time.Now()) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if callErr != nil {
		apihttp.WriteError(w, callErr)
		return
	}
	if call.GetType() == scheduler.Call_UPDATE_FRAMEWORK {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, req *apihttp.Request, call *scheduler.Call) {
	conn := newOutboxConn[*scheduler.Event](&m.toFlush)
	var res subscribeResult
	var subErr error
	if err := m.exec(r.Context(), func() { res, subErr = m.subscribe(call, conn, time.Now()) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if subErr != nil {
		apihttp.WriteError(w, subErr)
		return
	}
	stream, err := apihttp.StartStream(w, req.Accept, map[string]string{"Mesos-Stream-Id": res.streamID})
	if err != nil {
		m.post(func() { m.frameworkDisconnected(res.frameworkID, conn, time.Now()) })
		return
	}
	if conn.pump(r.Context(), stream, m.cfg.HeartbeatInterval, heartbeatEvent) {
		m.post(func() { m.frameworkDisconnected(res.frameworkID, conn, time.Now()) })
	}
}

// validateSchedulerCall checks what can be checked without state: a known
// type and its payload present.
func validateSchedulerCall(call *scheduler.Call) error {
	t := call.GetType()
	if call.Type == nil || t == scheduler.Call_UNKNOWN {
		return apihttp.Errorf(http.StatusNotImplemented, "Received an unknown call type")
	}
	if t != scheduler.Call_SUBSCRIBE && call.FrameworkId == nil {
		return apihttp.Errorf(http.StatusBadRequest, "Expecting 'framework_id' to be present")
	}
	if !schedulerPayloadPresent(call) {
		name := strings.ToLower(t.String())
		return apihttp.Errorf(http.StatusBadRequest, "Expecting '%s' to be present", name)
	}
	return nil
}

func schedulerPayloadPresent(call *scheduler.Call) bool {
	switch call.GetType() {
	case scheduler.Call_SUBSCRIBE:
		return call.Subscribe != nil
	case scheduler.Call_ACCEPT:
		return call.Accept != nil
	case scheduler.Call_DECLINE:
		return call.Decline != nil
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		return call.AcceptInverseOffers != nil
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		return call.DeclineInverseOffers != nil
	case scheduler.Call_KILL:
		return call.Kill != nil
	case scheduler.Call_SHUTDOWN:
		return call.Shutdown != nil
	case scheduler.Call_ACKNOWLEDGE:
		return call.Acknowledge != nil
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		return call.AcknowledgeOperationStatus != nil
	case scheduler.Call_RECONCILE:
		return call.Reconcile != nil
	case scheduler.Call_RECONCILE_OPERATIONS:
		return call.ReconcileOperations != nil
	case scheduler.Call_MESSAGE:
		return call.Message != nil
	case scheduler.Call_REQUEST:
		return call.Request != nil
	case scheduler.Call_UPDATE_FRAMEWORK:
		return call.UpdateFramework != nil
	}
	return true // TEARDOWN, REVIVE, SUPPRESS: payload optional
}

// schedulerCall runs a non-SUBSCRIBE call on the loop after the stream
// checks: unknown framework 400, not subscribed 403, wrong stream 400.
func (m *Master) schedulerCall(call *scheduler.Call, streamID string, now time.Time) error {
	fw := m.frameworks[call.GetFrameworkId().GetValue()]
	if fw == nil {
		return apihttp.Errorf(http.StatusBadRequest, "Framework cannot be found")
	}
	if !fw.connected {
		return apihttp.Errorf(http.StatusForbidden, "Framework is not subscribed")
	}
	if streamID == "" {
		return apihttp.Errorf(http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	}
	if streamID != fw.streamID {
		return apihttp.Errorf(http.StatusBadRequest, "The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", streamID, fw.id)
	}
	m.metrics.frameworkCall(call.GetType())
	return m.dispatch(fw, call, now)
}

func (m *Master) dispatch(fw *framework, call *scheduler.Call, now time.Time) error {
	switch call.GetType() {
	case scheduler.Call_TEARDOWN:
		m.removeFramework(fw, now)
	case scheduler.Call_ACCEPT:
		m.accept(fw, call.GetAccept(), now)
	case scheduler.Call_DECLINE:
		m.decline(fw, call.GetDecline(), now)
	case scheduler.Call_REVIVE:
		m.revive(fw, call.GetRevive().GetRoles())
	case scheduler.Call_SUPPRESS:
		m.suppress(fw, call.GetSuppress().GetRoles())
	case scheduler.Call_KILL:
		m.kill(fw, call.GetKill(), now)
	case scheduler.Call_SHUTDOWN:
		m.shutdownExecutor(fw, call.GetShutdown())
	case scheduler.Call_ACKNOWLEDGE:
		return m.validateAndAcknowledge(fw, call.GetAcknowledge())
	case scheduler.Call_RECONCILE:
		m.reconcile(fw, call.GetReconcile(), now)
	case scheduler.Call_MESSAGE:
		m.frameworkMessage(fw, call.GetMessage())
	case scheduler.Call_UPDATE_FRAMEWORK:
		return m.updateFramework(fw, call)
	case scheduler.Call_REQUEST, scheduler.Call_ACCEPT_INVERSE_OFFERS, scheduler.Call_DECLINE_INVERSE_OFFERS,
		scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS, scheduler.Call_RECONCILE_OPERATIONS:
		// Accepted and, as with Mesos' default allocator for REQUEST,
		// without effect: Agora has no inverse offers or operation
		// feedback yet.
	}
	return nil
}

func (m *Master) validateAndAcknowledge(fw *framework, ack *scheduler.Call_Acknowledge) error {
	if len(ack.GetUuid()) != 16 {
		return apihttp.Errorf(http.StatusBadRequest, "'acknowledge.uuid' must be 16 bytes, got %d", len(ack.GetUuid()))
	}
	m.acknowledge(fw, ack)
	return nil
}

// updateFramework applies UPDATE_FRAMEWORK: principal, user and checkpoint
// may not change.
func (m *Master) updateFramework(fw *framework, call *scheduler.Call) error {
	u := call.GetUpdateFramework()
	info := u.GetFrameworkInfo()
	if info.GetId().GetValue() != fw.id {
		return apihttp.Errorf(http.StatusBadRequest, "'update_framework.framework_info.id' must be the framework's ID %s", fw.id)
	}
	if err := validateFrameworkInfo(info); err != nil {
		return apihttp.Errorf(http.StatusBadRequest, "Invalid FrameworkInfo: %v", err)
	}
	switch {
	case info.GetPrincipal() != fw.info.GetPrincipal():
		return apihttp.Errorf(http.StatusBadRequest, "Updating 'FrameworkInfo.principal' is unsupported")
	case info.GetUser() != fw.info.GetUser():
		return apihttp.Errorf(http.StatusBadRequest, "Updating 'FrameworkInfo.user' is unsupported")
	case info.GetCheckpoint() != fw.info.GetCheckpoint():
		return apihttp.Errorf(http.StatusBadRequest, "Updating 'FrameworkInfo.checkpoint' is unsupported")
	}
	if err := validateSuppressedRoles(rolesOf(info), u.GetSuppressedRoles()); err != nil {
		return apihttp.Errorf(http.StatusBadRequest, "%v", err)
	}
	m.updateFrameworkInfo(fw, info, u.GetSuppressedRoles())
	m.requestAllocation()
	m.changed()
	return nil
}
