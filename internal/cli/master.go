package cli

import (
	"net"
	"os"
	"strconv"

	"github.com/agoraproject/agora/internal/apps"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/registry"
)

// newMasterCommand is `agora master`: the master daemon.
func newMasterCommand() *cobra.Command {
	var cfg master.Config
	var ip string
	var port int
	var raft raftFlags
	var alloc allocatorFlags
	var appsOn bool
	var appsPort int
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Run a master: the cluster's scheduler API, offers and state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.ListenAddr = net.JoinHostPort(ip, strconv.Itoa(port))
			cfg.Flags = flagValues(cmd.Flags())
			cfg.Logger = newLogger()
			cfg.LogLevel = logLevel
			cfg.Profiling = os.Getenv("AGORA_PPROF") == "1"
			opts, err := alloc.options()
			if err != nil {
				return err
			}
			cfg.Allocator = opts
			if appsOn {
				cfg.Apps = &apps.Config{}
				if appsPort > 0 {
					cfg.AppsListenAddr = net.JoinHostPort(ip, strconv.Itoa(appsPort))
				}
			}
			reg, err := raft.openRegistry(cfg.WorkDir, ip, cfg.AdvertiseIP, cfg.Logger)
			if err != nil {
				return err
			}
			defer reg.Close()
			cfg.Registry = reg
			m, err := master.New(cfg)
			if err != nil {
				return err
			}
			return m.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.SetNormalizeFunc(underscoreFlags)
	f.StringVar(&ip, "ip", "0.0.0.0", "IP address to listen on")
	f.IntVar(&port, "port", 5050, "port to listen on")
	f.StringVar(&cfg.AdvertiseIP, "advertise_ip", "", "IP address agents and frameworks use to reach this master")
	f.StringVar(&cfg.Hostname, "hostname", "", "hostname to advertise (default: the advertised IP)")
	f.StringVar(&cfg.WorkDir, "work_dir", "", "directory for the master's durable state")
	f.StringVar(&cfg.Cluster, "cluster", "", "cluster name shown in the state endpoints")
	durationVar(f, &cfg.AllocationInterval, "allocation_interval", 0, "time between allocation cycles (default 1secs)")
	durationVar(f, &cfg.OfferTimeout, "offer_timeout", 0, "rescind offers held longer than this (default: never)")
	durationVar(f, &cfg.AgentPingTimeout, "agent_ping_timeout", 0, "interval of agent pings (default 15secs)")
	f.IntVar(&cfg.MaxAgentPingTimeouts, "max_agent_ping_timeouts", 5, "missed pings before an agent is unreachable")
	durationVar(f, &cfg.AgentReregisterTimeout, "agent_reregister_timeout", 0,
		"after a failover, how long agents have to re-register before they are unreachable (default 10mins)")
	f.IntVar(&raft.port, "raft_port", registry.DefaultRaftPort, "port of the masters' Raft traffic")
	f.StringVar(&raft.peers, "peers", "", "Raft addresses (host:raft_port) of all masters of a new cluster, this one included; empty: a cluster of one")
	durationVar(f, &raft.timeout, "raft_timeout", 0, "Raft heartbeat and election timeout (default 1secs)")
	alloc.register(f)
	f.BoolVar(&appsOn, "apps", true, "run the built-in Marathon-compatible apps framework on the leading master")
	f.IntVar(&appsPort, "apps_port", 8080, "extra port for the Marathon API alone (0: only on the master's port)")
	return cmd
}
