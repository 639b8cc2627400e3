package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// underscoreFlags lets every flag be written the Mesos way (--work_dir) or
// the dashed way (--work-dir).
func underscoreFlags(f *pflag.FlagSet, name string) pflag.NormalizedName {
	return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
}

// durationFlag is a time.Duration flag that also reads Mesos' duration
// syntax: "15secs", "1mins", "2hrs", "500ms", "1days", "1weeks".
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Type() string { return "duration" }

func (f durationFlag) Set(s string) error {
	d, err := parseMesosDuration(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

var mesosUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"ms", time.Millisecond},
	{"secs", time.Second}, {"mins", time.Minute}, {"hrs", time.Hour},
	{"days", 24 * time.Hour}, {"weeks", 7 * 24 * time.Hour},
}

// parseMesosDuration parses Mesos durations and, failing that, Go ones.
func parseMesosDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range mesosUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				break
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 15secs, 2mins or 1h30m)", s)
	}
	return d, nil
}

// durationVar defines a duration flag with Mesos syntax.
func durationVar(f *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	f.Var(durationFlag{p}, name, usage)
}

// flagValues lists every flag's current value, for /flags.
func flagValues(f *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	f.VisitAll(func(fl *pflag.Flag) {
		out[strings.ReplaceAll(fl.Name, "-", "_")] = fl.Value.String()
	})
	return out
}

// mesosNegations rewrites Mesos' negated booleans (--no-switch_user) as
// --switch_user=false for the command args name, which pflag reads; any
// other --no-... is left for pflag to refuse.
func mesosNegations(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil {
		return args
	}
	out := make([]string, len(args))
	for i, arg := range args {
		out[i] = arg
		name, ok := strings.CutPrefix(arg, "--no-")
		if !ok || strings.Contains(name, "=") {
			continue
		}
		if f := cmd.Flags().Lookup(strings.ReplaceAll(name, "_", "-")); f != nil && f.Value.Type() == "bool" {
			out[i] = "--" + name + "=false"
		}
	}
	return out
}
