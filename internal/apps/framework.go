package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/client/scheduler"
	"github.com/agoraproject/agora/internal/apps/backoff"
	"github.com/agoraproject/agora/internal/apps/events"
	"github.com/agoraproject/agora/internal/apps/health"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// Framework is the Marathon-compatible apps framework. One goroutine (the
// loop) owns all state; HTTP handlers, scheduler events and probe results
// reach it as closures through the inbox.
type Framework struct {
	cfg    Config
	log    *slog.Logger
	bus    *events.Bus
	prober *health.Prober
	rng    *rand.Rand

	inbox   chan func()
	running atomic.Bool
	elected atomic.Bool
	sched   atomic.Pointer[scheduler.Client]
	ctx     atomic.Pointer[context.Context]
	// listenAddr is the API listener's address once Run serves it.
	listenAddr atomic.Pointer[string]
	calls      chan []call
	handler    http.Handler

	metrics metrics
	// state is owned by the loop goroutine.
	state
}

// state is the loop-owned state.
type state struct {
	frameworkID string
	apps        map[string]*app
	groups      map[string]*group
	instances   map[string]*instance
	byApp       map[string]map[string]*instance
	deployments map[string]*deployment
	delays      map[backoffKey]backoff.Delay
	stats       map[string]*offerStats
	lastFailure map[string]*marathon.TaskFailure
	// dirty instances are written at the end of the turn (nil value:
	// deleted).
	dirty map[string]*instance
	// pending calls go to the master after the turn's writes.
	pending     []call
	lastVersion time.Time

	subscribed     bool
	suppressed     bool
	wantOffers     bool
	lastRevive     time.Time
	nextReconcile  time.Time
	nextScaleCheck time.Time
	master         string
}

// call is one request to the master; failed runs on the loop if it fails.
type call struct {
	name   string
	do     func(ctx context.Context, c *scheduler.Client) error
	failed func(err error)
}

// New validates cfg and loads the stored state. Nothing runs until Run.
func New(cfg Config) (*Framework, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	f := &Framework{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "apps"),
		bus:    events.NewBus(cfg.EventBufferSize, cfg.Logger),
		prober: health.NewProber(),
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		inbox:  make(chan func(), 4096),
		calls:  make(chan []call, 1024),
	}
	f.state = state{
		apps: map[string]*app{}, groups: map[string]*group{}, instances: map[string]*instance{},
		byApp: map[string]map[string]*instance{}, deployments: map[string]*deployment{},
		delays: map[backoffKey]backoff.Delay{}, stats: map[string]*offerStats{},
		lastFailure: map[string]*marathon.TaskFailure{}, dirty: map[string]*instance{},
	}
	if err := f.load(context.Background()); err != nil {
		return nil, err
	}
	f.handler = f.routes()
	return f, nil
}

// Handler serves the Marathon API: /v2/*, /ping and /metrics. Requests
// wait for Run to start the loop.
func (f *Framework) Handler() http.Handler { return f.handler }

// Run subscribes to the master, reconciles, runs deployments, checks
// health and serves HTTPAddr (when set) until ctx ends.
func (f *Framework) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("apps: Run called twice")
	}
	defer f.running.Store(false)
	client, err := scheduler.New(scheduler.Config{
		Masters: f.cfg.Masters, Framework: f.frameworkInfo(), Logger: f.cfg.Logger.With("component", "apps-scheduler"),
		SuppressedRoles: []string{f.cfg.Role},
	})
	if err != nil {
		return fmt.Errorf("apps: %w", err)
	}
	f.sched.Store(client)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.ctx.Store(&ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() { defer wg.Done(); f.loop(ctx) }()
	go func() { defer wg.Done(); f.callLoop(ctx) }()
	go func() {
		defer wg.Done()
		errs <- client.Run(ctx, scheduler.HandlerFunc(f.onEvent))
		cancel()
	}()
	if f.cfg.HTTPAddr != "" {
		if err := f.serve(ctx, &wg, errs); err != nil {
			cancel()
			wg.Wait()
			return err
		}
	}
	f.elected.Store(true)
	defer f.elected.Store(false)
	<-ctx.Done()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("apps: %w", err)
		}
	}
	return nil
}

