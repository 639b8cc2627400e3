package cli

import (
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/internal/executor"
	"github.com/agoraproject/agora/internal/executor/host"
)

// newExecutorCommand is `agora executor`, the command executor the agent
// starts for each command task. It is configured by the MESOS_* environment
// and logs to stderr, which the agent points at the sandbox's stderr file.
// With --host it is instead the agent's executor host, which runs the
// built-in executors as goroutines (package executor/host).
func newExecutorCommand() *cobra.Command {
	var socket string
	cmd := &cobra.Command{
		Use:    "executor",
		Short:  "Run the command executor (started by the agent, configured by MESOS_* environment)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			useOneProcessor()
			if socket != "" {
				return host.Main(cmd.Context(), socket, newLogger(), logLevel.Level())
			}
			cfg, err := executor.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			cfg.Logger = newLogger()
			return executor.Run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&socket, "host", "", "run as the agent's executor host, listening on this socket")
	return cmd
}

// useOneProcessor runs an executor's Go code (or the executor host's) on
// one processor, unless GOMAXPROCS says otherwise. An executor spends its
// time in system calls and short bursts of work and needs no parallelism;
// with a processor per core every wakeup may also wake an idle processor
// that spins looking for work on a core the agent, the master or a task
// wanted. At ~1.4 ms of host CPU per short task, one processor is enough
// for ~700 tasks/s per agent. The gain in the short-task benchmark is
// within this VM's spread (docs/BENCHMARKS.md); one processor in every
// process there (GOMAXPROCS=1) took the machine's CPU per task from 5.2
// to 4.85 ms. The tasks do not inherit the setting.
func useOneProcessor() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
}
