package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
)

// agentAPIPath is the master's agent protocol endpoint.
const agentAPIPath = "/agora/v1/agent"

// maxEventBytes bounds one event from the master (a RUN_TASK with a large
// TaskInfo fits easily).
const maxEventBytes = 64 << 20

// errResubscribe ends the current stream so that the agent subscribes again.
var errResubscribe = errors.New("re-subscribing")

// masterLink is the current subscription: where calls go and with which
// stream ID. drop ends the stream.
type masterLink struct {
	url      string
	streamID string
	drop     context.CancelFunc
	// header is every call's header, built once: read-only, shared by
	// the calls on this stream.
	header http.Header
}

func newMasterLink(url, streamID string, drop context.CancelFunc) *masterLink {
	return &masterLink{url: url, streamID: streamID, drop: drop, header: http.Header{
		"Content-Type":    {wire.MediaProtobuf},
		"Accept":          {wire.MediaProtobuf},
		"Mesos-Stream-Id": {streamID},
		// Calls are idempotent (updates carry uuids); this lets the
		// transport retry on a kept-alive connection the master closed.
		// Not sent.
		"Idempotency-Key": nil,
	}}
}

// stayConnected subscribes to a master and re-subscribes whenever the stream
// ends, with the registration backoff of reference §8: a random delay in
// [0, factor] before the first attempt and after a lost stream, doubling
// (capped at 1 min) while attempts fail.
func (a *Agent) stayConnected(ctx context.Context) error {
	limit := a.cfg.RegistrationBackoff
	for {
		if !sleepCtx(ctx, randomUpTo(limit)) {
			return nil
		}
		subscribed, err := a.subscribeOnce(ctx)
		if errors.Is(err, ErrShutdown) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			limit = a.cfg.RegistrationBackoff
			a.log.Warn("lost the master; re-subscribing", "err", err)
		} else {
			limit = min(2*limit, registrationBackoffMax)
			a.log.Warn("could not subscribe to a master", "err", err, "next_backoff_max", limit)
		}
	}
}

func randomUpTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}

// sleepCtx sleeps for d; it reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// subscribeOnce tries each master in turn; on the first that opens a stream
// it runs the stream until it ends. subscribed tells whether SUBSCRIBED
// arrived.
func (a *Agent) subscribeOnce(ctx context.Context) (subscribed bool, err error) {
	body, err := proto.Marshal(a.subscribeCall())
	if err != nil {
		return false, fmt.Errorf("encoding SUBSCRIBE: %w", err)
	}
	var errs []error
	for _, m := range a.cfg.Masters {
		resp, cancel, err := a.openStream(ctx, m, body)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return a.runStream(ctx, resp, cancel)
	}
	return false, errors.Join(errs...)
}