func (f *Framework) serve(ctx context.Context, wg *sync.WaitGroup, errs chan<- error) error {
	ln, err := net.Listen("tcp", f.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("apps: listen on %s: %w", f.cfg.HTTPAddr, err)
	}
	addr := ln.Addr().String()
	f.listenAddr.Store(&addr)
	srv := &http.Server{Handler: f.handler, ReadHeaderTimeout: 10 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	wg.Add(1)
	go func() { defer wg.Done(); errs <- srv.Serve(ln) }()
	return nil
}

func (f *Framework) frameworkInfo() *mesos.FrameworkInfo {
	caps := []mesos.FrameworkInfo_Capability_Type{
		mesos.FrameworkInfo_Capability_PARTITION_AWARE,
		mesos.FrameworkInfo_Capability_TASK_KILLING_STATE,
	}
	info := &mesos.FrameworkInfo{
		User:            &f.cfg.User,
		Name:            &f.cfg.FrameworkName,
		FailoverTimeout: ptr(f.cfg.FailoverTimeout.Seconds()),
		Checkpoint:      ptr(true),
		Role:            &f.cfg.Role,
	}
	for _, c := range caps {
		info.Capabilities = append(info.Capabilities, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
	}
	if f.cfg.Hostname != "" {
		info.Hostname = &f.cfg.Hostname
	}
	if f.frameworkID != "" {
		info.Id = &mesos.FrameworkID{Value: ptr(f.frameworkID)}
	}
	return info
}

func ptr[T any](v T) *T { return &v }

// loop runs the state machine: inbox closures and ticks, each followed by
// the end-of-turn work (deployments, offer interest, writes, calls).
func (f *Framework) loop(ctx context.Context) {
	ticker := time.NewTicker(f.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-f.inbox:
			fn()
			f.drainInbox()
		case <-ticker.C:
			f.tick(f.now())
		}
		f.endTurn(ctx)
	}
}

// drainInbox runs what else is queued (bounded), so a burst of events is
// one turn with one store write.
func (f *Framework) drainInbox() {
	for range 256 {
		select {
		case fn := <-f.inbox:
			fn()
		default:
			return
		}
	}
}

func (f *Framework) now() time.Time { return f.cfg.Clock.Now() }

// errNotRunning answers requests while Run is not running.
var errNotRunning = errorf(http.StatusServiceUnavailable, "the apps framework is not running (no leader)")

// do runs fn on the loop and waits for it.
func (f *Framework) do(ctx context.Context, fn func() error) error {
	if !f.running.Load() {
		return errNotRunning
	}
	done := make(chan error, 1)
	select {
	case f.inbox <- func() { done <- fn() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post queues fn on the loop without waiting (dropped once Run ends).
func (f *Framework) post(fn func()) {
	select {
	case f.inbox <- fn:
	case <-f.runCtx().Done():
	}
}

// endTurn advances deployments, adjusts offer interest, persists dirty
// instances, then hands the turn's calls to the caller goroutine.
func (f *Framework) endTurn(ctx context.Context) {
	now := f.now()
	f.advanceDeployments(now)
	f.updateOfferInterest(now)
	if err := f.flush(ctx); err != nil {
		f.log.Error("persisting instances failed; calls held back", "error", err)
		return
	}
	if len(f.pending) > 0 {
		batch := f.pending
		f.pending = nil
		select {
		case f.calls <- batch:
		case <-ctx.Done():
		}
	}
}

// callLoop makes the master calls in order.
func (f *Framework) callLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case batch := <-f.calls:
			client := f.sched.Load()
			for _, c := range batch {
				if err := c.do(ctx, client); err != nil && ctx.Err() == nil {
					f.log.Warn("call to master failed", "call", c.name, "error", err)
					if c.failed != nil {
						failed := c.failed
						f.post(func() { failed(err) })
					}
				}
			}
		}
	}
}

// enqueue adds a call for the end of the turn.
func (f *Framework) enqueue(c call) { f.pending = append(f.pending, c) }

// nextVersion returns a version timestamp later than every earlier one.
func (f *Framework) nextVersion(now time.Time) string {
	now = now.UTC().Truncate(time.Millisecond)
	if !now.After(f.lastVersion) {
		now = f.lastVersion.Add(time.Millisecond)
	}
	f.lastVersion = now
	return spec.FormatTime(now)
}
