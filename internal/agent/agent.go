// Package agent is the Agora agent: it offers this machine's resources to
// the leading master, runs the tasks the master sends in executors started
// through a Containerizer, and carries their status updates back reliably.
//
// Pieces, each in its own file:
//
//	subscription.go   the link to the master: SUBSCRIBE stream, backoff,
//	                  redirects, ping watchdog, the call sender
//	events.go         what each master event does
//	executors.go      executor lifecycle: launch, queue, kill, shutdown, exit
//	executorapi.go    POST /api/v1/executor, the executor HTTP API
//	statusupdates.go  the status update manager (checkpoint, retry, acks)
//	checkpoint.go     the meta/ checkpoint files; paths.go the disk layout
//	recovery.go       restart: re-adopting executors (recoverystate.go
//	                  reads meta/, orphans.go kills what cannot be adopted)
//	volumes.go        checkpointed resources and persistent volumes
//	gc.go             sandbox garbage collection
//	operator_api.go, operator_state.go   POST /api/v1, the operator API
//	files.go, state.go, metrics.go, endpoints.go   the read endpoints
//
// Concurrency: one mutex (Agent.mu) guards frameworks, executors and tasks;
// handlers hold it briefly and never do network I/O under it. Calls to the
// master go through an outbox drained by one sender goroutine; events to an
// executor go through its connection's outbox, drained by its HTTP handler.
// Each executor has one goroutine that launches and waits for its
// container. The status update manager and sandbox GC have their own
// locks, taken after Agent.mu when both are needed.
//
// The wire protocol with the master is documented in docs/agent-protocol.md.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/fetcher"
	"github.com/agoraproject/agora/internal/protocol"
)

// ErrShutdown is returned by Run when the master ordered the agent to shut
// down.
var ErrShutdown = errors.New("agent: shut down by the master")

// Agent is one agent. Create it with New, then call Run once.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	paths       layout
	cont        containerizer.Containerizer
	startTime   time.Time
	executorCmd []string
	environ     []string // the agent's environment, the base of executors'
	resources   []*mesos.Resource
	attributes  []*mesos.Attribute

	calls   *apihttp.Outbox[*protocol.AgentCall]
	updates *updateManager
	files   *sandboxFiles
	fetch   *fetcher.Fetcher // CommandInfo.uris into sandboxes (containers.go)
	gc      *sandboxGC

	streamClient *http.Client // the long-lived SUBSCRIBE stream
	callClient   *http.Client // every other call

	ready    chan struct{}
	addr     string // set before ready closes
	ip       string
	port     int
	lifetime context.Context // Run's context; executor goroutines end with it
	workers  sync.WaitGroup  // executor and destroy goroutines; Run waits for them

	mu                  sync.Mutex
	agentID             string
	link                *masterLink // nil while not subscribed
	masterInfo          *mesos.MasterInfo
	frameworks          map[string]*framework
	completedFrameworks []*framework
	counters            counters
	// checkpointed are the dynamic reservations and persistent volumes
	// the master had the agent checkpoint (volumes.go).
	checkpointed []*mesos.Resource
	// reregistering counts recovered executors that have not
	// re-subscribed yet; reregistered is signalled when it drops.
	reregistering int
	reregistered  chan struct{}
	// baseLogLevel is the level SET_LOGGING_LEVEL returns to when
	// logRevert fires.
	baseLogLevel slog.Level
	logRevert    *time.Timer
}

// New checks cfg and prepares an agent; nothing runs until Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &Agent{
		cfg:          cfg,
		log:          cfg.Logger,
		paths:        layout{workDir: cfg.WorkDir},
		cont:         cfg.Containerizer,
		calls:        apihttp.NewOutbox[*protocol.AgentCall](),
		files:        newSandboxFiles(),
		ready:        make(chan struct{}),
		frameworks:   make(map[string]*framework),
		reregistered: make(chan struct{}, 1),
		startTime:    time.Now(),
		environ:      os.Environ(),
		lifetime:     context.Background(),
	}
	a.baseLogLevel = cfg.LogLevel.Level()
	a.updates = newUpdateManager(a.sendUpdate, cfg.SyncStatusUpdates)
	a.gc = newSandboxGC(cfg, func() (float64, error) { return diskUsage(cfg.WorkDir) }, a.files.detachUnder)
	a.streamClient = &http.Client{Transport: newTransport()}
	a.callClient = &http.Client{Transport: newTransport(), Timeout: 30 * time.Second}
	var err error
	if a.executorCmd, err = executorCommand(cfg.ExecutorCommand); err != nil {
		return nil, err
	}
	if a.cont == nil {
		if a.cont, err = newContainerizer(cfg, a.executorCmd, a.environ); err != nil {
			return nil, err
		}
	}
	a.fetch = newFetcher(cfg)
	if a.resources, err = agentResources(cfg); err != nil {
		return nil, fmt.Errorf("agent: resources: %w", err)
	}
	if a.attributes, err = agentAttributes(cfg.Attributes); err != nil {
		return nil, fmt.Errorf("agent: attributes: %w", err)
	}
	if a.cfg.Hostname == "" {
		if a.cfg.Hostname, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("agent: hostname: %w", err)
		}
	}
	return a, nil
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		// Bodies are small protobuf messages; asking for gzip would only
		// cost a header per call.
		DisableCompression: true,
	}
}

