// Package hosted is the agent's side of the executor host (package
// executor/host): a containerizer whose containers are built-in executors
// running as goroutines of one long-lived host process per agent.
//
// The containerizer starts the host on the first launch (in a session of
// its own, so that it outlives the agent like any executor) and holds one
// watch stream open to it, which tells it as each container ends. An
// agent that restarts finds the host by its socket and adopts the
// containers it holds. When the host dies, every hosted container ends
// ("the executor host exited"), what their tasks left is killed, and the
// next launch starts a new host.
package hosted

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/executor/host"
)

// EnvHost marks the executor host's environment; its value is the
// agent's work directory. The agent's scan for orphan executors skips the
// host's children (its tasks) by it.
const EnvHost = "AGORA_EXECUTOR_HOST"

// startTimeout bounds how long a new host may take to listen, and
// callTimeout how long it may take to answer a call (a destroy answers
// once the executor's tasks are dead).
const (
	startTimeout = 15 * time.Second
	callTimeout  = 30 * time.Second
)

// hostExited is the status of the containers of a host that died.
var hostExited = containerizer.ExitStatus{Message: "the executor host exited"}

// Config configures the containerizer.
type Config struct {
	// WorkDir is the agent's work directory: it names the host's socket,
	// and the host logs to <work_dir>/executor-host.log.
	WorkDir string
	// Command is the argv prefix that starts the host (`agora executor`);
	// "--host" and the socket name are appended.
	Command []string
	// Env is the host's environment.
	Env []string
	// AgentSocket, when set, is the Unix socket on which the agent serves
	// the executor API to the host's executors (host.AgentSocketName).
	AgentSocket string
	// Logger receives the containerizer's logs.
	Logger *slog.Logger
}

// Containerizer runs built-in executors in the agent's executor host.
type Containerizer struct {
	cfg    Config
	log    *slog.Logger
	socket string
	client *http.Client

	// launching serializes starting the host.
	launching sync.Mutex
	// adopted: the first Adopt, which the agent calls with every container
	// it knows, has run; later ones (for orphans) leave the host alone.
	adopted bool

	mu       sync.Mutex
	watching bool // a watch stream is open to a live host
	// outdated: the host watched last speaks another protocol version
	// (hostProtocol, not host.Protocol); it gets no new container and is
	// let go once its last one has ended.
	outdated     bool
	hostProtocol int
	containers   map[string]*hostedContainer
}

type hostedContainer struct {
	done   chan struct{} // closed once status is set
	status containerizer.ExitStatus
	// launching: the host may not know it yet (the launch is under way).
	launching bool
	// sandbox is its MESOS_DIRECTORY, which its tasks inherit: what they
	// left is found by it should the host die.
	sandbox string
}

// New returns the containerizer; it starts no host before the first
// launch.
func New(cfg Config) *Containerizer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	socket := host.SocketName(cfg.WorkDir)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}
	return &Containerizer{
		cfg:    cfg,
		log:    cfg.Logger,
		socket: socket,
		client: &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 16,
			DisableCompression: true, ResponseHeaderTimeout: callTimeout}},
		containers: make(map[string]*hostedContainer),
	}
}

