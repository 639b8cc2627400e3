package cli

import (
	"os"

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
