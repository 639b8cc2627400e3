package host

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/executor"
)

// DefaultIdleTimeout is how long a host with neither a live container nor
// a watching agent waits before it exits. An agent watches as long as it
// runs, so this is how long the host outlives a stopped agent that left
// no executor running; a later launch starts a new host.
const DefaultIdleTimeout = 2 * time.Second

// maxRequestBody bounds a request (a launch carries an environment).
const maxRequestBody = 4 << 20

// watchBuffer bounds the ends queued for one watcher; a watcher that falls
// further behind is disconnected and resynchronizes.
const watchBuffer = 4096

// Config configures a host.
type Config struct {
	// Socket is the listening socket's name (see SocketName).
	Socket string
	// IdleTimeout: the host exits after this long without a live
	// container or a watcher (DefaultIdleTimeout when zero).
	IdleTimeout time.Duration
	// Logger receives the host's own logs; LogLevel is the level of the
	// executors' logs in their sandboxes.
	Logger   *slog.Logger
	LogLevel slog.Level
}

// Server is a running host.
type Server struct {
	cfg     Config
	log     *slog.Logger
	hosting executor.Hosting // what every executor shares
	dialer  *agentDialer     // under hosting's transports
	ctx     context.Context  // cancelled when the host is told to stop

	mu         sync.Mutex
	containers map[string]*container
	live       int
	watchers   map[chan WatchLine]bool
	idle       *time.Timer
	quit       chan struct{}
}

// Serve runs a host until ctx ends (its executors then shut down as on
// SIGTERM, and it returns once they have) or it has been idle for
// cfg.IdleTimeout. ready is called once the socket listens.
func Serve(ctx context.Context, cfg Config, ready func()) error {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := ListenOwnUser(cfg.Socket)
	if err != nil {
		return fmt.Errorf("executor host: %w", err)
	}
	s := newServer(ctx, cfg)
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.mu.Lock()
	s.checkIdle()
	s.mu.Unlock()
	if ready != nil {
		ready()
	}
	select {
	case <-ctx.Done():
		s.log.Info("executor host stopping: its executors shut down")
	case <-s.quit:
		s.log.Info("executor host idle: exiting")
	case err := <-served:
		return fmt.Errorf("executor host: serving: %w", err)
	}
	srv.Close()
	s.waitExecutors()
	return nil
}

func newServer(ctx context.Context, cfg Config) *Server {
	dialer := newAgentDialer()
	calls, streams := executor.NewTransport(), executor.NewTransport()
	calls.DialContext, streams.DialContext = dialer.DialContext, dialer.DialContext
	calls.MaxIdleConns, calls.MaxIdleConnsPerHost = 256, 256
	streams.DisableKeepAlives = true
	return &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		dialer:     dialer,
		hosting:    executor.Hosting{Calls: calls, Streams: streams},
		ctx:        ctx,
		containers: make(map[string]*container),
		watchers:   make(map[chan WatchLine]bool),
		quit:       make(chan struct{}),
	}
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /launch", s.serveLaunch)
	mux.HandleFunc("POST /destroy", s.serveDestroy)
	mux.HandleFunc("POST /forget", s.serveForget)
	mux.HandleFunc("GET /usage", s.serveUsage)
	mux.HandleFunc("GET /watch", s.serveWatch)
	return mux
}

