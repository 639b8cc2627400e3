package cli

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agoraproject/agora/internal/sim"
)

// newBenchCommand is `agora bench SCENARIO`: scale scenarios against real
// masters with simulated agents and frameworks (docs/BENCHMARKS.md).
func newBenchCommand() *cobra.Command {
	var asJSON bool
	var workDir string
	cmd := &cobra.Command{Use: "bench", Short: "Run a scale scenario against real masters with simulated agents"}
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.PersistentFlags().StringVar(&workDir, "work_dir", "", "where the masters keep their data and logs (default: a temporary directory)")

	var cfg sim.LaunchConfig
	launch := &cobra.Command{
		Use:   "launch",
		Short: "Launch T tasks across N simulated agents and M frameworks",
		Args:  cobra.NoArgs,
		RunE: benchScenario("launch", &asJSON, &workDir, func(ctx context.Context, dir string) (*sim.LaunchResult, error) {
			return sim.Launch(ctx, sim.ClusterConfig{Masters: 1, WorkDir: dir, Profiling: cfg.ProfileFile != ""}, cfg)
		}),
	}
	f := launch.Flags()
	f.IntVar(&cfg.Agents, "agents", 1000, "simulated agents")
	f.IntVar(&cfg.Frameworks, "frameworks", 10, "frameworks")
	f.IntVar(&cfg.Tasks, "tasks", 10000, "tasks to launch")
	sizeFlags(f, &cfg.AgentCPUs, &cfg.AgentMem, &cfg.TaskCPUs, &cfg.TaskMem)
	f.DurationVar(&cfg.TaskDuration, "task_duration", 0, "tasks finish this long after running (0: never)")
	f.DurationVar(&cfg.Timeout, "timeout", 10*time.Minute, "give up after this long")
	f.IntVar(&cfg.MaxInFlight, "max_in_flight", 0, "per framework, tasks launched and not yet running (0: no bound)")
	f.StringVar(&cfg.ProfileFile, "master_profile", "", "write a 15 s CPU profile of the master taken during the launch")
	cmd.AddCommand(launch, newBenchFailoverCommand(&asJSON, &workDir), newBenchStateCommand(&asJSON, &workDir),
		newBenchChurnCommand(&asJSON, &workDir), newBenchAppsCommand(&asJSON, &workDir))
	return cmd
}

func newBenchFailoverCommand(asJSON *bool, workDir *string) *cobra.Command {
	var cfg sim.FailoverConfig
	var raftTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "3 masters, N agents, tasks running: kill the leader, round after round",
		Args:  cobra.NoArgs,
		RunE: benchScenario("failover", asJSON, workDir, func(ctx context.Context, dir string) (*sim.FailoverResult, error) {
			return sim.Failover(ctx, sim.ClusterConfig{WorkDir: dir, RaftTimeout: raftTimeout}, cfg)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Agents, "agents", 100, "simulated agents")
	f.IntVar(&cfg.Tasks, "tasks", 1000, "tasks running during the failovers")
	f.IntVar(&cfg.Rounds, "rounds", 20, "how many times the leader is killed")
	f.DurationVar(&raftTimeout, "raft_timeout", time.Second, "the masters' --raft_timeout (how soon a dead leader is noticed)")
	sizeFlags(f, &cfg.AgentCPUs, &cfg.AgentMem, &cfg.TaskCPUs, &cfg.TaskMem)
	f.DurationVar(&cfg.Timeout, "timeout", 20*time.Minute, "give up after this long")
	return cmd
}

// sizeFlags are the simulated agents' and tasks' sizes (the task flags
// only when taskCPUs is given).
func sizeFlags(f *pflag.FlagSet, agentCPUs, agentMem, taskCPUs, taskMem *float64) {
	f.Float64Var(agentCPUs, "agent_cpus", 16, "cpus per agent")
	f.Float64Var(agentMem, "agent_mem", 65536, "mem (MB) per agent")
	if taskCPUs != nil {
		f.Float64Var(taskCPUs, "task_cpus", 0.1, "cpus per task")
		f.Float64Var(taskMem, "task_mem", 32, "mem (MB) per task")
	}
}

// benchScenario is the RunE of a scenario command: it runs the scenario in
// the work directory (a temporary one by default) and prints what it
// measured, also when it failed part-way.
func benchScenario[R any](name string, asJSON *bool, workDir *string, run func(ctx context.Context, dir string) (*R, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		dir, cleanup, err := benchDir(*workDir)
		if err != nil {
			return err
		}
		defer cleanup()
		res, err := run(cmd.Context(), dir)
		if res != nil {
			sim.Print(cmd.OutOrStdout(), name, res, *asJSON)
		}
		return err
	}
}

// benchDir is the given directory, or a temporary one removed afterwards.
func benchDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "agora-bench")
	return tmp, func() { os.RemoveAll(tmp) }, err
}

