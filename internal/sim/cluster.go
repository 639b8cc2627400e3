package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/hostinfo"
)

// MasterProcess is a real `agora master` started by the benchmark.
type MasterProcess struct {
	Addr string // HTTP host:port
	Raft string
	args []string
	bin  string
	log  string
	cmd  *exec.Cmd

	profiling bool
	done      chan struct{}
}

// ClusterConfig describes the masters a scenario starts.
type ClusterConfig struct {
	// Binary is the agora binary; empty: this executable.
	Binary string
	// Masters is how many masters (1, or 3 for failover).
	Masters int
	// WorkDir holds the masters' data and logs.
	WorkDir string
	// MasterFlags are extra flags for every master.
	MasterFlags []string
	// RaftTimeout is the masters' --raft_timeout (default 1 s).
	RaftTimeout time.Duration
	// Profiling serves pprof on the masters (AGORA_PPROF=1).
	Profiling bool
}

// StartMasters starts the masters on 127.0.0.1, 127.0.0.2, ... and waits
// until one leads.
func StartMasters(ctx context.Context, cfg ClusterConfig) ([]*MasterProcess, error) {
	bin := cfg.Binary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	n := max(cfg.Masters, 1)
	var ms []*MasterProcess
	var peers []string
	for i := range n {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		httpPort, err := freePort(ip)
		if err != nil {
			return nil, err
		}
		raftPort, err := freePort(ip)
		if err != nil {
			return nil, err
		}
		m := &MasterProcess{Addr: net.JoinHostPort(ip, strconv.Itoa(httpPort)), Raft: net.JoinHostPort(ip, strconv.Itoa(raftPort)), bin: bin}
		peers = append(peers, m.Raft)
		ms = append(ms, m)
	}
	for i, m := range ms {
		host, port, _ := net.SplitHostPort(m.Addr)
		_, rport, _ := net.SplitHostPort(m.Raft)
		dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("master%d", i+1))
		m.args = append([]string{"master", "--ip=" + host, "--port=" + port, "--raft_port=" + rport,
			"--work_dir=" + dir, "--raft_timeout=" + raftTimeout(cfg).String(), "--apps_port=0"}, cfg.MasterFlags...)
		if n > 1 {
			m.args = append(m.args, "--peers="+strings.Join(peers, ","))
		}
		m.log = dir + ".log"
		m.profiling = cfg.Profiling
		if err := m.Start(); err != nil {
			return nil, err
		}
	}
	if _, err := WaitLeader(ctx, ms, nil); err != nil {
		return ms, err
	}
	return ms, nil
}

// run is a scenario's cluster: the masters it started and the context of
// its clients (simulated agents and frameworks).
type run struct {
	ctx     context.Context // ends at the scenario's timeout
	clients context.Context // ends when the scenario stops, before the masters do
	masters []*MasterProcess
	stop    func() // ends the clients, then stops the masters
}

// startRun starts cc's masters for a scenario bounded by timeout.
func startRun(ctx context.Context, cc ClusterConfig, timeout time.Duration) (*run, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	masters, err := StartMasters(ctx, cc)
	clients, stopClients := context.WithCancel(ctx)
	r := &run{ctx: ctx, clients: clients, masters: masters, stop: func() {
		stopClients()
		stopAll(masters)
		cancel()
	}}
	if err != nil {
		r.stop()
		return nil, err
	}
	return r, nil
}

// stopAll stops the masters a scenario started.
func stopAll(ms []*MasterProcess) {
	for _, m := range ms {
		m.Stop()
	}
}

// Start (re)starts the master process with its flags and data.
func (m *MasterProcess) Start() error {
	if err := os.MkdirAll(filepath.Dir(m.log), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	m.cmd = exec.Command(m.bin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = f, f
	m.cmd.Env = append(os.Environ(), "AGORA_LOG_LEVEL=warn")
	if m.profiling {
		m.cmd.Env = append(m.cmd.Env, "AGORA_PPROF=1")
	}
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		return err
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(m.cmd, m.done)
	return nil
}

// Kill sends SIGKILL and waits for the process to end.
func (m *MasterProcess) Kill() {
	if m.cmd == nil {
		return
	}
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	<-m.done
}

// Stop ends the process with SIGTERM (SIGKILL after 5 s).
func (m *MasterProcess) Stop() {
	if m.cmd == nil {
		return
	}
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		m.Kill()
	}
}

// RSS is the process's resident set size in bytes.
func (m *MasterProcess) RSS() uint64 {
	rss, _ := hostinfo.ResidentBytes(m.cmd.Process.Pid)
	return rss
}

// Metrics reads the master's /metrics/snapshot.
func (m *MasterProcess) Metrics() (map[string]float64, error) {
	resp, err := http.Get("http://" + m.Addr + "/metrics/snapshot")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// IsLeader reports whether the master answers the scheduler API itself:
// a probe with no Content-Type gets 400 from the leader, 307 from a
// follower and 503 while no leader has finished recovering.
func (m *MasterProcess) IsLeader() bool {
	c := &http.Client{Timeout: time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Post("http://"+m.Addr+"/api/v1/scheduler", "", nil)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusBadRequest
}

// WaitLeader waits until a master other than not leads.
func WaitLeader(ctx context.Context, ms []*MasterProcess, not *MasterProcess) (*MasterProcess, error) {
	for {
		for _, m := range ms {
			if m != not && m.IsLeader() {
				return m, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leading master: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freePort(ip string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// AgentResources is what each simulated agent offers.
func AgentResources(cpus, memMB float64) []*mesos.Resource {
	return []*mesos.Resource{scalar("cpus", cpus), scalar("mem", memMB), scalar("disk", 10240)}
}

// NewAgentClient is the HTTP client the simulated agents share: one
// connection per agent stream plus a pool for calls.
func NewAgentClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func raftTimeout(cfg ClusterConfig) time.Duration {
	if cfg.RaftTimeout > 0 {
		return cfg.RaftTimeout
	}
	return time.Second
}

// CPUProfile fetches a CPU profile of the master over d into file (the
// master must run with Profiling).
func (m *MasterProcess) CPUProfile(d time.Duration, file string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m.Addr, int(d.Seconds())))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}