// Launch starts the executor of spec in the host, starting the host first
// if none runs. The pid is the host's.
func (h *Containerizer) Launch(ctx context.Context, spec containerizer.LaunchSpec) (int, error) {
	if spec.ContainerID == "" {
		return 0, errors.New("hosted: launch needs a container ID")
	}
	if err := h.ensureHost(ctx); err != nil {
		return 0, err
	}
	if v, outdated := h.hostOutdated(); outdated {
		return 0, fmt.Errorf("hosted: the executor host speaks protocol %d, this agent %d: %w", v, host.Protocol, containerizer.ErrUnavailable)
	}
	c := &hostedContainer{done: make(chan struct{}), launching: true, sandbox: spec.Sandbox}
	h.mu.Lock()
	if _, dup := h.containers[spec.ContainerID]; dup {
		h.mu.Unlock()
		return 0, fmt.Errorf("hosted: container %s already exists", spec.ContainerID)
	}
	h.containers[spec.ContainerID] = c // before the host knows it: its end may come first
	h.mu.Unlock()
	req := host.LaunchRequest{ContainerID: spec.ContainerID, Sandbox: spec.Sandbox, Env: spec.Env,
		User: spec.User, Stdout: spec.Stdout, Stderr: spec.Stderr, AgentSocket: h.cfg.AgentSocket}
	var resp host.LaunchResponse
	if err := h.call(ctx, "/launch", req, &resp); err != nil {
		h.finish(spec.ContainerID, containerizer.ExitStatus{Message: "launch failed: " + err.Error()})
		h.mu.Lock()
		delete(h.containers, spec.ContainerID)
		h.mu.Unlock()
		return 0, fmt.Errorf("hosted: launching %s: %w", spec.ContainerID, err)
	}
	h.mu.Lock()
	c.launching = false
	h.mu.Unlock()
	return resp.Pid, nil
}

// Wait blocks until the container ends or ctx is done.
func (h *Containerizer) Wait(ctx context.Context, containerID string) (containerizer.ExitStatus, error) {
	c, err := h.container(containerID)
	if err != nil {
		return containerizer.ExitStatus{}, err
	}
	return containerizer.AwaitEnd(ctx, c.done, &c.status)
}

// Destroy has the host kill the executor's tasks and abort it.
func (h *Containerizer) Destroy(ctx context.Context, containerID string) error {
	c, err := h.container(containerID)
	if err != nil {
		return err
	}
	if containerizer.Ended(c.done) {
		return nil
	}
	var st host.Status
	if err := h.call(ctx, "/destroy", host.ContainerRequest{ContainerID: containerID}, &st); err != nil {
		if !h.hostAlive() {
			return nil // the host died: the watch ends the container
		}
		return fmt.Errorf("hosted: destroying %s: %w", containerID, err)
	}
	h.finish(containerID, st.ExitStatus())
	return nil
}

// Usage samples the container's task sessions.
func (h *Containerizer) Usage(containerID string) (*mesos.ResourceStatistics, error) {
	c, err := h.container(containerID)
	if err != nil {
		return nil, err
	}
	if containerizer.Ended(c.done) {
		return nil, fmt.Errorf("hosted: container %s has ended", containerID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://host/usage?container_id="+url.QueryEscape(containerID), nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hosted: usage of %s: %w", containerID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("hosted: usage of %s: %w", containerID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hosted: usage of %s: %s", containerID, bytes.TrimSpace(body))
	}
	stats := &mesos.ResourceStatistics{}
	if err := proto.Unmarshal(body, stats); err != nil {
		return nil, fmt.Errorf("hosted: usage of %s: %w", containerID, err)
	}
	return stats, nil
}

// Forget drops an ended container, here and in the host.
func (h *Containerizer) Forget(containerID string) {
	h.mu.Lock()
	c, ok := h.containers[containerID]
	if !ok || !containerizer.Ended(c.done) {
		h.mu.Unlock()
		return
	}
	delete(h.containers, containerID)
	watching := h.watching
	h.mu.Unlock()
	if watching {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.call(ctx, "/forget", host.ContainerRequest{ContainerID: containerID}, nil); err != nil {
			h.log.Debug("asking the executor host to forget a container", "container_id", containerID, "err", err)
		}
	}
}

// Recover adopts the listed containers (the host's runs among them), and
// destroys the host's containers the agent does not know.
func (h *Containerizer) Recover(ctx context.Context, known []containerizer.RecoverSpec) error {
	_, err := h.Adopt(ctx, known)
	return err
}

// Adopt recovers the listed containers that the host holds, destroys the
// host's containers that are not listed, and returns the listed ones it
// does not hold (for another containerizer to recover). Without a host,
// it holds none. Only the first call does so: the agent recovers once,
// then only orphans, none of which are hosted.
func (h *Containerizer) Adopt(ctx context.Context, known []containerizer.RecoverSpec) ([]containerizer.RecoverSpec, error) {
	h.launching.Lock()
	defer h.launching.Unlock()
	if h.adopted {
		return known, nil
	}
	h.adopted = true
	listed := make(map[string]bool, len(known))
	for _, spec := range known {
		listed[spec.ContainerID] = true
	}
	states, err := h.watch(ctx, func(id string) bool { return listed[id] })
	if err != nil {
		h.log.Info("no executor host to recover containers from", "err", err)
		return known, nil
	}
	held := make(map[string]bool, len(states))
	for _, s := range states {
		held[s.ContainerID] = true
	}
	var rest []containerizer.RecoverSpec
	for _, spec := range known {
		if !held[spec.ContainerID] {
			rest = append(rest, spec)
		}
	}
	var errs []error
	for _, s := range states {
		if listed[s.ContainerID] {
			continue
		}
		h.log.Info("destroying an executor the agent does not know", "container_id", s.ContainerID)
		req := host.ContainerRequest{ContainerID: s.ContainerID}
		if s.Ended == nil {
			var st host.Status
			errs = append(errs, h.call(ctx, "/destroy", req, &st))
		}
		errs = append(errs, h.call(ctx, "/forget", req, nil))
	}
	return rest, errors.Join(errs...)
}

func (h *Containerizer) container(containerID string) (*hostedContainer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[containerID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, containerID)
	}
	return c, nil
}