func newBenchStateCommand(asJSON *bool, workDir *string) *cobra.Command {
	var cfg sim.StateConfig
	cmd := &cobra.Command{
		Use:   "state",
		Short: "/master/state and GET_STATE latency and size with many tasks, while launching continues",
		Args:  cobra.NoArgs,
		RunE: benchScenario("state", asJSON, workDir, func(ctx context.Context, dir string) (*sim.StateResult, error) {
			return sim.State(ctx, sim.ClusterConfig{Masters: 1, WorkDir: dir, Profiling: cfg.ProfileFile != ""}, cfg)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Agents, "agents", 1000, "simulated agents")
	f.IntVar(&cfg.Tasks, "tasks", 100000, "tasks running while the state is read")
	f.IntVar(&cfg.Readers, "readers", 2, "concurrent readers (half /master/state, half GET_STATE)")
	sizeFlags(f, &cfg.AgentCPUs, &cfg.AgentMem, &cfg.TaskCPUs, &cfg.TaskMem)
	f.DurationVar(&cfg.Duration, "duration", 15*time.Second, "how long to read (and, before, to watch without readers)")
	f.StringVar(&cfg.ProfileFile, "master_profile", "", "write a CPU profile of the master taken while it is read")
	f.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "give up after this long")
	return cmd
}

func newBenchChurnCommand(asJSON *bool, workDir *string) *cobra.Command {
	var cfg sim.ChurnConfig
	cmd := &cobra.Command{
		Use:   "churn",
		Short: "Steady state: tasks keep finishing and being replaced",
		Args:  cobra.NoArgs,
		RunE: benchScenario("churn", asJSON, workDir, func(ctx context.Context, dir string) (*sim.ChurnResult, error) {
			return sim.Churn(ctx, sim.ClusterConfig{Masters: 1, WorkDir: dir}, cfg)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Agents, "agents", 1000, "simulated agents")
	f.IntVar(&cfg.Frameworks, "frameworks", 10, "frameworks")
	f.IntVar(&cfg.Running, "running", 10000, "tasks kept running")
	sizeFlags(f, &cfg.AgentCPUs, &cfg.AgentMem, &cfg.TaskCPUs, &cfg.TaskMem)
	f.DurationVar(&cfg.TaskDuration, "task_duration", 2*time.Second, "how long a task runs")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to measure the steady state")
	return cmd
}

func newBenchAppsCommand(asJSON *bool, workDir *string) *cobra.Command {
	var cfg sim.AppsConfig
	cmd := &cobra.Command{
		Use:   "apps",
		Short: "Deploy and rolling-restart an app of many instances through the Marathon API",
		Args:  cobra.NoArgs,
		RunE: benchScenario("apps", asJSON, workDir, func(ctx context.Context, dir string) (*sim.AppsResult, error) {
			return sim.Apps(ctx, sim.ClusterConfig{Masters: 1, WorkDir: dir}, cfg)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Agents, "agents", 100, "simulated agents")
	f.IntVar(&cfg.Instances, "instances", 1000, "instances of the app")
	sizeFlags(f, &cfg.AgentCPUs, &cfg.AgentMem, nil, nil)
	f.DurationVar(&cfg.Timeout, "timeout", 15*time.Minute, "give up after this long")
	return cmd
}
