package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/internal/executor"
)

// newExecutorCommand is `agora executor`, the command executor the agent
// starts for each command task. It is configured by the MESOS_* environment
// and logs to stderr, which the agent points at the sandbox's stderr file.
func newExecutorCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "executor",
		Short:  "Run the command executor (started by the agent, configured by MESOS_* environment)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := executor.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			cfg.Logger = newLogger()
			return executor.Run(cmd.Context(), cfg)
		},
	}
}
