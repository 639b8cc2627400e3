package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/sim"
)

// TestBenchScenarios runs every `agora bench` scenario at a tiny size
// against real masters: each must finish and measure what it says, so the
// scenarios behind docs/BENCHMARKS.md keep working.
func TestBenchScenarios(t *testing.T) {
	ctx := context.Background()
	cluster := func(masters int) sim.ClusterConfig {
		return sim.ClusterConfig{Binary: agoraBin, Masters: masters, WorkDir: t.TempDir(), RaftTimeout: 200 * time.Millisecond}
	}
	const cpus, mem = 4, 4096
	t.Run("launch", func(t *testing.T) {
		res, err := sim.Launch(ctx, cluster(1), sim.LaunchConfig{Agents: 5, Frameworks: 2, Tasks: 100,
			AgentCPUs: cpus, AgentMem: mem, TaskCPUs: 0.1, TaskMem: 32, Timeout: 2 * time.Minute})
		if err != nil || res.Running != 100 || res.TasksPerSecond <= 0 || res.LatencyP50Ms <= 0 {
			t.Fatalf("launch: %+v, %v", res, err)
		}
	})
	t.Run("churn", func(t *testing.T) {
		res, err := sim.Churn(ctx, cluster(1), sim.ChurnConfig{Agents: 5, Frameworks: 2, Running: 50,
			AgentCPUs: cpus, AgentMem: mem, TaskCPUs: 0.1, TaskMem: 32,
			TaskDuration: 200 * time.Millisecond, Duration: 2 * time.Second, Timeout: 2 * time.Minute})
		if err != nil || res.FinishedPerSec <= 0 || res.LaunchedPerSec <= 0 {
			t.Fatalf("churn: %+v, %v", res, err)
		}
	})
	t.Run("state", func(t *testing.T) {
		res, err := sim.State(ctx, cluster(1), sim.StateConfig{Agents: 5, Tasks: 100, Readers: 2,
			AgentCPUs: cpus, AgentMem: mem, TaskCPUs: 0.1, TaskMem: 32, Duration: time.Second, Timeout: 2 * time.Minute})
		if err != nil || res.Tasks != 100 || res.StateP50Ms <= 0 || res.GetStateP50Ms <= 0 {
			t.Fatalf("state: %+v, %v", res, err)
		}
	})
	t.Run("failover", func(t *testing.T) {
		res, err := sim.Failover(ctx, cluster(3), sim.FailoverConfig{Agents: 5, Tasks: 20, Rounds: 1,
			AgentCPUs: cpus, AgentMem: mem, TaskCPUs: 0.1, TaskMem: 32, Timeout: 2 * time.Minute})
		if err != nil || res.Rounds != 1 || res.TasksLost != 0 || res.AgentsP50Ms <= 0 {
			t.Fatalf("failover: %+v, %v", res, err)
		}
	})
	t.Run("apps", func(t *testing.T) {
		res, err := sim.Apps(ctx, cluster(1), sim.AppsConfig{Agents: 2, Instances: 10,
			AgentCPUs: cpus, AgentMem: mem, Timeout: 2 * time.Minute})
		if err != nil || res.Instances != 10 || res.DeploySeconds <= 0 || res.RestartSeconds <= 0 {
			t.Fatalf("apps: %+v, %v", res, err)
		}
	})
}
