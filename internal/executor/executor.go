package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
)

// Errors Run ends with.
var (
	// ErrAgentLost: the connection to the agent was lost and not regained
	// (no checkpointing, or the recovery or registration timeout passed).
	ErrAgentLost = errors.New("executor: lost the agent")
	// ErrUnacknowledged: the agent did not acknowledge the task's terminal
	// update in time.
	ErrUnacknowledged = errors.New("executor: terminal update not acknowledged")
	// errAborted: the executor host destroyed the executor's container.
	errAborted = errors.New("executor: destroyed")
)

// initialBackoff is the first delay before re-subscribing; it doubles up to
// Config.SubscriptionBackoffMax.
const initialBackoff = 100 * time.Millisecond

// Run runs the executor: it subscribes to the agent, runs the tasks the
// agent launches (one LAUNCH as the command executor, or task groups as the
// default executor), reports their states, and returns nil once the agent
// has acknowledged the terminal update of every task (or at once on a
// SHUTDOWN before any task). Cancelling ctx shuts the executor down like
// SHUTDOWN.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	e := newExecutor(cfg.withDefaults())
	defer e.close()
	if os.Getpid() == 1 {
		e.helpers.Go(func() { reapOrphans(e.ctx, e.log) })
	}
	return e.loop(ctx)
}

// launchMode is what the executor turned out to be, decided by the first
// launch it gets.
type launchMode int

const (
	modeUnset   launchMode = iota
	modeCommand            // one task from LAUNCH
	modeDefault            // task groups from LAUNCH_GROUP
)

// executor is the state of one Run. Everything but the channels is owned by
// the loop goroutine; the stream readers, the call sender, the process
// waiters, the probes and the timers talk to it through channels only.
type executor struct {
	cfg      Config
	log      *slog.Logger
	agent    *agentClient
	template statusTemplate

	ctx      context.Context // ends the helper goroutines when Run returns
	stop     context.CancelFunc
	helpers  sync.WaitGroup
	calls    *apihttp.Outbox[*executorv1.Call]
	streamCh chan streamMsg
	takenCh  chan []byte // uuids of updates whose UPDATE call the agent answered
	exitCh   chan processExit
	timerCh  chan taskTimer
	probeCh  chan probeResult

	conn       int  // current connection (subscription attempt) number
	subscribed bool // SUBSCRIBED arrived on conn
	registered bool // SUBSCRIBED arrived at least once
	backoff    time.Duration
	retry      alarm // next subscription attempt
	giveUp     alarm // stop waiting for the agent
	giveUpErr  error

	framework   *mesos.FrameworkInfo
	containerID *mesos.ContainerID

	mode     launchMode
	tasks    []*task // in launch order
	pending  pendingUpdates
	ackWait  alarm // stop waiting for the terminal updates' acks
	shutdown bool  // leave once the tasks are over
	abort    error // leave with this error once the tasks are over
}

// streamMsg is one event of connection conn, or how that connection ended.
type streamMsg struct {
	conn  int
	event *executorv1.Event
	err   error
}

func newExecutor(cfg Config) *executor {
	ctx, stop := context.WithCancel(context.Background())
	agent := newAgentClient(cfg)
	e := &executor{
		cfg:      cfg,
		log:      cfg.Logger.With("executor_id", cfg.ExecutorID, "framework_id", cfg.FrameworkID),
		agent:    agent,
		template: statusTemplate{executorID: agent.executorID},
		ctx:      ctx,
		stop:     stop,
		calls:    apihttp.NewOutbox[*executorv1.Call](),
		streamCh: make(chan streamMsg),
		takenCh:  make(chan []byte),
		exitCh:   make(chan processExit),
		timerCh:  make(chan taskTimer),
		probeCh:  make(chan probeResult),
	}
	if cfg.AgentID != "" {
		e.template.agentID = &mesos.AgentID{Value: proto.String(cfg.AgentID)}
	}
	e.helpers.Go(e.sendCalls)
	return e
}

// close stops the helpers and waits for them.
func (e *executor) close() {
	for _, a := range []*alarm{&e.retry, &e.giveUp, &e.ackWait} {
		a.stop()
	}
	for _, t := range e.tasks {
		t.stopTimers()
		t.stopProbes()
	}
	e.calls.Close("executor done")
	e.stop()
	e.helpers.Wait()
	e.agent.close()
}

