package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agoraproject/agora/internal/apps"

	"github.com/agoraproject/agora/api/v1/quota"

	"github.com/google/uuid"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/version"
)

// errStopped is returned to callers whose work reaches a stopped master.
var errStopped = errors.New("master is shutting down")

// Master is one Agora master. All cluster state is owned by the goroutine
// running loop; everything else talks to it through exec and post.
type Master struct {
	cfg      Config
	log      *slog.Logger
	clock    Clock
	listener net.Listener
	server   *http.Server

	id        string
	info      *mesos.MasterInfo
	pid       string // master@ip:port
	startTime time.Time
	// baseLogLevel is the level SET_LOGGING_LEVEL reverts to.
	baseLogLevel slog.Level

	inbox    chan func()
	stopped  chan struct{}
	stopOnce sync.Once

	// published is the newest read-only view for state endpoints.
	published atomic.Pointer[Snapshot]

	reg       Registry
	registrar registryWriter
	// status is the leadership (follower, recovering, leading); written by
	// the loop, read anywhere.
	status      atomic.Int32
	leadingOnce chan struct{}
	// leaderChanged wakes agent requests held while no leader is known.
	leaderChanged *leaderSignal
	firstLead     sync.Once
	// apps is the running apps framework while this master leads.
	apps atomic.Pointer[apps.Framework]

	// simulated: driven step by step by the simulator (sim.go); posted
	// work waits in queue instead of the inbox.
	simulated bool
	queue     []func()

	// Everything below is owned by the loop goroutine.
	epoch uint64 // bumped on every leadership change
	// ID counters outlive leadership terms, so that a master leading again
	// never hands out an ID it used before.
	nextFrameworkID, nextAgentID, nextOfferID int
	// version counts state changes (never reset); snapshots are rebuilt
	// when it moves.
	version         uint64
	snapshotVersion uint64
	leaderCtx       context.Context
	cancelLeader    context.CancelFunc
	state
}

// state is the loop-owned cluster state.
type state struct {
	electedTime time.Time
	frameworks  map[string]*framework
	completed   []*framework // removed frameworks, oldest first
	agents      map[string]*agent
	offers      map[string]*offer
	alloc       *allocator.Allocator

	// From the registry: agents marked unreachable or gone, frameworks
	// removed, with when.
	unreachable       map[string]time.Time
	gone              map[string]time.Time
	removedFrameworks map[string]time.Time
	reregisterTimer   Timer
	// writes queues registry writes per key behind the one in flight.
	writes map[string][]pendingWrite
	// quotas are the roles' quota configurations, as the registry has them.
	quotas map[string]*quota.QuotaConfig
	// ops is the operator API's state: event stream subscribers,
	// maintenance, logging (operator.go).
	ops operatorState
	// Which framework or agent each open stream belongs to.
	frameworkConns map[frameworkConn]string
	agentConns     map[agentConn]string

	allocationPending   bool
	allocationRequested time.Time
	// allocationHeld: after a failover with quota, no offers until most
	// agents are back (leadership.go).
	allocationHeld                   bool
	recoveringAgents, expectedAgents int
	// toFlush holds connections with events queued in this batch.
	toFlush flushList

	metrics counters
}

// New validates cfg, opens the listener and returns a master ready to Run.
func New(cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("master: listen on %s: %w", cfg.ListenAddr, err)
	}
	m := newMaster(cfg, ln.Addr().String())
	m.listener = ln
	m.server = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return m, nil
}

// newMaster builds a master that serves (or is simulated) at addr.
func newMaster(cfg Config, addr string) *Master {
	id := cfg.ID
	if id == "" {
		id = uuid.NewString()
	}
	m := &Master{
		cfg:       cfg,
		log:       cfg.Logger,
		id:        id,
		clock:     cfg.Clock,
		startTime: cfg.Clock.Now(),
		inbox:     make(chan func(), 1024),
		stopped:   make(chan struct{}),

		leadingOnce: make(chan struct{}),

		leaderChanged: newLeaderSignal(),
	}
	m.reg = cfg.Registry
	m.baseLogLevel = cfg.LogLevel.Level()
	m.state = newState(cfg)
	m.info = m.masterInfo(addr)
	m.pid = "master@" + net.JoinHostPort(m.info.GetAddress().GetIp(), strconv.Itoa(int(m.info.GetPort())))
	return m
}

// newState is the empty state of a master that leads nothing yet.
func newState(cfg Config) state {
	return state{
		frameworks:        map[string]*framework{},
		agents:            map[string]*agent{},
		offers:            map[string]*offer{},
		alloc:             newAllocator(cfg),
		unreachable:       map[string]time.Time{},
		gone:              map[string]time.Time{},
		removedFrameworks: map[string]time.Time{},
		writes:            map[string][]pendingWrite{},
		frameworkConns:    map[frameworkConn]string{},
		agentConns:        map[agentConn]string{},
		quotas:            map[string]*quota.QuotaConfig{},
	}
}

func newAllocator(cfg Config) *allocator.Allocator {
	if cfg.Allocator != nil {
		return allocator.NewWithOptions(*cfg.Allocator)
	}
	return allocator.New()
}

// Addr is the address the master serves on (host:port).
func (m *Master) Addr() string { return m.listener.Addr().String() }