// finish ends a container once.
func (h *Containerizer) finish(containerID string, status containerizer.ExitStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[containerID]
	if !ok || containerizer.Ended(c.done) {
		return
	}
	c.status = status
	close(c.done)
}

// hostOutdated reports whether the host last watched speaks another
// protocol version, and which.
func (h *Containerizer) hostOutdated() (version int, outdated bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hostProtocol, h.outdated
}

// drained reports whether an outdated host holds no live container of
// ours any more: it can be let go. Callers hold h.mu.
func (h *Containerizer) drained() bool {
	if !h.outdated {
		return false
	}
	for _, c := range h.containers {
		if !containerizer.Ended(c.done) {
			return false
		}
	}
	return true
}

func (h *Containerizer) hostAlive() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.watching
}

// ensureHost makes sure a host runs and is watched: it connects to a
// running one, or starts one.
func (h *Containerizer) ensureHost(ctx context.Context) error {
	if h.hostAlive() {
		return nil
	}
	h.launching.Lock()
	defer h.launching.Unlock()
	if h.hostAlive() {
		return nil
	}
	if _, err := h.watch(ctx, nil); err == nil {
		return nil
	}
	if err := h.start(ctx); err != nil {
		return err
	}
	_, err := h.watch(ctx, nil)
	return err
}

// start starts a host and waits until it listens.
func (h *Containerizer) start(ctx context.Context) error {
	if len(h.cfg.Command) == 0 {
		return errors.New("hosted: no command to start the executor host")
	}
	logFile, err := os.OpenFile(filepath.Join(h.cfg.WorkDir, "executor-host.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("hosted: %w", err)
	}
	defer logFile.Close()
	argv := append(append([]string(nil), h.cfg.Command...), "--host", h.socket)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), h.cfg.Env...), EnvHost+"="+h.cfg.WorkDir)
	cmd.Dir = h.cfg.WorkDir
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("hosted: %w", err)
	}
	defer readyR.Close()
	cmd.Stdout = readyW
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("hosted: starting the executor host: %w", err)
	}
	go cmd.Wait() // reaps it, should it end while we run
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(readyR).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("said %q", line)
		}
		ready <- err
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			return fmt.Errorf("hosted: the executor host did not start (see %s): %w", logFile.Name(), err)
		}
		h.log.Info("started the executor host", "pid", cmd.Process.Pid, "socket", h.socket)
		return nil
	case <-timer.C:
		cmd.Process.Kill()
		return fmt.Errorf("hosted: the executor host did not listen within %v", startTimeout)
	case <-ctx.Done():
		cmd.Process.Kill()
		return ctx.Err()
	}
}

// call posts a JSON request and decodes the JSON answer into out (unless
// out is nil).
func (h *Containerizer) call(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://host"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
