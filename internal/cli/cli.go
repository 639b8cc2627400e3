// Package cli is the agora command tree: the daemons (master, agent,
// executor, dev) and the client commands. Each command parses its flags into
// a component's Config and runs it; no cluster logic lives here.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(mesosNegations(root, args))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "agora:", err)
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "agora",
		Short:         "Agora: a Mesos- and Marathon-compatible cluster manager in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	masterCmd := newMasterCommand()
	masterCmd.AddCommand(masterSubcommands()...)
	agentCmd := newAgentCommand()
	agentCmd.AddCommand(newAgentListCommand())
	root.AddCommand(masterCmd, agentCmd, newExecutorCommand(), newDevCommand(),
		newFrameworkCommand(), newTaskCommand(), newBenchCommand(), newAppCommand(), newDeploymentCommand())
	addOperatorCommands(root)
	root.AddCommand(newImageCommand(), newContainerInitCommand())
	return root
}