func (e *executor) loop(ctx context.Context) error {
	e.giveUp.set(RegistrationTimeout)
	e.giveUpErr = fmt.Errorf("%w: not subscribed within %v", ErrAgentLost, RegistrationTimeout)
	e.subscribe()
	cancelled := ctx.Done()
	for {
		if over, err := e.over(); over {
			return err
		}
		select {
		case <-e.cfg.Hosting.abort():
			e.log.Info("executor aborted by its host")
			return errAborted
		case <-cancelled:
			cancelled = nil
			e.log.Info("executor stopped: shutting down")
			e.beginShutdown()
		case m := <-e.streamCh:
			e.onStream(m)
		case uuid := <-e.takenCh:
			e.onTaken(uuid)
		case x := <-e.exitCh:
			e.onProcessExit(x)
		case tm := <-e.timerCh:
			e.onTimer(tm)
		case r := <-e.probeCh:
			e.onProbe(r)
		case <-e.retry.C():
			e.retry.fired()
			e.subscribe()
		case <-e.giveUp.C():
			e.giveUp.fired()
			e.leave(e.giveUpErr)
		case <-e.ackWait.C():
			e.ackWait.fired()
			e.leave(ErrUnacknowledged)
		}
	}
}

// over reports whether Run is done, and with what.
func (e *executor) over() (bool, error) {
	live, unacked := 0, 0
	for _, t := range e.tasks {
		if !t.exited {
			live++
		}
		if !t.terminalAcked {
			unacked++
		}
	}
	switch {
	case len(e.tasks) > 0 && unacked == 0:
		return true, nil
	case e.abort != nil && live == 0:
		return true, e.abort
	case e.shutdown && len(e.tasks) == 0:
		return true, nil
	}
	return false, nil
}

// liveTasks counts the tasks whose process has not ended.
func (e *executor) liveTasks() int {
	n := 0
	for _, t := range e.tasks {
		if !t.exited {
			n++
		}
	}
	return n
}

func (e *executor) findTask(id string) *task {
	for _, t := range e.tasks {
		if t.id().GetValue() == id {
			return t
		}
	}
	return nil
}

// leave makes Run end with err once the tasks, which it kills, are over.
func (e *executor) leave(err error) {
	if e.abort == nil {
		e.abort = err
		e.log.Error("executor giving up", "err", err)
	}
	e.killAll(endKilled)
}

// beginShutdown kills the tasks within the shutdown grace period and
// leaves once their terminal updates are acknowledged.
func (e *executor) beginShutdown() {
	if e.shutdown {
		return
	}
	e.shutdown = true
	e.killAll(endKilled)
	if e.ackWait.active() {
		e.ackWait.shorten(e.cfg.ShutdownGracePeriod)
	}
}

// killAll kills every live task, each within the shutdown grace.
func (e *executor) killAll(cause endCause) {
	for _, t := range e.tasks {
		e.killTask(t, e.shutdownKillGrace(t), cause)
	}
}

// shutdownKillGrace is the SIGTERM→SIGKILL grace when shutting down: the
// task's own grace, but short enough to leave room within the agent's
// shutdown grace period to report the task's end.
func (e *executor) shutdownKillGrace(t *task) time.Duration {
	g := e.cfg.ShutdownGracePeriod
	g -= min(time.Second, g/2)
	return min(g, killGrace(t.info.GetKillPolicy()))
}

// terminalAckWait bounds the wait for the terminal updates' acks. With
// checkpointing the agent may be restarting, so the wait is as long as
// recovery may take.
func (e *executor) terminalAckWait() time.Duration {
	if e.cfg.Checkpoint && !e.shutdown {
		return e.cfg.RecoveryTimeout
	}
	return e.cfg.ShutdownGracePeriod
}

func (e *executor) onStream(m streamMsg) {
	if m.conn != e.conn {
		return
	}
	if m.err != nil {
		e.onDisconnected(m.err)
		return
	}
	e.onEvent(m.event)
}

func (e *executor) onEvent(ev *executorv1.Event) {
	switch ev.GetType() {
	case executorv1.Event_SUBSCRIBED:
		e.onSubscribed(ev.GetSubscribed())
	case executorv1.Event_LAUNCH:
		e.onLaunch(ev.GetLaunch().GetTask())
	case executorv1.Event_LAUNCH_GROUP:
		e.onLaunchGroup(ev.GetLaunchGroup().GetTaskGroup())
	case executorv1.Event_KILL:
		e.onKill(ev.GetKill())
	case executorv1.Event_ACKNOWLEDGED:
		e.onAcknowledged(ev.GetAcknowledged())
	case executorv1.Event_SHUTDOWN:
		e.log.Info("agent asked to shut down")
		e.beginShutdown()
	case executorv1.Event_MESSAGE:
		e.log.Debug("ignoring framework message", "bytes", len(ev.GetMessage().GetData()))
	case executorv1.Event_ERROR:
		e.log.Error("agent reported an error", "message", ev.GetError().GetMessage())
	case executorv1.Event_HEARTBEAT:
	default:
		e.log.Warn("ignoring unknown event", "type", ev.GetType())
	}
}