// ID is this master's random ID, embedded in the IDs it hands out.
func (m *Master) ID() string { return m.id }

// Run serves HTTP and runs the master until ctx ends.
func (m *Master) Run(ctx context.Context) error {
	var closeWriter func()
	m.registrar, closeWriter = newWriter(m.reg)
	defer closeWriter()
	serveErr := make(chan error, 2)
	go func() { serveErr <- m.server.Serve(m.listener) }()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go m.watchLeader(watchCtx)
	go func() {
		if err := m.serveAppsListener(ctx); err != nil {
			serveErr <- err
		}
	}()
	m.log.Info("master started", "id", m.id, "addr", m.Addr(), "pid", m.pid)

	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		m.loop(ctx)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	m.stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.server.Shutdown(shutdownCtx)
	m.server.Close()
	<-loopDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (m *Master) stop() {
	m.stopOnce.Do(func() { close(m.stopped) })
}

// loop is the single writer: it runs posted functions one at a time, and
// after each batch runs a pending allocation and timer work.
func (m *Master) loop(ctx context.Context) {
	allocTick := time.NewTicker(m.cfg.AllocationInterval)
	defer allocTick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.stepDown()
			return
		case <-m.stopped:
			m.stepDown()
			return
		case elected := <-m.reg.LeaderCh():
			if elected {
				m.becomeLeader()
			} else {
				m.stepDown()
			}
		case fn := <-m.inbox:
			fn()
			m.drainInbox()
		case <-allocTick.C:
			if m.isLeading() {
				m.requestAllocation()
				m.expireOffers(m.clock.Now())
				m.checkAgentPings(m.clock.Now())
			}
		}
		if m.allocationPending && m.isLeading() && !m.allocationHeld {
			m.allocate(m.clock.Now())
		}
		m.toFlush.flushAll()
	}
}

// drainInbox runs whatever else is already queued, so that a burst of calls
// is handled as one batch before the next allocation.
func (m *Master) drainInbox() {
	for i := 0; i < 4096; i++ {
		select {
		case fn := <-m.inbox:
			fn()
		default:
			return
		}
	}
}

// post queues fn for the loop without waiting. It reports false once the
// master has stopped.
func (m *Master) post(fn func()) bool {
	if m.simulated {
		m.queue = append(m.queue, fn)
		return true
	}
	select {
	case m.inbox <- fn:
		return true
	case <-m.stopped:
		return false
	}
}

// exec runs fn on the loop and waits for it to finish.
func (m *Master) exec(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	if !m.post(func() { fn(); close(done) }) {
		return errStopped
	}
	select {
	case <-done:
		return nil
	case <-m.stopped:
		return errStopped
	case <-ctx.Done():
		// fn still runs; its effects stand. The caller just stops waiting.
		return ctx.Err()
	}
}

// spawn runs fn off the loop (it may block on the registry); a simulated
// master runs it as a later step instead.
func (m *Master) spawn(fn func()) {
	if m.simulated {
		m.post(fn)
		return
	}
	go fn()
}

// after runs fn on the loop once d has passed. The returned timer may be
// stopped to cancel it.
func (m *Master) after(d time.Duration, fn func()) Timer {
	return m.clock.AfterFunc(d, func() { m.post(fn) })
}

// changed records that the state moved, so the next reader gets a new
// snapshot.
func (m *Master) changed() { m.version++ }

func (m *Master) shutdownConnections() {
	for _, fw := range m.frameworks {
		if fw.conn != nil {
			fw.conn.close("master is shutting down")
		}
	}
	for _, ag := range m.agents {
		if ag.conn != nil {
			ag.conn.close("master is shutting down")
		}
	}
	m.closeOperatorSubscribers()
}

func (m *Master) masterInfo(addr string) *mesos.MasterInfo {
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	ip := m.cfg.AdvertiseIP
	if ip == "" {
		ip = host
		if parsed := net.ParseIP(host); parsed == nil || parsed.IsUnspecified() {
			ip = "127.0.0.1"
		}
	}
	// Without a configured hostname the IP stands in: redirects and offer
	// URLs then always resolve, whatever the machine's name resolves to.
	hostname := m.cfg.Hostname
	if hostname == "" {
		hostname = ip
	}
	return &mesos.MasterInfo{
		Id:       &m.id,
		Ip:       ptr(ipv4NetworkOrder(ip)),
		Port:     ptr(uint32(port)),
		Pid:      ptr("master@" + net.JoinHostPort(ip, portStr)),
		Hostname: &hostname,
		Version:  ptr(version.Mesos),
		Address: &mesos.Address{
			Hostname: &hostname,
			Ip:       &ip,
			Port:     ptr(int32(port)),
		},
		Capabilities: []*mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_UPDATE.Enum()},
		},
	}
}

// ipv4NetworkOrder packs an IPv4 address the way MasterInfo.ip wants it: the
// four bytes in network order read as a little-endian uint32.
func ipv4NetworkOrder(ip string) uint32 {
	v4 := net.ParseIP(ip).To4()
	if v4 == nil {
		return 0
	}
	return uint32(v4[0]) | uint32(v4[1])<<8 | uint32(v4[2])<<16 | uint32(v4[3])<<24
}

func ptr[T any](v T) *T { return &v }
