package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// The operator commands: everything an operator does to a running cluster
// through the v1 operator API (client/operator). They are added to the
// command tree by addOperatorCommands:
//
//	agora cluster status
//	agora agent show|drain|deactivate|reactivate
//	agora framework show|teardown
//	agora task show|kill|logs [-f]
//	agora quota [set|remove]
//	agora weights [set]
//	agora maintenance schedule [set]|add|status|down|up
//
// `-o json` prints the operator API's messages in Mesos JSON (or, for
// summaries, plain JSON).

// addOperatorCommands adds the operator commands to root: subcommands of
// its agent, framework and task commands (created if absent) and the
// cluster, quota, weights and maintenance commands.
func addOperatorCommands(root *cobra.Command) {
	subcommand(root, "agent", "Run and inspect agents").AddCommand(
		newAgentShowCommand(), newAgentDrainCommand(), newAgentDeactivateCommand(), newAgentReactivateCommand())
	subcommand(root, "framework", "Inspect frameworks").AddCommand(newFrameworkShowCommand(), newFrameworkTeardownCommand())
	subcommand(root, "task", "Inspect tasks").AddCommand(newTaskShowCommand(), newTaskKillCommand(), newTaskLogsCommand())
	root.AddCommand(newClusterCommand(), newQuotaCommand(), newWeightsCommand(), newMaintenanceCommand())
}

// subcommand returns root's child named name, adding a bare one if needed.
func subcommand(root *cobra.Command, name, short string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	c := &cobra.Command{Use: name, Short: short}
	root.AddCommand(c)
	return c
}

// printMessage writes a message as indented Mesos JSON.
func printMessage(w io.Writer, m proto.Message) error {
	raw, err := mesosjson.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// printSummary writes v as JSON, or table's tab-separated lines aligned.
func (f *clientFlags) printSummary(w io.Writer, v any, table func(io.Writer)) error {
	if f.output == "json" {
		return f.print(w, v, "", nil)
	}
	if f.output != "table" && f.output != "" {
		return fmt.Errorf("unknown output format %q (use table or json)", f.output)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

// printDetail writes a message as JSON, or key/value lines.
func (f *clientFlags) printDetail(w io.Writer, m proto.Message, lines [][2]string) error {
	if f.output == "json" {
		return printMessage(w, m)
	}
	if f.output != "table" && f.output != "" {
		return fmt.Errorf("unknown output format %q (use table or json)", f.output)
	}
	for _, l := range lines {
		fmt.Fprintf(w, "%-20s %s\n", l[0]+":", l[1])
	}
	return nil
}

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Inspect the cluster as a whole"}
	var f clientFlags
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the leading master, agents, frameworks, tasks and resources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			leader, err := c.GetMaster(cmd.Context())
			if err != nil {
				return err
			}
			state, err := c.GetState(cmd.Context())
			if err != nil {
				return err
			}
			s := summarize(leader, state)
			return f.printSummary(cmd.OutOrStdout(), s, s.writeTable)
		},
	}
	f.register(status)
	cmd.AddCommand(status)
	return cmd
}

// clusterStatus is `agora cluster status`'s summary.
type clusterStatus struct {
	Leader      string             `json:"leader"`
	LeaderID    string             `json:"leader_id"`
	Version     string             `json:"version"`
	ElectedTime float64            `json:"elected_time"`
	Agents      agentCounts        `json:"agents"`
	Frameworks  int                `json:"frameworks"`
	Tasks       map[string]int     `json:"tasks"`
	Total       map[string]float64 `json:"total_resources"`
	Used        map[string]float64 `json:"used_resources"`
}

type agentCounts struct {
	Active      int `json:"active"`
	Deactivated int `json:"deactivated"`
	Draining    int `json:"draining"`
	Recovered   int `json:"recovered"`
}

