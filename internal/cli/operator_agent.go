package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/client/operator"
)

// `agora agent show|drain|deactivate|reactivate` and
// `agora framework show|teardown`.

func newAgentShowCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "show AGENT_ID",
		Short: "Show an agent: state, resources, attributes and tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			a, err := findAgent(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printMessage(cmd.OutOrStdout(), a)
			}
			tasks, err := c.GetTasks(cmd.Context())
			if err != nil {
				return err
			}
			if err := f.printDetail(cmd.OutOrStdout(), a, agentLines(a)); err != nil {
				return err
			}
			return writeTaskTable(cmd.OutOrStdout(), tasksWhere(tasks, func(t *mesos.Task) bool {
				return t.GetAgentId().GetValue() == args[0]
			}))
		},
	}
	f.register(cmd)
	return cmd
}

func findAgent(ctx context.Context, c *operator.Client, id string) (*masterpb.Response_GetAgents_Agent, error) {
	agents, err := c.GetAgents(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range agents.GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() == id {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no agent %q (see `agora agent list`)", id)
}

func agentLines(a *masterpb.Response_GetAgents_Agent) [][2]string {
	info := a.GetAgentInfo()
	state := "active"
	switch {
	case a.GetDrainInfo() != nil:
		state = strings.ToLower(a.GetDrainInfo().GetState().String())
	case a.GetDeactivated():
		state = "deactivated"
	case !a.GetActive():
		state = "disconnected"
	}
	var attrs []string
	for _, at := range info.GetAttributes() {
		attrs = append(attrs, at.GetName()+":"+attributeValue(at))
	}
	return [][2]string{
		{"ID", info.GetId().GetValue()},
		{"Hostname", info.GetHostname()},
		{"Address", operator.AgentAddress(a.GetPid())},
		{"State", state},
		{"Version", a.GetVersion()},
		{"Registered", timeString(a.GetRegisteredTime())},
		{"Total", scalarSummary(a.GetTotalResources())},
		{"Allocated", scalarSummary(a.GetAllocatedResources())},
		{"Offered", scalarSummary(a.GetOfferedResources())},
		{"Attributes", orDash(strings.Join(attrs, "; "))},
	}
}

func attributeValue(a *mesos.Attribute) string {
	switch a.GetType() {
	case mesos.Value_SCALAR:
		return formatAmount(a.GetScalar().GetValue())
	case mesos.Value_TEXT:
		return a.GetText().GetValue()
	}
	return scalarSummary([]*mesos.Resource{{Name: a.Name, Type: a.Type, Ranges: a.Ranges, Set: a.Set}})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newAgentDrainCommand() *cobra.Command {
	var f clientFlags
	var maxGrace time.Duration
	var markGone bool
	cmd := &cobra.Command{
		Use:   "drain AGENT_ID",
		Short: "Drain an agent: no more offers, its tasks are killed; with --mark-gone it is then removed for good",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.client().DrainAgent(cmd.Context(), args[0], maxGrace, markGone); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s is draining\n", args[0])
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&maxGrace, "max-grace-period", 0, "cap on each task's kill grace period (0: the task's own)")
	cmd.Flags().BoolVar(&markGone, "mark-gone", false, "mark the agent gone once it is drained")
	return cmd
}

func newAgentDeactivateCommand() *cobra.Command {
	return agentActionCommand("deactivate", "Stop offering an agent's resources (its tasks keep running)", "deactivated",
		(*operator.Client).DeactivateAgent)
}

func newAgentReactivateCommand() *cobra.Command {
	return agentActionCommand("reactivate", "Offer a deactivated or drained agent's resources again", "reactivated",
		(*operator.Client).ReactivateAgent)
}

func agentActionCommand(verb, short, done string, call func(*operator.Client, context.Context, string) error) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   verb + " AGENT_ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := call(f.client(), cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent %s %s\n", args[0], done)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newFrameworkShowCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "show FRAMEWORK_ID",
		Short: "Show a framework (active or completed) and its tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			fws, err := c.GetFrameworks(cmd.Context())
			if err != nil {
				return err
			}
			fw, completed := findFramework(fws, args[0])
			if fw == nil {
				return fmt.Errorf("no framework %q (see `agora framework list`)", args[0])
			}
			if f.output == "json" {
				return printMessage(cmd.OutOrStdout(), fw)
			}
			tasks, err := c.GetTasks(cmd.Context())
			if err != nil {
				return err
			}
			if err := f.printDetail(cmd.OutOrStdout(), fw, frameworkLines(fw, completed)); err != nil {
				return err
			}
			return writeTaskTable(cmd.OutOrStdout(), tasksWhere(tasks, func(t *mesos.Task) bool {
				return t.GetFrameworkId().GetValue() == args[0]
			}))
		},
	}
	f.register(cmd)
	return cmd
}

