package sim

import (
	"cmp"
	"context"
	"fmt"
	"time"
)

// FailoverConfig is the `failover` scenario: 3 masters, N agents, tasks
// running; the leader is killed Rounds times.
type FailoverConfig struct {
	Agents, Tasks, Rounds int
	AgentCPUs, AgentMem   float64
	TaskCPUs, TaskMem     float64
	Timeout               time.Duration
}

// FailoverResult is the distribution of recovery times over the rounds.
type FailoverResult struct {
	Agents          int     `json:"agents"`
	Tasks           int     `json:"tasks"`
	Rounds          int     `json:"rounds"`
	LeaderP50Ms     float64 `json:"new_leader_answering_p50_ms"`
	LeaderMaxMs     float64 `json:"new_leader_answering_max_ms"`
	AgentsP50Ms     float64 `json:"all_agents_reregistered_p50_ms"`
	AgentsMaxMs     float64 `json:"all_agents_reregistered_max_ms"`
	FrameworksP50Ms float64 `json:"frameworks_resubscribed_p50_ms"`
	FrameworksMaxMs float64 `json:"frameworks_resubscribed_max_ms"`
	TasksLost       int     `json:"tasks_lost"`
}

// Failover runs the scenario.
func Failover(ctx context.Context, cc ClusterConfig, cfg FailoverConfig) (*FailoverResult, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, 20*time.Minute)
	cc.Masters = 3
	r, err := startRun(ctx, cc, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	ctx, masters := r.ctx, r.masters
	clients := r.clients
	agents, _, err := StartAgents(clients, cfg.Agents, addrs(masters), cfg.AgentCPUs, cfg.AgentMem, 0)
	if err != nil {
		return nil, err
	}
	fw := &Framework{Name: "failover", Target: cfg.Tasks, CPUs: cfg.TaskCPUs, Mem: cfg.TaskMem}
	if err := fw.Start(clients, addrs(masters)); err != nil {
		return nil, err
	}
	if err := waitRunning(ctx, []*Framework{fw}, cfg.Tasks); err != nil {
		return nil, err
	}
	res := &FailoverResult{Agents: cfg.Agents, Tasks: cfg.Tasks, Rounds: cfg.Rounds}
	var leaderT, agentsT, fwT []time.Duration
	for round := 0; round < cfg.Rounds; round++ {
		l, a, f, err := failoverRound(ctx, masters, agents, fw)
		if err != nil {
			return res, fmt.Errorf("round %d: %w", round+1, err)
		}
		leaderT, agentsT, fwT = append(leaderT, l), append(agentsT, a), append(fwT, f)
	}
	p50, _, mx := percentiles(leaderT)
	res.LeaderP50Ms, res.LeaderMaxMs = ms(p50), ms(mx)
	p50, _, mx = percentiles(agentsT)
	res.AgentsP50Ms, res.AgentsMaxMs = ms(p50), ms(mx)
	p50, _, mx = percentiles(fwT)
	res.FrameworksP50Ms, res.FrameworksMaxMs = ms(p50), ms(mx)
	running := 0
	for _, a := range agents {
		running += a.Running()
	}
	res.TasksLost = cfg.Tasks - running + int(fw.lost.Load())
	return res, nil
}

// failoverRound kills the leader and measures how long until a new leader
// answers, every agent has re-registered, and the framework is back.
func failoverRound(ctx context.Context, masters []*MasterProcess, agents []*Agent, fw *Framework) (leader, allAgents, framework time.Duration, err error) {
	old, err := WaitLeader(ctx, masters, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	regs := make([]int, len(agents))
	for i, a := range agents {
		regs[i] = a.Registrations()
	}
	subs := fw.subscriptions()
	killed := time.Now()
	old.Kill()
	defer func() {
		if startErr := old.Start(); err == nil {
			err = startErr
		}
	}()
	if _, err := WaitLeader(ctx, masters, old); err != nil {
		return 0, 0, 0, err
	}
	leader = time.Since(killed)
	giveUp := time.Now().Add(2 * time.Minute)
	for i, a := range agents {
		for a.Registrations() == regs[i] {
			if time.Now().After(giveUp) {
				return 0, 0, 0, fmt.Errorf("%d agents did not re-register within 2 minutes", laggards(agents, regs))
			}
			if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	allAgents = time.Since(killed)
	for fw.subscriptions() == subs {
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return 0, 0, 0, err
		}
	}
	framework = time.Since(killed)
	return leader, allAgents, framework, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func laggards(agents []*Agent, regs []int) int {
	n := 0
	for i, a := range agents {
		if a.Registrations() == regs[i] {
			n++
		}
	}
	return n
}