func (s *Server) serveLaunch(w http.ResponseWriter, r *http.Request) {
	var req LaunchRequest
	if !decode(w, r, &req) {
		return
	}
	if req.ContainerID == "" {
		http.Error(w, "container_id is missing", http.StatusBadRequest)
		return
	}
	cfg, err := executorConfig(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The output files are made (and given to the user) now, then opened
	// again for each task start and log line: see Hosting.Output.
	spec := containerizer.LaunchSpec{Sandbox: req.Sandbox, User: req.User, Stdout: req.Stdout, Stderr: req.Stderr}
	out, err := containerizer.OpenOutput(spec)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out.Close()
	c := newContainer(req.ContainerID, req.Sandbox)
	if !s.add(c) {
		http.Error(w, "container "+req.ContainerID+" already exists", http.StatusConflict)
		return
	}
	s.dialer.route(cfg.AgentEndpoint, req.AgentSocket)
	cfg.Logger = logTo(req.Stderr, out.Credential, s.cfg.LogLevel)
	cfg.Hosting = c.hosting(&s.hosting)
	cfg.Hosting.Output = func() (stdout, stderr *os.File, err error) {
		task, err := out.Reopen(spec)
		return task.Stdout, task.Stderr, err
	}
	go func() {
		err := executor.Run(s.ctx, cfg)
		c.mu.Lock()
		destroyed := c.destroyed
		c.mu.Unlock()
		s.finish(c, statusOf(err, destroyed))
	}()
	writeJSON(w, LaunchResponse{Pid: os.Getpid()})
}

func (s *Server) serveDestroy(w http.ResponseWriter, r *http.Request) {
	c := s.requested(w, r)
	if c == nil {
		return
	}
	writeJSON(w, c.destroy(r.Context(), s.log))
}

func (s *Server) serveForget(w http.ResponseWriter, r *http.Request) {
	var req ContainerRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	if c, ok := s.containers[req.ContainerID]; ok && containerizer.Ended(c.done) {
		delete(s.containers, req.ContainerID)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveUsage(w http.ResponseWriter, r *http.Request) {
	c := s.get(r.URL.Query().Get("container_id"))
	if c == nil {
		http.Error(w, "no such container", http.StatusNotFound)
		return
	}
	sids, release := c.sessionList()
	stats, err := containerizer.SessionsUsage(sids)
	release()
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	b, err := proto.Marshal(stats)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// serveWatch streams the containers' states, then their ends.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request) {
	ch := make(chan WatchLine, watchBuffer)
	s.mu.Lock()
	lines := make([]WatchLine, 0, len(s.containers)+1)
	for id, c := range s.containers {
		line := WatchLine{ContainerID: id, Sandbox: c.sandbox}
		if containerizer.Ended(c.done) {
			st := c.status
			line.Ended = &st
		}
		lines = append(lines, line)
	}
	s.watchers[ch] = true
	s.checkIdle()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.checkIdle()
		s.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json-seq")
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, line := range append(lines, WatchLine{Synced: true, Protocol: Protocol}) {
		enc.Encode(line)
	}
	flush := func() bool {
		if bw.Flush() != nil {
			return false
		}
		http.NewResponseController(w).Flush()
		return true
	}
	if !flush() {
		return
	}
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				return // fell behind: the agent reconnects and resynchronizes
			}
			enc.Encode(line)
			for more := true; more; {
				select {
				case line, ok := <-ch:
					if !ok {
						return
					}
					enc.Encode(line)
				default:
					more = false
				}
			}
			if !flush() {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// add registers a new container; false when its ID is taken.
func (s *Server) add(c *container) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.containers[c.id]; dup {
		return false
	}
	s.containers[c.id] = c
	s.live++
	s.checkIdle()
	return true
}

// finish records the end of c's executor and tells the watchers.
func (s *Server) finish(c *container, status Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.status = status
	close(c.done)
	s.live--
	for ch := range s.watchers {
		select {
		case ch <- WatchLine{ContainerID: c.id, Ended: &status}:
		default: // too far behind: dropped, it resynchronizes
			close(ch)
			delete(s.watchers, ch)
		}
	}
	s.checkIdle()
}

// checkIdle arms the idle timer when there is nothing to do and disarms
// it otherwise. Callers hold s.mu.
func (s *Server) checkIdle() {
	if s.live > 0 || len(s.watchers) > 0 {
		if s.idle != nil {
			s.idle.Stop()
			s.idle = nil
		}
		return
	}
	if s.idle != nil {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(s.cfg.IdleTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.idle == t {
			s.idle = nil
			close(s.quit)
		}
	})
	s.idle = t
}

// waitExecutors waits for every executor to return.
func (s *Server) waitExecutors() {
	s.mu.Lock()
	dones := make([]chan struct{}, 0, len(s.containers))
	for _, c := range s.containers {
		dones = append(dones, c.done)
	}
	s.mu.Unlock()
	for _, d := range dones {
		<-d
	}
}

func (s *Server) get(id string) *container {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.containers[id]
}

// requested is the container a ContainerRequest body names, or nil once
// the error is answered.
func (s *Server) requested(w http.ResponseWriter, r *http.Request) *container {
	var req ContainerRequest
	if !decode(w, r, &req) {
		return nil
	}
	c := s.get(req.ContainerID)
	if c == nil {
		http.Error(w, "no such container: "+req.ContainerID, http.StatusNotFound)
	}
	return c
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	switch {
	case err != nil:
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return false
	case len(body) > maxRequestBody:
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		http.Error(w, "decoding the request: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Main is the host's process: Serve on socket, saying "ready" on stdout
// once it listens and closing stdout. The agent that started the process
// reads that line; nothing else is ever written there.
func Main(ctx context.Context, socket string, log *slog.Logger, executorLogLevel slog.Level) error {
	// The host's live heap is small and churns with every task; a larger
	// heap goal means fewer collections and fewer freshly faulted pages.
	debug.SetGCPercent(400)
	ready := func() {
		os.Stdout.WriteString("ready\n")
		os.Stdout.Close()
	}
	return Serve(ctx, Config{Socket: socket, Logger: log, LogLevel: executorLogLevel}, ready)
}
