package sim

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// LaunchConfig is the `launch` scenario: T tasks across N agents and M
// frameworks.
type LaunchConfig struct {
	Agents, Frameworks, Tasks int
	AgentCPUs, AgentMem       float64
	TaskCPUs, TaskMem         float64
	// TaskDuration: a task finishes this long after it runs (0: never).
	TaskDuration time.Duration
	// Timeout bounds the whole scenario.
	Timeout time.Duration
	// MaxInFlight bounds each framework's tasks launched but not yet
	// running (0: launch everything offers hold at once).
	MaxInFlight int
	// ProfileFile, if set, receives a 15 s CPU profile of the leading
	// master taken while tasks launch (the masters need Profiling).
	ProfileFile string
}

// LaunchResult is what the launch scenario measured.
type LaunchResult struct {
	Agents          int     `json:"agents"`
	Frameworks      int     `json:"frameworks"`
	Tasks           int     `json:"tasks"`
	RegisterSeconds float64 `json:"agents_registered_seconds"`
	Running         int     `json:"tasks_running"`
	LaunchSeconds   float64 `json:"launch_seconds"`
	TasksPerSecond  float64 `json:"tasks_per_second"`
	LatencyP50Ms    float64 `json:"accept_to_running_p50_ms"`
	LatencyP99Ms    float64 `json:"accept_to_running_p99_ms"`
	LatencyMaxMs    float64 `json:"accept_to_running_max_ms"`
	Offers          int64   `json:"offers"`
	OffersPerSecond float64 `json:"offers_per_second"`
	AllocationP50Ms float64 `json:"allocation_cycle_p50_ms"`
	AllocationP99Ms float64 `json:"allocation_cycle_p99_ms"`
	AllocationMaxMs float64 `json:"allocation_cycle_max_ms"`
	MasterRSSMB     float64 `json:"master_rss_mb"`
	MasterHeapMB    float64 `json:"master_heap_mb"`
	RSSPerAgentKB   float64 `json:"master_rss_per_agent_kb"`
	RSSPerTaskKB    float64 `json:"master_rss_per_task_kb"`
	HeapPerAgentKB  float64 `json:"master_heap_per_agent_kb"`
	HeapPerTaskKB   float64 `json:"master_heap_per_task_kb"`
	AgentCallErrors int64   `json:"agent_call_errors"`
}

// Launch runs the scenario against masters it starts.
func Launch(ctx context.Context, cc ClusterConfig, cfg LaunchConfig) (*LaunchResult, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Minute)
	r, err := startRun(ctx, cc, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	ctx, masters := r.ctx, r.masters
	leader, _ := WaitLeader(ctx, masters, nil)
	ctx = r.clients // agents and frameworks stop before the masters do
	res := &LaunchResult{Agents: cfg.Agents, Frameworks: cfg.Frameworks, Tasks: cfg.Tasks}
	base := memory(leader)

	_, regTime, err := StartAgents(ctx, cfg.Agents, addrs(masters), cfg.AgentCPUs, cfg.AgentMem, cfg.TaskDuration)
	if err != nil {
		return nil, err
	}
	res.RegisterSeconds = regTime.Seconds()
	withAgents := memory(leader)

	frameworks, err := startFrameworks(ctx, cfg, addrs(masters))
	if err != nil {
		return nil, err
	}
	if cfg.ProfileFile != "" {
		go leader.CPUProfile(15*time.Second, cfg.ProfileFile)
	}
	waitErr := waitRunning(ctx, frameworks, cfg.Tasks)
	res.fill(frameworks)
	if waitErr != nil {
		return res, waitErr
	}
	withTasks := memory(leader)
	if metrics, err := leader.Metrics(); err == nil {
		res.AllocationP50Ms = metrics["allocator/mesos/allocation_run_ms/p50"]
		res.AllocationP99Ms = metrics["allocator/mesos/allocation_run_ms/p99"]
		res.AllocationMaxMs = metrics["allocator/mesos/allocation_run_ms/max"]
	}
	res.MasterRSSMB, res.MasterHeapMB = withTasks.rss/1e6, withTasks.heap/1e6
	res.AgentCallErrors = callErrors.Load()
	if cfg.Agents > 0 {
		res.RSSPerAgentKB = (withAgents.rss - base.rss) / 1e3 / float64(cfg.Agents)
		res.HeapPerAgentKB = (withAgents.heap - base.heap) / 1e3 / float64(cfg.Agents)
	}
	if cfg.Tasks > 0 {
		res.RSSPerTaskKB = (withTasks.rss - withAgents.rss) / 1e3 / float64(cfg.Tasks)
		res.HeapPerTaskKB = (withTasks.heap - withAgents.heap) / 1e3 / float64(cfg.Tasks)
	}
	return res, nil
}