// openStream POSTs SUBSCRIBE to one master, following redirects to the
// leader (the client re-sends the body), and returns the 200 response.
func (a *Agent) openStream(ctx context.Context, master string, body []byte) (*http.Response, context.CancelFunc, error) {
	streamCtx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(streamCtx, http.MethodPost, "http://"+master+agentAPIPath, bytes.NewReader(body))
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("master %s: %w", master, err)
	}
	req.Header.Set("Content-Type", wire.MediaProtobuf)
	req.Header.Set("Accept", wire.MediaProtobuf)
	resp, err := a.streamClient.Do(req)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("subscribing to %s: %w", master, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		cancel()
		return nil, nil, fmt.Errorf("subscribing to %s: %s: %s", master, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, cancel, nil
}

// runStream reads the event stream: SUBSCRIBED first, then events until the
// stream breaks, falls silent for missedPings ping intervals, or an event
// ends it.
func (a *Agent) runStream(ctx context.Context, resp *http.Response, cancel context.CancelFunc) (bool, error) {
	defer cancel()
	defer resp.Body.Close()
	url := resp.Request.URL.String()
	r := recordio.NewReader(resp.Body, maxEventBytes)
	watchdog := time.AfterFunc(missedPings*defaultPingInterval, cancel)
	defer watchdog.Stop()

	first, err := readEvent(r)
	if err != nil {
		return false, fmt.Errorf("reading SUBSCRIBED from %s: %w", url, err)
	}
	if first.GetType() != protocol.AgentEvent_SUBSCRIBED || first.GetSubscribed() == nil {
		return false, fmt.Errorf("master %s sent %s before SUBSCRIBED", url, first.GetType())
	}
	link := newMasterLink(url, resp.Header.Get("Mesos-Stream-Id"), cancel)
	silence := missedPings * pingInterval(first.GetSubscribed())
	watchdog.Reset(silence)
	a.subscribed(first.GetSubscribed(), link)
	defer a.disconnected(link)

	for {
		ev, err := readEvent(r)
		if err != nil {
			if ctx.Err() == nil && !watchdog.Stop() {
				err = fmt.Errorf("no event for %v: %w", silence, err)
			}
			return true, fmt.Errorf("stream from %s ended: %w", url, err)
		}
		watchdog.Reset(silence)
		if err := a.handleEvent(ev); err != nil {
			return true, err
		}
	}
}

func pingInterval(s *protocol.AgentEvent_Subscribed) time.Duration {
	if secs := s.GetPingIntervalSeconds(); secs > 0 {
		return time.Duration(secs * float64(time.Second))
	}
	return defaultPingInterval
}

func readEvent(r *recordio.Reader) (*protocol.AgentEvent, error) {
	rec, err := r.ReadRecord()
	if err != nil {
		return nil, err
	}
	ev := &protocol.AgentEvent{}
	if err := proto.Unmarshal(rec, ev); err != nil {
		return nil, fmt.Errorf("decoding event: %w", err)
	}
	return ev, nil
}

// subscribeCall is SUBSCRIBE with everything the agent runs, so that a
// master (perhaps a new leader) can rebuild its view.
func (a *Agent) subscribeCall() *protocol.AgentCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	sub := &protocol.AgentCall_Subscribe{
		AgentInfo:    a.agentInfo(),
		Capabilities: agentCapabilities(),
		Version:      proto.String(versionString()),
		BootId:       proto.String(readBootID()),
		Address: &mesos.Address{
			Hostname: proto.String(a.cfg.Hostname),
			Ip:       proto.String(a.ip),
			Port:     proto.Int32(int32(a.port)),
		},
		CheckpointedResources: a.checkpointed,
	}
	for _, fw := range a.frameworks {
		sub.Frameworks = append(sub.Frameworks, fw.info)
		for _, ex := range fw.executors {
			a.appendRunning(sub, fw, ex)
		}
	}
	call := &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: sub}
	if a.agentID != "" {
		call.AgentId = &mesos.AgentID{Value: proto.String(a.agentID)}
	}
	return call
}

// appendRunning adds an executor and its live tasks to a re-subscription.
func (a *Agent) appendRunning(sub *protocol.AgentCall_Subscribe, fw *framework, ex *executor) {
	if !ex.command {
		sub.Executors = append(sub.Executors, ex.info)
	}
	add := func(t *task) {
		mt := t.toTask(fw, ex, a.agentID)
		if head := a.updates.Head(fw.id, t.info.GetTaskId().GetValue()); head != nil {
			mt.StatusUpdateState = head.GetStatus().State
			mt.StatusUpdateUuid = head.GetStatus().GetUuid()
		}
		sub.Tasks = append(sub.Tasks, mt)
	}
	for _, t := range ex.queued {
		add(t)
	}
	for _, t := range ex.launched {
		add(t)
	}
}

func agentCapabilities() []*mesos.AgentInfo_Capability {
	var out []*mesos.AgentInfo_Capability
	for _, t := range []mesos.AgentInfo_Capability_Type{
		mesos.AgentInfo_Capability_MULTI_ROLE,
		mesos.AgentInfo_Capability_HIERARCHICAL_ROLE,
		mesos.AgentInfo_Capability_RESERVATION_REFINEMENT,
	} {
		out = append(out, &mesos.AgentInfo_Capability{Type: t.Enum()})
	}
	return out
}

