package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// masterSubcommands are `agora master list|add|remove`: the masters' Raft
// membership (docs/ha.md).
func masterSubcommands() []*cobra.Command {
	var listFlags, addFlags, removeFlags clientFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the masters of the cluster's Raft group",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			members, err := listFlags.client().Masters(cmd.Context())
			if err != nil {
				return err
			}
			return listFlags.print(cmd.OutOrStdout(), members, "RAFT ADDRESS\tVOTER\tLEADER", func(w io.Writer) {
				for _, m := range members {
					fmt.Fprintf(w, "%s\t%v\t%v\n", m.Address, m.Voter, m.Leader)
				}
			})
		},
	}
	listFlags.register(list)
	add := &cobra.Command{
		Use:   "add RAFT_ADDRESS",
		Short: "Add a master (started without bootstrapping) to the Raft group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return addFlags.client().AddMaster(cmd.Context(), args[0])
		},
	}
	addFlags.register(add)
	remove := &cobra.Command{
		Use:   "remove RAFT_ADDRESS",
		Short: "Remove a master from the Raft group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return removeFlags.client().RemoveMaster(cmd.Context(), args[0])
		},
	}
	removeFlags.register(remove)
	return []*cobra.Command{list, add, remove}
}
