package sim

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// StateConfig is the `state` scenario: with Tasks running and more being
// launched, readers fetch /master/state and the operator API's GET_STATE
// over and over; does allocation slow down while they are served?
type StateConfig struct {
	Agents, Tasks, Readers int
	AgentCPUs, AgentMem    float64
	TaskCPUs, TaskMem      float64
	Duration               time.Duration
	Timeout                time.Duration
	// ProfileFile receives a CPU profile of the master while it is read.
	ProfileFile string
}

// StateResult is what the state scenario measured.
type StateResult struct {
	Tasks             int     `json:"tasks"`
	StateP50Ms        float64 `json:"master_state_p50_ms"`
	StateP99Ms        float64 `json:"master_state_p99_ms"`
	StateMB           float64 `json:"master_state_mb"`
	GetStateP50Ms     float64 `json:"get_state_p50_ms"`
	GetStateP99Ms     float64 `json:"get_state_p99_ms"`
	GetStateMB        float64 `json:"get_state_mb"`
	AllocQuietMaxMs   float64 `json:"allocation_cycle_max_ms_without_readers"`
	AllocReadersMaxMs float64 `json:"allocation_cycle_max_ms_with_readers"`
	LaunchesDuring    int64   `json:"tasks_launched_while_reading"`
}

// State runs the scenario against a master it starts.
func State(ctx context.Context, cc ClusterConfig, cfg StateConfig) (*StateResult, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, 15*time.Minute)
	r, err := startRun(ctx, cc, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	ctx, masters := r.ctx, r.masters
	leader, clients := masters[0], r.clients
	if _, _, err := StartAgents(clients, cfg.Agents, addrs(masters), cfg.AgentCPUs, cfg.AgentMem, 0); err != nil {
		return nil, err
	}
	launch := LaunchConfig{Frameworks: 10, Tasks: cfg.Tasks, TaskCPUs: cfg.TaskCPUs, TaskMem: cfg.TaskMem}
	fws, err := startFrameworks(clients, launch, addrs(masters))
	if err != nil {
		return nil, err
	}
	if err := waitRunning(ctx, fws, cfg.Tasks); err != nil {
		return nil, err
	}
	// Launching continues: tasks that finish at once and are replaced.
	churn := &Framework{Name: "churn", Target: 200, Replace: true, CPUs: cfg.TaskCPUs, Mem: cfg.TaskMem, MaxInFlight: 50,
		TaskDuration: 500 * time.Millisecond}
	if err := churn.Start(clients, addrs(masters)); err != nil {
		return nil, err
	}
	res := &StateResult{Tasks: cfg.Tasks}
	res.AllocQuietMaxMs = sampleAllocation(ctx, leader, cfg.Duration)
	before := churn.running.Load()
	var (
		mu           sync.Mutex
		state, getSt []time.Duration
		readersDone  = make(chan struct{})
	)
	var wg sync.WaitGroup
	readCtx, stopReading := context.WithTimeout(ctx, cfg.Duration)
	if cfg.ProfileFile != "" {
		go leader.CPUProfile(cfg.Duration-time.Second, cfg.ProfileFile)
	}
	for i := range max(cfg.Readers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for readCtx.Err() == nil {
				d, n, err := timedRead(readCtx, leader, i%2 == 1)
				if err != nil {
					continue
				}
				mu.Lock()
				if i%2 == 1 {
					getSt, res.GetStateMB = append(getSt, d), float64(n)/1e6
				} else {
					state, res.StateMB = append(state, d), float64(n)/1e6
				}
				mu.Unlock()
			}
		}()
	}
	go func() { wg.Wait(); close(readersDone) }()
	res.AllocReadersMaxMs = sampleAllocation(ctx, leader, cfg.Duration)
	stopReading()
	<-readersDone
	res.LaunchesDuring = churn.running.Load() - before
	p50, p99, _ := percentiles(state)
	res.StateP50Ms, res.StateP99Ms = ms(p50), ms(p99)
	p50, p99, _ = percentiles(getSt)
	res.GetStateP50Ms, res.GetStateP99Ms = ms(p50), ms(p99)
	return res, nil
}

// timedRead fetches /master/state, or GET_STATE (JSON) from the operator
// API, and returns how long it took and its size.
func timedRead(ctx context.Context, m *MasterProcess, operator bool) (time.Duration, int64, error) {
	start := time.Now()
	var req *http.Request
	var err error
	if operator {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m.Addr+"/api/v1", bytes.NewReader([]byte(`{"type":"GET_STATE"}`)))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.Addr+"/master/state", nil)
	}
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("read state: %v %v", resp.Status, err)
	}
	return time.Since(start), n, nil
}

// sampleAllocation watches the last allocation cycle's run time for d and
// returns the longest seen.
func sampleAllocation(ctx context.Context, m *MasterProcess, d time.Duration) float64 {
	var worst float64
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if metrics, err := m.Metrics(); err == nil {
			worst = max(worst, metrics["allocator/mesos/allocation_run_ms"])
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
	return worst
}
