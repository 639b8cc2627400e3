package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
)

// initialBackoff is the first delay before re-subscribing; it doubles up to
// Config.SubscriptionBackoffMax.
const initialBackoff = 100 * time.Millisecond

// Run runs the command executor: it subscribes to the agent, runs the one
// task the agent launches, reports its states, and returns nil once the
// agent has acknowledged the task's terminal update (or at once on a SHUTDOWN
// before any task). Cancelling ctx shuts the executor down like SHUTDOWN.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	e := newExecutor(cfg.withDefaults())
	defer e.close()
	return e.loop(ctx)
}

// executor is the state of one Run. Everything but the channels is owned by
// the loop goroutine; the stream readers, the call sender and the process
// waiter talk to it through channels only.
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
	exitCh   chan processExit

	conn       int  // current connection (subscription attempt) number
	subscribed bool // SUBSCRIBED arrived on conn
	registered bool // SUBSCRIBED arrived at least once
	backoff    time.Duration
	retry      alarm // next subscription attempt
	giveUp     alarm // stop waiting for the agent
	giveUpErr  error

	framework   *mesos.FrameworkInfo
	containerID *mesos.ContainerID

	task          *task
	pending       pendingUpdates
	escalate      alarm // SIGKILL the task
	maxCompletion alarm // the task's max_completion_time
	ackWait       alarm // stop waiting for the terminal update's ack
	shutdown      bool  // leave once the task is over
	abort         error // leave with this error once the task is over
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
		exitCh:   make(chan processExit),
	}
	if cfg.AgentID != "" {
		e.template.agentID = &mesos.AgentID{Value: proto.String(cfg.AgentID)}
	}
	e.helpers.Go(e.sendCalls)
	return e
}

// close stops the helpers and waits for them.
func (e *executor) close() {
	for _, a := range []*alarm{&e.retry, &e.giveUp, &e.escalate, &e.maxCompletion, &e.ackWait} {
		a.stop()
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
		case <-cancelled:
			cancelled = nil
			e.log.Info("executor stopped: shutting down")
			e.beginShutdown()
		case m := <-e.streamCh:
			e.onStream(m)
		case x := <-e.exitCh:
			e.onProcessExit(x)
		case <-e.retry.C():
			e.retry.fired()
			e.subscribe()
		case <-e.giveUp.C():
			e.giveUp.fired()
			e.leave(e.giveUpErr)
		case <-e.escalate.C():
			e.escalate.fired()
			e.onGraceExpired()
		case <-e.maxCompletion.C():
			e.maxCompletion.fired()
			e.onMaxCompletionTime()
		case <-e.ackWait.C():
			e.ackWait.fired()
			e.leave(ErrUnacknowledged)
		}
	}
}

// over reports whether Run is done, and with what.
func (e *executor) over() (bool, error) {
	t := e.task
	if t != nil && t.terminalAcked {
		return true, nil
	}
	taskOver := t == nil || t.exited
	switch {
	case e.abort != nil && taskOver:
		return true, e.abort
	case e.shutdown && t == nil:
		return true, nil
	}
	return false, nil
}

// leave makes Run end with err once the task, which it kills, is over.
func (e *executor) leave(err error) {
	if e.abort == nil {
		e.abort = err
		e.log.Error("executor giving up", "err", err)
	}
	e.killTask(e.shutdownKillGrace(), endKilled)
}

// beginShutdown kills the task within the shutdown grace period and leaves
// once its terminal update is acknowledged.
func (e *executor) beginShutdown() {
	if e.shutdown {
		return
	}
	e.shutdown = true
	e.killTask(e.shutdownKillGrace(), endKilled)
	if e.ackWait.active() {
		e.ackWait.shorten(e.cfg.ShutdownGracePeriod)
	}
}

// shutdownKillGrace is the SIGTERM→SIGKILL grace when shutting down: the
// task's own grace, but short enough to leave room within the agent's
// shutdown grace period to report the task's end.
func (e *executor) shutdownKillGrace() time.Duration {
	g := e.cfg.ShutdownGracePeriod
	g -= min(time.Second, g/2)
	if e.task != nil {
		g = min(g, killGrace(e.task.info.GetKillPolicy()))
	}
	return g
}

// terminalAckWait bounds the wait for the terminal update's ack. With
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
