package cli

import (
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/internal/agent"
)

// newAgentCommand is `agora agent`: the agent daemon, with Mesos' flag names.
func newAgentCommand() *cobra.Command {
	var cfg agent.Config
	var masters, ip string
	var port int
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent that offers this machine's resources and runs tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Masters = splitList(masters)
			cfg.ListenAddr = net.JoinHostPort(ip, strconv.Itoa(port))
			cfg.Flags = flagValues(cmd.Flags())
			cfg.Logger = newLogger()
			cfg.Profiling = os.Getenv("AGORA_PPROF") == "1"
			a, err := agent.New(cfg)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.SetNormalizeFunc(underscoreFlags)
	f.StringVar(&masters, "master", "", "masters to register with, host:port[,host:port...]")
	f.StringVar(&cfg.WorkDir, "work_dir", "", "directory for sandboxes and checkpoints (required)")
	f.StringVar(&ip, "ip", "0.0.0.0", "IP address to listen on")
	f.IntVar(&port, "port", agent.DefaultPort, "port to listen on")
	f.StringVar(&cfg.AdvertiseIP, "advertise_ip", "", "IP address executors and the master use to reach this agent")
	f.StringVar(&cfg.Hostname, "hostname", "", "hostname to advertise (default: the machine's)")
	f.StringVar(&cfg.Resources, "resources", "", "resources to offer, e.g. 'cpus:4;mem:8192;ports:[31000-32000]', a JSON array, or file://path; absent names are autodetected")
	f.StringVar(&cfg.Attributes, "attributes", "", "attributes, e.g. 'rack:r1;zone:2'")
	f.StringVar(&cfg.DefaultRole, "default_role", "*", "role of resources that name none")
	durationVar(f, &cfg.ExecutorRegistrationTimeout, "executor_registration_timeout", agent.DefaultExecutorRegistrationTimeout,
		"destroy executors that have not subscribed by then")
	durationVar(f, &cfg.ExecutorShutdownGracePeriod, "executor_shutdown_grace_period", agent.DefaultExecutorShutdownGracePeriod,
		"time an executor gets to shut down before it is destroyed")
	durationVar(f, &cfg.RegistrationBackoff, "registration_backoff_factor", agent.DefaultRegistrationBackoff,
		"initial random backoff of (re-)registration, doubling up to 1mins")
	return cmd
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
