package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
)

// `agora quota [set|remove]` and `agora weights [set]`.

func newQuotaCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "List the roles' quota (subcommands change it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := f.client().GetQuota(cmd.Context())
			if err != nil {
				return err
			}
			if f.output == "json" {
				return printMessage(cmd.OutOrStdout(), st)
			}
			return f.print(cmd.OutOrStdout(), nil, "ROLE\tGUARANTEES\tLIMITS", func(w io.Writer) {
				for _, c := range st.GetConfigs() {
					fmt.Fprintf(w, "%s\t%s\t%s\n", c.GetRole(), formatScalars(c.GetGuarantees()), formatScalars(c.GetLimits()))
				}
			})
		},
	}
	f.register(cmd)
	cmd.AddCommand(newQuotaSetCommand(), newQuotaRemoveCommand())
	return cmd
}

func newQuotaSetCommand() *cobra.Command {
	var f clientFlags
	var guarantees, limits string
	var force bool
	cmd := &cobra.Command{
		Use:   "set ROLE",
		Short: "Set a role's quota, e.g. --limit cpus=8,mem=16384 --guarantee cpus=2",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := &quota.QuotaConfig{Role: proto.String(args[0])}
			var err error
			if c.Guarantees, err = parseScalars(guarantees); err != nil {
				return fmt.Errorf("--guarantee: %w", err)
			}
			if c.Limits, err = parseScalars(limits); err != nil {
				return fmt.Errorf("--limit: %w", err)
			}
			if len(c.Guarantees) == 0 && len(c.Limits) == 0 {
				return fmt.Errorf("give --limit or --guarantee (`agora quota remove` removes a quota)")
			}
			if err := f.client().UpdateQuota(cmd.Context(), force, c); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quota of role %s set\n", args[0])
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&guarantees, "guarantee", "", "guaranteed quantities, name=value[,name=value]")
	cmd.Flags().StringVar(&limits, "limit", "", "limits, name=value[,name=value]")
	cmd.Flags().BoolVar(&force, "force", false, "set limits even below what the role consumes now")
	return cmd
}

func newQuotaRemoveCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "remove ROLE",
		Short: "Remove a role's quota",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.client().UpdateQuota(cmd.Context(), true, &quota.QuotaConfig{Role: proto.String(args[0])}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "quota of role %s removed\n", args[0])
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

// parseScalars reads "cpus=2,mem=512" (or "cpus:2;mem:512").
func parseScalars(s string) (map[string]*mesos.Value_Scalar, error) {
	out := map[string]*mesos.Value_Scalar{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			name, value, ok = strings.Cut(strings.TrimSpace(item), ":")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if !ok || err != nil || name == "" {
			return nil, fmt.Errorf("%q is not name=number", item)
		}
		out[strings.TrimSpace(name)] = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	return out, nil
}

func formatScalars(m map[string]*mesos.Value_Scalar) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+"="+formatAmount(m[n].GetValue()))
	}
	return orDash(strings.Join(parts, ","))
}

func newWeightsCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "weights",
		Short: "List the roles' weights (roles not listed weigh 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			infos, err := f.client().GetWeights(cmd.Context())
			if err != nil {
				return err
			}
			return f.print(cmd.OutOrStdout(), weightsJSON(infos), "ROLE\tWEIGHT", func(w io.Writer) {
				for _, wi := range infos {
					fmt.Fprintf(w, "%s\t%s\n", wi.GetRole(), formatAmount(wi.GetWeight()))
				}
			})
		},
	}
	f.register(cmd)
	cmd.AddCommand(newWeightsSetCommand())
	return cmd
}

// weightsJSON is the /weights shape: [{"role","weight"}].
func weightsJSON(infos []*mesos.WeightInfo) []map[string]any {
	out := []map[string]any{}
	for _, wi := range infos {
		out = append(out, map[string]any{"role": wi.GetRole(), "weight": wi.GetWeight()})
	}
	return out
}

func newWeightsSetCommand() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "set ROLE=WEIGHT...",
		Short: "Set roles' weights, e.g. `agora weights set eng=2 ops=0.5`",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			weights := map[string]float64{}
			for _, a := range args {
				role, value, ok := strings.Cut(a, "=")
				w, err := strconv.ParseFloat(value, 64)
				if !ok || err != nil {
					return fmt.Errorf("%q is not ROLE=WEIGHT", a)
				}
				weights[role] = w
			}
			if err := f.client().UpdateWeights(cmd.Context(), weights); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "weights of %d role(s) set\n", len(weights))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
