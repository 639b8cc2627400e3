package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/internal/containerizer/linux"
)

// newContainerInitCommand is `agora container-init`, the init of a linux
// container: the agent starts it as PID 1 of the container's namespaces,
// configured over inherited pipes (see package linux). It is not for
// people to run.
func newContainerInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "container-init",
		Short:              "Run as PID 1 of a container (started by the agent)",
		Hidden:             true,
		DisableFlagParsing: true,
		Run: func(cmd *cobra.Command, args []string) {
			os.Exit(linux.Init())
		},
	}
}
