package cli

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agoraproject/agora/internal/agent"
)

// newAgentCommand is `agora agent`: the agent daemon, with Mesos' flag names.
func newAgentCommand() *cobra.Command {
	var cfg agent.Config
	var masters, ip, containerizers string
	var port int
	var strict, switchUser bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent that offers this machine's resources and runs tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.Masters = splitList(masters)
			cfg.Containers.Containerizers = splitList(containerizers)
			cfg.ListenAddr = net.JoinHostPort(ip, strconv.Itoa(port))
			cfg.Flags = flagValues(cmd.Flags())
			cfg.Logger = newLogger()
			cfg.LogLevel = logLevel
			cfg.NonStrict = !strict
			cfg.NoSwitchUser = !switchUser
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
	f.BoolVar(&switchUser, "switch_user", true, "run executors and tasks as the user their command or framework names (a root agent); false runs them as the agent's user")
	durationVar(f, &cfg.ExecutorRegistrationTimeout, "executor_registration_timeout", agent.DefaultExecutorRegistrationTimeout,
		"destroy executors that have not subscribed by then")
	durationVar(f, &cfg.ExecutorShutdownGracePeriod, "executor_shutdown_grace_period", agent.DefaultExecutorShutdownGracePeriod,
		"time an executor gets to shut down before it is destroyed")
	durationVar(f, &cfg.RegistrationBackoff, "registration_backoff_factor", agent.DefaultRegistrationBackoff,
		"initial random backoff of (re-)registration, doubling up to 1mins")
	recoveryFlags(f, &cfg, &strict)
	f.StringVar(&containerizers, "containerizers", "mesos", "containerizers to use, in order: mesos, docker")
	containerFlags(f, &cfg.Containers)
	return cmd
}

// containerFlags are the flags of containers: isolation, images, fetcher.
func containerFlags(f *pflag.FlagSet, c *agent.ContainerConfig) {
	f.StringVar(&c.Isolation, "isolation", agent.DefaultIsolation,
		"isolators: posix/cpu,posix/mem (plain processes), or e.g. cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,filesystem/linux,docker/runtime (Linux namespaces and cgroups; needs root)")
	f.StringVar(&c.CgroupsRoot, "cgroups_root", agent.DefaultCgroupsRoot, "cgroup sub-tree of the containers; the agent owns it and destroys unknown cgroups in it when it starts")
	f.BoolVar(&c.CgroupsEnableCFS, "cgroups_enable_cfs", false, "cap containers' cpu time at their cpus with a CFS quota")
	f.Int64Var(&c.CgroupsPidsMax, "cgroups_pids_max", agent.DefaultCgroupsPidsMax, "maximum processes and threads of a container")
	f.StringVar(&c.ImageProviders, "image_providers", "", "image providers: docker (images from the agent's store, <work_dir>/images; see `agora image`)")
	f.StringVar(&c.ImageProvisionerBackend, "image_provisioner_backend", "", "how image root filesystems are made: overlay or copy (default: overlay where it works)")
	f.StringVar(&c.DockerSocket, "docker_socket", agent.DefaultDockerSocket, "the Docker Engine's Unix socket")
	f.StringVar(&c.FrameworksHome, "frameworks_home", "", "directory prepended to relative URIs")
	f.StringVar(&c.FetcherCacheDir, "fetcher_cache_dir", "", "directory of the fetcher's cache (default <work_dir>/fetch_cache)")
	f.Var(bytesFlag{&c.FetcherCacheSize}, "fetcher_cache_size", "size bound of the fetcher's cache, e.g. 2GB (default 2GB)")
	durationVar(f, &c.FetcherStallTimeout, "fetcher_stall_timeout", time.Minute, "abandon a download that receives nothing for this long")
	f.BoolVar(&c.ExecutorHost, "executor_host", true, "run the command and default executors as goroutines of one executor host process per agent (posix isolation only); false starts a process per executor, as Mesos does")
}

// bytesFlag is a byte size in Mesos syntax: "2GB", "512MB", "64KB" or bytes.
type bytesFlag struct{ n *int64 }

func (b bytesFlag) String() string {
	if b.n == nil {
		return "0B"
	}
	return strconv.FormatInt(*b.n, 10) + "B"
}

func (b bytesFlag) Type() string { return "bytes" }

func (b bytesFlag) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}
	s = strings.TrimSpace(s)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return fmt.Errorf("invalid size %q (use e.g. 2GB or 512MB)", s)
			}
			*b.n = int64(v * float64(u.mult))
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("invalid size %q (use e.g. 2GB or 512MB)", s)
	}
	*b.n = v
	return nil
}

// recoveryFlags are the flags of agent restarts and sandbox GC.
func recoveryFlags(f *pflag.FlagSet, cfg *agent.Config, strict *bool) {
	f.StringVar(&cfg.Recover, "recover", agent.RecoverReconnect,
		"after a restart: 'reconnect' to the previous run's executors, or 'cleanup' (kill them, start as a new agent)")
	f.BoolVar(strict, "strict", true, "refuse to start when the checkpoint cannot be fully recovered (false: skip what cannot be read)")
	durationVar(f, &cfg.RecoveryTimeout, "recovery_timeout", agent.DefaultRecoveryTimeout,
		"how long checkpointing executors wait for a restarted agent")
	durationVar(f, &cfg.ExecutorReregistrationTimeout, "executor_reregistration_timeout", agent.DefaultExecutorReregistrationTimeout,
		"how long a restarted agent waits for its executors to re-subscribe (at most 15secs)")
	durationVar(f, &cfg.GCDelay, "gc_delay", agent.DefaultGCDelay,
		"how long the sandboxes of finished executors are kept (less when the disk fills)")
	f.Float64Var(&cfg.GCDiskHeadroom, "gc_disk_headroom", agent.DefaultGCDiskHeadroom,
		"fraction of the work directory's disk that sandbox GC keeps free")
	durationVar(f, &cfg.DiskWatchInterval, "disk_watch_interval", agent.DefaultDiskWatchInterval,
		"how often sandbox GC checks the disk usage")
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
