package sim

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/agoraproject/agora/client/marathon"
)

// ChurnConfig is the `churn` scenario: a steady state where tasks keep
// finishing (after TaskDuration) and frameworks keep replacing them.
type ChurnConfig struct {
	Agents, Frameworks, Running int
	AgentCPUs, AgentMem         float64
	TaskCPUs, TaskMem           float64
	TaskDuration, Duration      time.Duration
	Timeout                     time.Duration
}

// ChurnResult is what the churn scenario measured over Duration.
type ChurnResult struct {
	Agents          int     `json:"agents"`
	Running         int     `json:"tasks_kept_running"`
	FinishedPerSec  float64 `json:"tasks_finished_per_second"`
	LaunchedPerSec  float64 `json:"tasks_launched_per_second"`
	LatencyP50Ms    float64 `json:"accept_to_running_p50_ms"`
	LatencyP99Ms    float64 `json:"accept_to_running_p99_ms"`
	AllocationP99Ms float64 `json:"allocation_cycle_p99_ms"`
	MasterRSSMB     float64 `json:"master_rss_mb"`
}

// Churn runs the scenario.
func Churn(ctx context.Context, cc ClusterConfig, cfg ChurnConfig) (*ChurnResult, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, cfg.Duration+5*time.Minute)
	r, err := startRun(ctx, cc, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	ctx, masters := r.ctx, r.masters
	clients := r.clients
	if _, _, err := StartAgents(clients, cfg.Agents, addrs(masters), cfg.AgentCPUs, cfg.AgentMem, cfg.TaskDuration); err != nil {
		return nil, err
	}
	var fws []*Framework
	for i := range cfg.Frameworks {
		fw := &Framework{Name: fmt.Sprintf("churn-%d", i), Target: cfg.Running / max(cfg.Frameworks, 1), Replace: true,
			CPUs: cfg.TaskCPUs, Mem: cfg.TaskMem}
		if err := fw.Start(clients, addrs(masters)); err != nil {
			return nil, err
		}
		fws = append(fws, fw)
	}
	if err := waitRunning(ctx, fws, cfg.Running); err != nil {
		return nil, err
	}
	finished0, running0, lat0 := churnCounts(fws)
	sleepCtx(ctx, cfg.Duration)
	finished1, running1, _ := churnCounts(fws)
	res := &ChurnResult{Agents: cfg.Agents, Running: cfg.Running,
		FinishedPerSec: float64(finished1-finished0) / cfg.Duration.Seconds(),
		LaunchedPerSec: float64(running1-running0) / cfg.Duration.Seconds()}
	var recent []time.Duration
	for _, f := range fws {
		l := f.Latencies()
		recent = append(recent, l[min(len(l), lat0[f]):]...)
	}
	p50, p99, _ := percentiles(recent)
	res.LatencyP50Ms, res.LatencyP99Ms = ms(p50), ms(p99)
	if metrics, err := masters[0].Metrics(); err == nil {
		res.AllocationP99Ms = metrics["allocator/mesos/allocation_run_ms/p99"]
	}
	res.MasterRSSMB = float64(masters[0].RSS()) / 1e6
	return res, nil
}

func churnCounts(fws []*Framework) (finished, running int64, latencies map[*Framework]int) {
	latencies = map[*Framework]int{}
	for _, f := range fws {
		finished += f.finished.Load()
		running += f.running.Load()
		latencies[f] = len(f.Latencies())
	}
	return finished, running, latencies
}

// AppsConfig is the `apps` scenario: deploy Instances instances of one app
// through the Marathon API, then restart it.
type AppsConfig struct {
	Agents              int
	Instances           int
	AgentCPUs, AgentMem float64
	Timeout             time.Duration
}

// AppsResult is how long the deployments took.
type AppsResult struct {
	Instances      int     `json:"instances"`
	DeploySeconds  float64 `json:"deploy_seconds"`
	RestartSeconds float64 `json:"rolling_restart_seconds"`
}

// Apps runs the scenario against the leading master's apps framework.
func Apps(ctx context.Context, cc ClusterConfig, cfg AppsConfig) (*AppsResult, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, 15*time.Minute)
	r, err := startRun(ctx, cc, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	ctx, masters := r.ctx, r.masters
	if _, _, err := StartAgents(r.clients, cfg.Agents, addrs(masters), cfg.AgentCPUs, cfg.AgentMem, 0); err != nil {
		return nil, err
	}
	api := marathon.New("http://" + masters[0].Addr)
	for {
		if _, err := api.Info(ctx); err == nil {
			break
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return nil, fmt.Errorf("the apps API did not come up: %w", err)
		}
	}
	res := &AppsResult{Instances: cfg.Instances}
	def := fmt.Sprintf(`{"id":"/bench","cmd":"sleep 3600","cpus":0.01,"mem":4,"instances":%d,"portDefinitions":[]}`, cfg.Instances)
	start := time.Now()
	dep, _, err := api.PutApp(ctx, []byte(def), false)
	if err != nil {
		return nil, err
	}
	if err := waitDeployment(ctx, api, dep.DeploymentID); err != nil {
		return res, err
	}
	res.DeploySeconds = time.Since(start).Seconds()
	start = time.Now()
	dep, err = api.RestartApp(ctx, "/bench", false)
	if err != nil {
		return res, err
	}
	if err := waitDeployment(ctx, api, dep.DeploymentID); err != nil {
		return res, err
	}
	res.RestartSeconds = time.Since(start).Seconds()
	return res, nil
}

func waitDeployment(ctx context.Context, api *marathon.Client, id string) error {
	for {
		running, err := api.DeploymentRunning(ctx, id)
		if err == nil && !running {
			return nil
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("deployment %s did not finish: %w", id, err)
		}
	}
}