func executorCommand(cmd []string) ([]string, error) {
	if len(cmd) > 0 {
		return cmd, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("agent: locating the command executor: %w", err)
	}
	return []string{self, "executor"}, nil
}

// Run serves the agent's endpoints and keeps it subscribed to the leading
// master until ctx ends (then it returns nil; executors keep running) or the
// master shuts the agent down (then it destroys every executor and returns
// an error wrapping ErrShutdown).
func (a *Agent) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.ListenAddr)
	if err != nil {
		close(a.ready)
		return fmt.Errorf("agent: listening on %s: %w", a.cfg.ListenAddr, err)
	}
	a.setAddress(ln.Addr().(*net.TCPAddr))
	close(a.ready)
	execLn := a.listenForHostedExecutors()
	closeListeners := func() {
		ln.Close()
		if execLn != nil {
			execLn.Close()
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.lifetime = ctx
	// Executors that outlived the previous run reconnect as soon as the
	// port listens; their connections wait in the backlog while the
	// checkpoint is read.
	if err := a.recover(ctx); err != nil {
		closeListeners()
		a.workers.Wait()
		return err
	}
	if err := a.checkpointBootID(); err != nil {
		closeListeners()
		return err
	}
	srv := &http.Server{Handler: apihttp.Recover(a.log, a.routes()), ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	execSrv := &http.Server{Handler: apihttp.Recover(a.log, a.executorRoutes()), ReadHeaderTimeout: 30 * time.Second}
	if execLn != nil {
		go execSrv.Serve(execLn)
	}
	a.log.Info("agent listening", "addr", a.addr, "work_dir", a.cfg.WorkDir)

	var wg sync.WaitGroup
	wg.Go(func() { a.sendCalls(ctx) })
	wg.Go(func() { a.updates.run(ctx, updateTickInterval) })
	wg.Go(func() { a.gc.run(ctx) })
	a.awaitReregistration(ctx)
	err = a.stayConnected(ctx)
	cancel()
	a.closeExecutorStreams()
	srv.Close()
	execSrv.Close()
	wg.Wait()
	a.workers.Wait()
	a.updates.Close()
	return err
}

// setAddress records the listening address and the IP to advertise.
func (a *Agent) setAddress(tcp *net.TCPAddr) {
	a.port = tcp.Port
	a.ip = a.cfg.AdvertiseIP
	if a.ip == "" && !tcp.IP.IsUnspecified() {
		a.ip = tcp.IP.String()
	}
	if a.ip == "" {
		a.ip = hostIP(a.cfg.Hostname)
	}
	a.addr = net.JoinHostPort(a.ip, strconv.Itoa(a.port))
}

// hostIP resolves hostname to its first IPv4 address, else loopback.
func hostIP(hostname string) string {
	ips, _ := net.LookupIP(hostname)
	for _, ip := range ips {
		if v4 := ip.To4(); v4 != nil && !v4.IsLoopback() {
			return v4.String()
		}
	}
	return "127.0.0.1"
}

// Ready is closed once the agent listens (or failed to).
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Addr returns the ip:port executors and clients reach the agent at. It
// blocks until Run listens, and is "" if listening failed.
func (a *Agent) Addr() string {
	<-a.ready
	return a.addr
}

// ID returns the agent ID the master assigned ("" before the first
// subscription).
func (a *Agent) ID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.agentID
}

// pid is the libprocess-style pid of the agent: slave(1)@ip:port.
func (a *Agent) pid() string { return "slave(1)@" + a.addr }

// agentInfo is the AgentInfo sent to the master and executors. Callers hold
// a.mu.
func (a *Agent) agentInfo() *mesos.AgentInfo {
	info := &mesos.AgentInfo{
		Hostname:   proto.String(a.cfg.Hostname),
		Port:       proto.Int32(int32(a.port)),
		Resources:  a.resources,
		Attributes: a.attributes,
	}
	if a.agentID != "" {
		info.Id = &mesos.AgentID{Value: proto.String(a.agentID)}
	}
	return info
}

// closeExecutorStreams ends every executor's event stream (the agent is
// stopping; executors reconnect to its successor).
func (a *Agent) closeExecutorStreams() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.conn != nil {
				ex.conn.out.Close("agent stopping")
				ex.conn = nil
			}
		}
	}
}