func summarize(leader *masterpb.Response_GetMaster, state *masterpb.Response_GetState) clusterStatus {
	info := leader.GetMasterInfo()
	s := clusterStatus{
		Leader:      fmt.Sprintf("%s:%d", info.GetHostname(), info.GetPort()),
		LeaderID:    info.GetId(),
		Version:     info.GetVersion(),
		ElectedTime: leader.GetElectedTime(),
		Frameworks:  len(state.GetGetFrameworks().GetFrameworks()),
		Tasks:       map[string]int{},
		Total:       map[string]float64{},
		Used:        map[string]float64{},
	}
	agents := state.GetGetAgents()
	s.Agents.Recovered = len(agents.GetRecoveredAgents())
	for _, a := range agents.GetAgents() {
		switch {
		case a.GetDrainInfo() != nil:
			s.Agents.Draining++
		case a.GetActive():
			s.Agents.Active++
		default:
			s.Agents.Deactivated++
		}
		addScalars(s.Total, a.GetTotalResources())
		addScalars(s.Used, a.GetAllocatedResources())
	}
	tasks := state.GetGetTasks()
	for _, t := range append(append([]*mesos.Task{}, tasks.GetTasks()...), tasks.GetUnreachableTasks()...) {
		s.Tasks[strings.TrimPrefix(t.GetState().String(), "TASK_")]++
	}
	return s
}

func addScalars(into map[string]float64, rs []*mesos.Resource) {
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			into[r.GetName()] += r.GetScalar().GetValue()
		}
	}
}

func (s clusterStatus) writeTable(w io.Writer) {
	elected := "-"
	if s.ElectedTime > 0 {
		elected = time.Unix(0, int64(s.ElectedTime*1e9)).UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Leader:\t%s (%s), version %s, elected %s\n", s.Leader, s.LeaderID, s.Version, elected)
	fmt.Fprintf(w, "Agents:\t%d active, %d deactivated, %d draining, %d not re-registered\n",
		s.Agents.Active, s.Agents.Deactivated, s.Agents.Draining, s.Agents.Recovered)
	fmt.Fprintf(w, "Frameworks:\t%d\n", s.Frameworks)
	var states []string
	for _, st := range sortedNames(s.Tasks) {
		states = append(states, fmt.Sprintf("%d %s", s.Tasks[st], strings.ToLower(st)))
	}
	if len(states) == 0 {
		states = []string{"none"}
	}
	fmt.Fprintf(w, "Tasks:\t%s\n", strings.Join(states, ", "))
	for _, name := range sortedNames(s.Total) {
		fmt.Fprintf(w, "%s:\t%s of %s used\n", name, formatAmount(s.Used[name]), formatAmount(s.Total[name]))
	}
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func formatAmount(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// scalarSummary renders resources as "cpus:2; mem:1024; ports:[...]".
func scalarSummary(rs []*mesos.Resource) string {
	var parts []string
	for _, r := range rs {
		name := r.GetName()
		if role := r.GetAllocationInfo().GetRole(); role == "" {
			if n := len(r.GetReservations()); n > 0 {
				name += "(" + r.GetReservations()[n-1].GetRole() + ")"
			}
		}
		if id := r.GetDisk().GetPersistence().GetId(); id != "" {
			name += "[" + id + "]"
		}
		switch r.GetType() {
		case mesos.Value_SCALAR:
			parts = append(parts, name+":"+formatAmount(r.GetScalar().GetValue()))
		case mesos.Value_RANGES:
			var rg []string
			for _, x := range r.GetRanges().GetRange() {
				rg = append(rg, fmt.Sprintf("%d-%d", x.GetBegin(), x.GetEnd()))
			}
			parts = append(parts, name+":["+strings.Join(rg, ",")+"]")
		case mesos.Value_SET:
			parts = append(parts, name+":{"+strings.Join(r.GetSet().GetItem(), ",")+"}")
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

func timeString(t *mesos.TimeInfo) string {
	if t == nil {
		return "-"
	}
	return time.Unix(0, t.GetNanoseconds()).UTC().Format(time.RFC3339)
}
