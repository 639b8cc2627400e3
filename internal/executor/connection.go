package executor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// subscribe starts a new connection: a SUBSCRIBE carrying what the agent may
// have missed, and a reader for its event stream.
func (e *executor) subscribe() {
	e.conn++
	e.subscribed = false
	conn, call := e.conn, e.subscribeCall()
	e.pending.markDelivered(conn)
	e.helpers.Go(func() { e.readStream(conn, call) })
}

func (e *executor) subscribeCall() *executorv1.Call {
	call := e.agent.newCall(executorv1.Call_SUBSCRIBE)
	call.Subscribe = &executorv1.Call_Subscribe{UnacknowledgedUpdates: e.pending.updates()}
	for _, t := range e.tasks {
		if !t.acknowledged {
			call.Subscribe.UnacknowledgedTasks = append(call.Subscribe.UnacknowledgedTasks, t.info)
		}
	}
	return call
}

// readStream runs one connection: it subscribes and passes the events, then
// how the stream ended, to the loop.
func (e *executor) readStream(conn int, call *executorv1.Call) {
	stream, err := e.agent.subscribe(e.ctx, call)
	if err != nil {
		e.toLoop(streamMsg{conn: conn, err: err})
		return
	}
	defer stream.close()
	for {
		ev, err := stream.next()
		if !e.toLoop(streamMsg{conn: conn, event: ev, err: err}) || err != nil {
			return
		}
	}
}

func (e *executor) toLoop(m streamMsg) bool {
	select {
	case e.streamCh <- m:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// sendCalls posts the queued calls in order, one at a time, so the agent
// sees the updates in the order they were made.
func (e *executor) sendCalls() {
	var batch []*executorv1.Call
	for {
		select {
		case <-e.calls.Wake():
		case <-e.calls.Closed():
			return
		}
		var closed bool
		batch, closed = e.calls.Take(batch)
		for _, call := range batch {
			e.postUntilTaken(call)
		}
		if closed {
			return
		}
	}
}

// Bounds of the pause between attempts of a failed call.
const (
	callRetryMin = 50 * time.Millisecond
	callRetryMax = time.Second
)

// postUntilTaken posts a call until the agent takes it, refuses it (4xx),
// or the executor ends. A call may fail while the event stream stays up
// (the connection it went on broke); the update it carries would
// otherwise wait for a re-subscription that a healthy stream never brings,
// and a task's end would go unreported. The agent ignores an update it
// has seen; one it refuses is replayed on re-subscription.
func (e *executor) postUntilTaken(call *executorv1.Call) {
	pause := callRetryMin
	for {
		err := e.agent.post(e.ctx, call)
		var refused *statusError
		switch {
		case err == nil && call.GetType() == executorv1.Call_UPDATE:
			select {
			case e.takenCh <- call.GetUpdate().GetStatus().GetUuid():
			case <-e.ctx.Done():
			}
			return
		case err == nil || e.ctx.Err() != nil:
			return
		case errors.As(err, &refused) && refused.code/100 == 4:
			e.log.Warn("call refused; updates are replayed on re-subscription", "err", err)
			return
		}
		e.log.Warn("call failed; trying again", "err", err, "pause", pause)
		select {
		case <-time.After(pause):
		case <-e.ctx.Done():
			return
		}
		pause = min(2*pause, callRetryMax)
	}
}

func (e *executor) onSubscribed(s *executorv1.Event_Subscribed) {
	e.subscribed, e.registered = true, true
	e.backoff = 0
	e.giveUp.stop()
	e.framework = s.GetFrameworkInfo()
	e.containerID = s.GetContainerId()
	if id := s.GetAgentInfo().GetId(); id.GetValue() != "" {
		e.template.agentID = id
	}
	e.log.Info("subscribed to agent", "connection", e.conn, "pending_updates", len(e.pending.list))
	for _, u := range e.pending.list {
		if u.deliveredOn == e.conn {
			u.taken = true // SUBSCRIBE carried it
		}
	}
	for _, u := range e.pending.undelivered(e.conn) {
		e.post(u)
	}
	e.armAckWait()
}

// onTaken records that the agent answered the UPDATE call of an update.
func (e *executor) onTaken(uuid []byte) {
	if u := e.pending.find(uuid); u != nil {
		u.taken = true
		e.armAckWait()
	}
}

// armAckWait starts the wait for the terminal updates' acks once every
// task has ended and the agent has taken each terminal update. Until then
// the bound set by sendTerminal holds: a busy agent may take long to
// answer a call, and its slowness must not turn a finished task into a
// failed one.
func (e *executor) armAckWait() {
	if len(e.tasks) == 0 || e.liveTasks() > 0 {
		return
	}
	for _, t := range e.tasks {
		if t.terminal == nil || (!t.terminalAcked && !t.terminal.taken) {
			return
		}
	}
	e.ackWait.shorten(e.terminalAckWait())
}

// onDisconnected handles the end of the current connection, or the failure
// to open it.
func (e *executor) onDisconnected(err error) {
	wasSubscribed := e.subscribed
	e.subscribed = false
	e.log.Warn("connection to agent ended", "err", err, "was_subscribed", wasSubscribed)
	if e.registered && !e.cfg.Checkpoint {
		e.leave(fmt.Errorf("%w: %w (not checkpointing, so not reconnecting)", ErrAgentLost, err))
		return
	}
	if e.registered && !e.giveUp.active() {
		e.giveUp.set(e.cfg.RecoveryTimeout)
		e.giveUpErr = fmt.Errorf("%w: not reconnected within the recovery timeout %v", ErrAgentLost, e.cfg.RecoveryTimeout)
	}
	e.backoff = nextBackoff(e.backoff, e.cfg.SubscriptionBackoffMax)
	e.retry.set(jitter(e.backoff))
}

func nextBackoff(prev, limit time.Duration) time.Duration {
	if prev == 0 {
		return min(initialBackoff, limit)
	}
	return min(2*prev, limit)
}

// jitter spreads d over [d/2, d] so that executors of a restarted agent do
// not all come back at the same instant.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(half+1)
}

// queue makes a status update pending and sends it if connected; otherwise
// the next SUBSCRIBE carries it.
func (e *executor) queue(status *mesos.TaskStatus) *pendingUpdate {
	u := e.pending.add(status)
	if e.subscribed {
		e.post(u)
	}
	return u
}

func (e *executor) post(u *pendingUpdate) {
	u.deliveredOn = e.conn
	call := e.agent.newCall(executorv1.Call_UPDATE)
	call.Update = u.update
	e.calls.Put(call)
}

func (e *executor) onAcknowledged(ack *executorv1.Event_Acknowledged) {
	if !e.pending.ack(ack.GetUuid()) {
		e.log.Debug("acknowledgement for no pending update", "task_id", ack.GetTaskId().GetValue())
		return
	}
	t := e.findTask(ack.GetTaskId().GetValue())
	if t == nil {
		return
	}
	t.acknowledged = true
	if t.terminal != nil && string(ack.GetUuid()) == string(t.terminal.uuid()) {
		t.terminalAcked = true
	}
}