// findFramework finds an active or completed framework.
func findFramework(fws *masterpb.Response_GetFrameworks, id string) (fw *masterpb.Response_GetFrameworks_Framework, completed bool) {
	for i, list := range [][]*masterpb.Response_GetFrameworks_Framework{fws.GetFrameworks(), fws.GetCompletedFrameworks()} {
		for _, fw := range list {
			if fw.GetFrameworkInfo().GetId().GetValue() == id {
				return fw, i == 1
			}
		}
	}
	return nil, false
}

func frameworkLines(fw *masterpb.Response_GetFrameworks_Framework, completed bool) [][2]string {
	info := fw.GetFrameworkInfo()
	roles := info.GetRoles()
	if len(roles) == 0 {
		roles = []string{info.GetRole()}
	}
	state := "active"
	switch {
	case completed:
		state = "completed"
	case !fw.GetConnected():
		state = "disconnected"
	case !fw.GetActive():
		state = "inactive"
	}
	return [][2]string{
		{"ID", info.GetId().GetValue()},
		{"Name", info.GetName()},
		{"User", info.GetUser()},
		{"Roles", strings.Join(roles, ",")},
		{"State", state},
		{"Failover timeout", fmt.Sprintf("%gs", info.GetFailoverTimeout())},
		{"Registered", timeString(fw.GetRegisteredTime())},
		{"Allocated", scalarSummary(fw.GetAllocatedResources())},
		{"Offered", scalarSummary(fw.GetOfferedResources())},
		{"Outstanding offers", fmt.Sprint(len(fw.GetOffers()))},
		{"Web UI", orDash(info.GetWebuiUrl())},
	}
}

func newFrameworkTeardownCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "teardown FRAMEWORK_ID",
		Short: "Remove a framework: its tasks are killed and it may not come back",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.client().Teardown(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "framework %s torn down\n", args[0])
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// tasksWhere lists the active, unreachable and completed tasks that keep
// selects.
func tasksWhere(all *masterpb.Response_GetTasks, keep func(*mesos.Task) bool) []*mesos.Task {
	var out []*mesos.Task
	for _, list := range [][]*mesos.Task{all.GetTasks(), all.GetUnreachableTasks(), all.GetCompletedTasks()} {
		for _, t := range list {
			if keep(t) {
				out = append(out, t)
			}
		}
	}
	return out
}

func writeTaskTable(w io.Writer, tasks []*mesos.Task) error {
	if len(tasks) == 0 {
		_, err := fmt.Fprintln(w, "\nno tasks")
		return err
	}
	fmt.Fprintln(w)
	f := clientFlags{output: "table"}
	return f.print(w, nil, "TASK\tNAME\tSTATE\tFRAMEWORK\tAGENT", func(tw io.Writer) {
		for _, t := range tasks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.GetTaskId().GetValue(), t.GetName(), t.GetState(),
				t.GetFrameworkId().GetValue(), t.GetAgentId().GetValue())
		}
	})
}