// subscribed records a new subscription and re-sends the head of every
// unacknowledged status-update stream.
func (a *Agent) subscribed(ev *protocol.AgentEvent_Subscribed, link *masterLink) {
	id := ev.GetAgentId().GetValue()
	a.mu.Lock()
	first := a.agentID == ""
	if !first && a.agentID != id {
		a.log.Warn("master assigned a different agent ID", "old", a.agentID, "new", id)
	}
	a.agentID = id
	a.link = link
	a.masterInfo = ev.GetMasterInfo()
	a.counters.registered = true
	info := a.agentInfo()
	a.mu.Unlock()
	a.log.Info("subscribed to master", "agent_id", id, "master", link.url, "stream_id", link.streamID)
	if first {
		if err := a.checkpointAgentInfo(info); err != nil {
			a.log.Error("checkpointing agent info", "err", err)
		}
	}
	a.updates.ResendAll(time.Now())
}

func (a *Agent) disconnected(link *masterLink) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.link == link {
		a.link = nil
		a.counters.registered = false
	}
}

// sendUpdate queues a status update for the master (the update manager's
// send).
func (a *Agent) sendUpdate(u *protocol.AgentCall_Update) {
	a.calls.Put(&protocol.AgentCall{Type: protocol.AgentCall_UPDATE.Enum(), Update: u})
}

// sendCalls posts queued calls to the master, one at a time and in order;
// status updates queued together go as one call.
func (a *Agent) sendCalls(ctx context.Context) {
	var batch []*protocol.AgentCall
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.calls.Wake():
		}
		batch, _ = a.calls.Take(batch)
		for _, call := range coalesceUpdates(batch) {
			a.post(ctx, call)
		}
		clear(batch)
	}
}

// maxUpdatesPerCall bounds the status updates one UPDATE call carries.
const maxUpdatesPerCall = 256

// coalesceUpdates merges each run of UPDATE calls into one call carrying
// them in order (AgentCall.updates): a burst of updates costs the agent and
// the master one request. A lone update stays as it is.
func coalesceUpdates(calls []*protocol.AgentCall) []*protocol.AgentCall {
	out := make([]*protocol.AgentCall, 0, len(calls))
	for _, c := range calls {
		isUpdate := c.GetType() == protocol.AgentCall_UPDATE && c.Update != nil
		if n := len(out); isUpdate && n > 0 && out[n-1].GetType() == protocol.AgentCall_UPDATE {
			prev := out[n-1]
			if prev.Update != nil { // a lone update so far: start a batch
				prev = &protocol.AgentCall{Type: protocol.AgentCall_UPDATE.Enum(), Updates: []*protocol.AgentCall_Update{prev.Update}}
				out[n-1] = prev
			}
			if len(prev.Updates) < maxUpdatesPerCall {
				prev.Updates = append(prev.Updates, c.Update)
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// post sends one call on the current stream. Without a stream the call is
// dropped: status updates are re-sent after re-subscription, and the other
// calls are best-effort, as in Mesos. A 400 or 403 means the stream is
// stale; the agent re-subscribes.
func (a *Agent) post(ctx context.Context, call *protocol.AgentCall) {
	a.mu.Lock()
	link, id := a.link, a.agentID
	a.mu.Unlock()
	if link == nil {
		return
	}
	call.AgentId = &mesos.AgentID{Value: proto.String(id)}
	body, err := proto.Marshal(call)
	if err != nil {
		a.log.Error("encoding call", "type", call.GetType(), "err", err)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, link.url, bytes.NewReader(body))
	if err != nil {
		a.log.Error("building call", "type", call.GetType(), "err", err)
		return
	}
	req.Header = link.header
	resp, err := a.callClient.Do(req)
	if err != nil {
		a.log.Debug("call failed", "type", call.GetType(), "err", err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		io.Copy(io.Discard, resp.Body) // empty; read to EOF so the connection is reused
		return
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusForbidden:
		a.log.Warn("master refused a call; re-subscribing", "type", call.GetType(),
			"status", resp.Status, "message", strings.TrimSpace(string(msg)))
		link.drop()
	default:
		a.log.Warn("master refused a call", "type", call.GetType(),
			"status", resp.Status, "message", strings.TrimSpace(string(msg)))
	}
}
