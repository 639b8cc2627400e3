package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// newDeploymentCommand is `agora deployment list|cancel`.
func newDeploymentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "deployment", Short: "Inspect and cancel app deployments (Marathon API)"}
	cmd.AddCommand(newDeploymentListCommand(), newDeploymentCancelCommand())
	return cmd
}

func newDeploymentListCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List running deployments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := f.client().Deployments(cmd.Context())
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), ds, "ID\tVERSION\tAPPS\tSTEP\tCURRENT ACTIONS", func(w io.Writer) {
				for _, d := range ds {
					var actions []string
					for _, a := range d.CurrentActions {
						actions = append(actions, a.Action+" "+a.App)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%s\n", d.ID, d.Version, strings.Join(d.AffectedApps, ","),
						d.CurrentStep, d.TotalSteps, strings.Join(actions, ", "))
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func newDeploymentCancelCommand() *cobra.Command {
	var f appFlags
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a deployment and roll its apps back (--force: just stop it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			revert, err := f.client().CancelDeployment(cmd.Context(), args[0], f.force)
			if err != nil {
				return err
			}
			if revert == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "deployment %s stopped\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deployment %s cancelled; rolling back in deployment %s\n", args[0], revert.DeploymentID)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&f.force, "force", false, "stop the deployment without rolling back")
	return cmd
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
