package cli

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	"github.com/agoraproject/agora/api/v1/maintenance"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/client/operator"
)

// `agora maintenance ...`: the maintenance schedule and machines. A
// MACHINE is a hostname, an IP, or hostname/IP.

func newMaintenanceCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "maintenance", Short: "Schedule machine maintenance, take machines down and up"}
	schedule := newMaintenanceScheduleCommand()
	schedule.AddCommand(newMaintenanceScheduleSetCommand())
	cmd.AddCommand(schedule, newMaintenanceAddCommand(), newMaintenanceStatusCommand(),
		machinesCommand("down", "Take scheduled machines down: their agents are shut down", (*operator.Client).StartMaintenance),
		machinesCommand("up", "Bring machines back up and out of the schedule", (*operator.Client).StopMaintenance))
	return cmd
}

func parseMachine(s string) (*mesos.MachineID, error) {
	host, ip, _ := strings.Cut(s, "/")
	if _, err := netip.ParseAddr(host); err == nil && ip == "" {
		host, ip = "", host
	}
	if ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("machine %q: %q is not an IP address", s, ip)
		}
	}
	if host == "" && ip == "" {
		return nil, fmt.Errorf("machine %q: give a hostname, an IP or hostname/IP", s)
	}
	id := &mesos.MachineID{}
	if host != "" {
		id.Hostname = proto.String(host)
	}
	if ip != "" {
		id.Ip = proto.String(ip)
	}
	return id, nil
}

func parseMachines(args []string) ([]*mesos.MachineID, error) {
	var out []*mesos.MachineID
	for _, a := range args {
		id, err := parseMachine(a)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func machineString(id *mesos.MachineID) string {
	switch {
	case id.GetHostname() == "":
		return id.GetIp()
	case id.GetIp() == "":
		return id.GetHostname()
	}
	return id.GetHostname() + "/" + id.GetIp()
}

func newMaintenanceScheduleCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Show the maintenance schedule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.client().GetMaintenanceSchedule(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printMessage(cmd.OutOrStdout(), s)
			}
			return f.print(cmd.OutOrStdout(), nil, "MACHINE\tSTART\tDURATION", func(w io.Writer) {
				for _, win := range s.GetWindows() {
					for _, id := range win.GetMachineIds() {
						u := win.GetUnavailability()
						fmt.Fprintf(w, "%s\t%s\t%s\n", machineString(id), timeString(u.GetStart()), durationString(u.GetDuration()))
					}
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func durationString(d *mesos.DurationInfo) string {
	if d == nil {
		return "open-ended"
	}
	return time.Duration(d.GetNanoseconds()).String()
}

func newMaintenanceScheduleSetCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "set FILE|-",
		Short: "Replace the schedule with a Schedule in Mesos JSON ({\"windows\":[...]}) from a file or stdin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readInput(cmd, args[0])
			if err != nil {
				return err
			}
			s := &maintenance.Schedule{}
			if err := mesosjson.Unmarshal(raw, s); err != nil {
				return fmt.Errorf("reading the schedule: %w", err)
			}
			if err := f.client().UpdateMaintenanceSchedule(cmd.Context(), s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule of %d window(s) set\n", len(s.GetWindows()))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(name)
}

func newMaintenanceAddCommand() *cobra.Command {
	var f clientFlags
	var start string
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "add MACHINE...",
		Short: "Add a maintenance window for machines to the schedule (they start draining)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseMachines(args)
			if err != nil {
				return err
			}
			at := time.Now()
			if start != "" {
				if at, err = time.Parse(time.RFC3339, start); err != nil {
					return fmt.Errorf("--start: %w", err)
				}
			}
			win := &maintenance.Window{MachineIds: ids, Unavailability: &mesos.Unavailability{
				Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(at.UnixNano())}}}
			if duration > 0 {
				win.Unavailability.Duration = &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(duration))}
			}
			c := f.client()
			s, err := c.GetMaintenanceSchedule(cmd.Context())
			if err != nil {
				return err
			}
			s = proto.Clone(s).(*maintenance.Schedule)
			s.Windows = append(s.Windows, win)
			if err := c.UpdateMaintenanceSchedule(cmd.Context(), s); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d machine(s) scheduled for maintenance\n", len(ids))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&start, "start", "", "start of the unavailability, RFC 3339 (default: now)")
	cmd.Flags().DurationVar(&duration, "duration", time.Hour, "length of the unavailability (0: open-ended)")
	return cmd
}

func newMaintenanceStatusCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show draining machines with the frameworks' answers, and down machines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := f.client().GetMaintenanceStatus(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printMessage(cmd.OutOrStdout(), st)
			}
			return f.print(cmd.OutOrStdout(), nil, "MACHINE\tMODE\tFRAMEWORK ANSWERS", func(w io.Writer) {
				for _, dm := range st.GetDrainingMachines() {
					var answers []string
					for _, s := range dm.GetStatuses() {
						answers = append(answers, s.GetFrameworkId().GetValue()+":"+s.GetStatus().String())
					}
					fmt.Fprintf(w, "%s\tDRAINING\t%s\n", machineString(dm.GetId()), orDash(strings.Join(answers, " ")))
				}
				for _, id := range st.GetDownMachines() {
					fmt.Fprintf(w, "%s\tDOWN\t-\n", machineString(id))
				}
			})
		},
	}
	f.register(cmd)
	return cmd
}

func machinesCommand(verb, short string, call func(*operator.Client, context.Context, ...*mesos.MachineID) error) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   verb + " MACHINE...",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ids, err := parseMachines(args)
			if err != nil {
				return err
			}
			if err := call(f.client(), cmd.Context(), ids...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d machine(s) %s\n", len(ids), verb)
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
