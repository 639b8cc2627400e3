package master

import (
	"net/http"
	"slices"
	"strings"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
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
	if call.GetType() == scheduler.Call_RECONCILE_OPERATIONS && !req.AcceptOK {
		apihttp.WriteError(w, apihttp.NotAcceptable()) // as Mesos, which could answer it with a body
		return
	}
	var callErr error
	var committed <-chan error
	if err := m.exec(r.Context(), func() { committed, callErr = m.schedulerCall(call, streamID, m.clock.Now()) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if callErr == nil && committed != nil {
		select {
		case callErr = <-committed:
		case <-r.Context().Done():
			return
		}
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
	streamID := uuid.NewString()
	var subErr error
	if err := m.exec(r.Context(), func() { subErr = m.subscribe(call, conn, streamID, m.clock.Now()) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if subErr != nil {
		apihttp.WriteError(w, subErr)
		return
	}
	stream, err := apihttp.StartStream(w, req.Accept, map[string]string{"Mesos-Stream-Id": streamID})
	if err == nil && !conn.pump(r.Context(), stream, m.cfg.HeartbeatInterval, heartbeatEvent) {
		return // the master closed it
	}
	conn.close("framework went away")
	m.post(func() { m.frameworkConnGone(conn, m.clock.Now()) })
}

// validateSchedulerCall checks what can be checked without state: a known
// type and its payload present.
func validateSchedulerCall(call *scheduler.Call) error {
	t := call.GetType()
	if call.Type == nil {
		return apihttp.Errorf(http.StatusBadRequest, "Expecting 'type' to be present")
	}
	if t == scheduler.Call_UNKNOWN {
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
// checks: unknown framework 400, not subscribed 403, wrong stream 400. A
// call whose answer waits for a registry write returns a channel that
// delivers the outcome.
func (m *Master) schedulerCall(call *scheduler.Call, streamID string, now time.Time) (<-chan error, error) {
	if !m.isLeading() {
		return nil, errNotLeading
	}
	fw := m.frameworks[call.GetFrameworkId().GetValue()]
	if fw == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Framework cannot be found")
	}
	if !fw.connected {
		return nil, apihttp.Errorf(http.StatusForbidden, "Framework is not subscribed")
	}
	if streamID == "" {
		return nil, apihttp.Errorf(http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	}
	if streamID != fw.streamID {
		return nil, apihttp.Errorf(http.StatusBadRequest, "The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", streamID, fw.id)
	}
	m.metrics.frameworkCall(call.GetType())
	if call.GetType() == scheduler.Call_UPDATE_FRAMEWORK {
		return m.updateFramework(fw, call)
	}
	return nil, m.dispatch(fw, call, now)
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
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		a := call.GetAcceptInverseOffers()
		m.answerInverseOffers(fw, a.GetInverseOfferIds(), a.GetFilters(), true, now)
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		d := call.GetDeclineInverseOffers()
		m.answerInverseOffers(fw, d.GetInverseOfferIds(), d.GetFilters(), false, now)
	case scheduler.Call_RECONCILE_OPERATIONS:
		m.reconcileOperations(fw, call.GetReconcileOperations())
	case scheduler.Call_REQUEST, scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		// Accepted and, as with Mesos' default allocator for REQUEST,
		// without effect: operation statuses carry no uuid to acknowledge.
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

// updateFramework applies UPDATE_FRAMEWORK once the registry has the new
// FrameworkInfo: principal, user and checkpoint may not change.
func (m *Master) updateFramework(fw *framework, call *scheduler.Call) (<-chan error, error) {
	u := call.GetUpdateFramework()
	info := u.GetFrameworkInfo()
	if info.GetId().GetValue() != fw.id {
		return nil, apihttp.Errorf(http.StatusBadRequest, "'update_framework.framework_info.id' must be the framework's ID %s", fw.id)
	}
	if err := validateFrameworkInfo(info); err != nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Invalid FrameworkInfo: %v", err)
	}
	switch {
	case info.GetPrincipal() != fw.info.GetPrincipal():
		return nil, apihttp.Errorf(http.StatusBadRequest, "Updating 'FrameworkInfo.principal' is unsupported")
	case info.GetUser() != fw.info.GetUser():
		return nil, apihttp.Errorf(http.StatusBadRequest, "Updating 'FrameworkInfo.user' is unsupported")
	case info.GetCheckpoint() != fw.info.GetCheckpoint():
		return nil, apihttp.Errorf(http.StatusBadRequest, "Updating 'FrameworkInfo.checkpoint' is unsupported")
	}
	if err := validateSuppressedRoles(rolesOf(info), u.GetSuppressedRoles()); err != nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "%v", err)
	}
	info = proto.Clone(info).(*mesos.FrameworkInfo)
	suppressed := slices.Clone(u.GetSuppressedRoles())
	committed := make(chan error, 1)
	m.persistFor("framework/"+fw.id, []*registry.Operation{registry.UpdateFramework(info)}, func(err error) {
		if err == nil && m.frameworks[fw.id] == fw {
			m.updateFrameworkInfo(fw, info, suppressed)
			m.frameworkUpdated(fw)
			m.requestAllocation()
			m.changed()
		}
		if err != nil {
			err = apihttp.Errorf(http.StatusServiceUnavailable, "Failed to persist the framework: %v", err)
		}
		committed <- err
	})
	return committed, nil
}