func addrs(ms []*MasterProcess) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Addr)
	}
	return out
}

type memSample struct{ rss, heap float64 }

// memory samples the master after a GC-friendly pause.
func memory(m *MasterProcess) memSample {
	time.Sleep(500 * time.Millisecond)
	s := memSample{rss: float64(m.RSS())}
	if metrics, err := m.Metrics(); err == nil {
		s.heap = metrics["agora/go_heap_bytes"]
	}
	return s
}

// StartAgents starts n simulated agents and waits until all registered.
func StartAgents(ctx context.Context, n int, masters []string, cpus, mem float64, taskDuration time.Duration) ([]*Agent, time.Duration, error) {
	client := NewAgentClient()
	res := AgentResources(cpus, mem)
	agents := make([]*Agent, n)
	start := time.Now()
	for i := range agents {
		agents[i] = NewAgent(fmt.Sprintf("sim-agent-%d", i), res, masters, client, taskDuration)
		go agents[i].Run(ctx)
	}
	for _, a := range agents {
		select {
		case <-a.registered:
		case <-ctx.Done():
			return agents, 0, fmt.Errorf("agents did not all register: %w", ctx.Err())
		}
	}
	return agents, time.Since(start), nil
}

func startFrameworks(ctx context.Context, cfg LaunchConfig, masters []string) ([]*Framework, error) {
	var fws []*Framework
	per := cfg.Tasks / max(cfg.Frameworks, 1)
	for i := range cfg.Frameworks {
		target := per
		if i == cfg.Frameworks-1 {
			target = cfg.Tasks - per*(cfg.Frameworks-1)
		}
		fw := &Framework{Name: fmt.Sprintf("bench-%d", i), Target: target, CPUs: cfg.TaskCPUs, Mem: cfg.TaskMem, MaxInFlight: cfg.MaxInFlight}
		if err := fw.Start(ctx, masters); err != nil {
			return nil, err
		}
		fws = append(fws, fw)
	}
	return fws, nil
}

func waitRunning(ctx context.Context, fws []*Framework, want int) error {
	for {
		total := 0
		for _, f := range fws {
			total += int(f.running.Load())
		}
		if total >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d tasks running: %w", total, want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *LaunchResult) fill(fws []*Framework) {
	var lat []time.Duration
	var first, last int64
	var offers int64
	for _, f := range fws {
		lat = append(lat, f.Latencies()...)
		r.Running += int(f.running.Load())
		offers += f.offered.Load()
		if a := f.firstAccept.Load(); a != 0 && (first == 0 || a < first) {
			first = a
		}
		last = max(last, f.lastRunning.Load())
	}
	r.Offers = offers
	if first > 0 && last > first {
		r.LaunchSeconds = float64(last-first) / 1e9
		r.TasksPerSecond = float64(r.Running) / r.LaunchSeconds
		r.OffersPerSecond = float64(offers) / r.LaunchSeconds
	}
	p50, p99, mx := percentiles(lat)
	r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyMaxMs = ms(p50), ms(p99), ms(mx)
}

func percentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return at(0.5), at(0.99), d[len(d)-1]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
