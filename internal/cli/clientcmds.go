package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/client/operator"
)

// clientFlags are the flags every client command shares.
type clientFlags struct {
	masters string
	output  string
}

func (f *clientFlags) register(cmd *cobra.Command) {
	def := os.Getenv("AGORA_MASTER")
	if def == "" {
		def = "127.0.0.1:5050"
	}
	cmd.Flags().StringVar(&f.masters, "master", def, "master(s) to ask, host:port[,host:port] (env AGORA_MASTER)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
}

func (f *clientFlags) client() *operator.Client {
	return operator.New(strings.Split(f.masters, ",")...)
}

// print writes v as JSON, or calls table to write rows.
func (f *clientFlags) print(w io.Writer, v any, header string, rows func(tw io.Writer)) error {
	switch f.output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		rows(tw)
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q (use table or json)", f.output)
}

func newAgentListCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's agents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			agents, err := f.client().Agents(cmd.Context())
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), agents, "ID\tHOSTNAME\tACTIVE\tCPUS\tMEM\tDISK\tUSED CPUS\tUSED MEM", func(w io.Writer) {
				for _, a := range agents {
					fmt.Fprintf(w, "%s\t%s\t%v\t%v\t%v\t%v\t%v\t%v\n", a.ID, a.Hostname, a.Active,
						a.Resources["cpus"], a.Resources["mem"], a.Resources["disk"],
						a.UsedResources["cpus"], a.UsedResources["mem"])
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func newFrameworkCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "framework", Short: "Inspect frameworks"}
	var f clientFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the cluster's frameworks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			active, _, err := f.client().Frameworks(cmd.Context())
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), active, "ID\tNAME\tUSER\tCONNECTED\tROLES\tTASKS\tUSED CPUS\tUSED MEM", func(w io.Writer) {
				for _, fw := range active {
					roles := fw.Roles
					if len(roles) == 0 {
						roles = []string{fw.Role}
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%d\t%v\t%v\n", fw.ID, fw.Name, fw.User, fw.Connected,
						strings.Join(roles, ","), len(fw.Tasks), fw.UsedResources["cpus"], fw.UsedResources["mem"])
				}
			})
		},
	}
	f.register(list)
	cmd.AddCommand(list)
	return cmd
}

func newTaskCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Inspect tasks"}
	var f clientFlags
	var q operator.TaskQuery
	var app string
	list := &cobra.Command{
		Use:   "list",
		Short: "List tasks, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if app != "" {
				q.Limit = max(q.Limit, 100000)
			}
			tasks, err := f.client().Tasks(cmd.Context(), q)
			if err != nil {
				return err
			}
			if app != "" {
				tasks = appTasks(tasks, app)
			}
			return f.print(cmd.OutOrStdout(), tasks, "ID\tNAME\tSTATE\tFRAMEWORK\tAGENT", func(w io.Writer) {
				for _, t := range tasks {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.State, t.FrameworkID, t.SlaveID)
				}
			})
		},
	}
	f.register(list)
	list.Flags().StringVar(&q.FrameworkID, "framework", "", "only tasks of this framework ID")
	list.Flags().IntVar(&q.Limit, "limit", 100, "at most this many tasks")
	list.Flags().StringVar(&app, "app", "", "only the tasks of this app (Marathon app ID, e.g. /web)")
	cmd.AddCommand(list)
	return cmd
}

// appTasks keeps the tasks of a Marathon app: their IDs start with the app
// ID without its leading slash, slashes as underscores, then ".instance-"
// (or the legacy ".").
func appTasks(tasks []operator.Task, app string) []operator.Task {
	prefix := strings.ReplaceAll(strings.TrimPrefix(app, "/"), "/", "_") + "."
	var out []operator.Task
	for _, t := range tasks {
		if strings.HasPrefix(t.ID, prefix) {
			out = append(out, t)
		}
	}
	return out
}
