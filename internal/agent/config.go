package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/agoraproject/agora/internal/containerizer"
)

// Defaults (reference §10).
const (
	DefaultPort                        = 5051
	DefaultRegistrationBackoff         = time.Second
	DefaultExecutorRegistrationTimeout = time.Minute
	DefaultExecutorShutdownGracePeriod = 5 * time.Second
	// registrationBackoffMax caps the random registration backoff.
	registrationBackoffMax = time.Minute
	// missedPings is how many ping intervals of silence drop the stream.
	missedPings = 5
	// defaultPingInterval applies when SUBSCRIBED does not name one.
	defaultPingInterval = 15 * time.Second
	// executorHeartbeatInterval paces HEARTBEAT events to executors.
	executorHeartbeatInterval = 30 * time.Minute
	// updateTickInterval is how often due status updates are re-sent.
	updateTickInterval = time.Second
)

// Recovery and sandbox GC defaults (reference §8, §10).
const (
	DefaultRecoveryTimeout               = 15 * time.Minute
	DefaultExecutorReregistrationTimeout = 2 * time.Second
	MaxExecutorReregistrationTimeout     = 15 * time.Second
	DefaultGCDelay                       = 7 * 24 * time.Hour
	DefaultGCDiskHeadroom                = 0.1
	DefaultDiskWatchInterval             = time.Minute
)

// Recovery modes (--recover).
const (
	// RecoverReconnect re-adopts the executors of the previous run.
	RecoverReconnect = "reconnect"
	// RecoverCleanup kills them and starts afresh with a new agent ID.
	RecoverCleanup = "cleanup"
)

// Config is everything an agent needs; the zero value of each optional field
// picks the default named beside it.
type Config struct {
	// WorkDir holds sandboxes (slaves/) and checkpoints (meta/). Required.
	WorkDir string
	// Masters are host:port addresses of masters, tried in turn; a
	// non-leader redirects to the leader. Required.
	Masters []string
	// ListenAddr is the ip:port to serve on; port 0 picks a free one.
	// Empty means 0.0.0.0:5051.
	ListenAddr string
	// Hostname is advertised to the master; empty means os.Hostname().
	Hostname string
	// AdvertiseIP is the IP executors and the master reach the agent at;
	// empty means the listen IP, or the hostname's address when listening
	// on all interfaces.
	AdvertiseIP string
	// Resources is --resources ("cpus:4;mem:1024", a JSON array, or
	// file://path). Names absent from it are autodetected.
	Resources string
	// Attributes is --attributes ("rack:r1;zone:2").
	Attributes string
	// DefaultRole is the role of resources that name none; "" means "*".
	DefaultRole string
	// ExecutorCommand is the argv prefix that starts the command executor;
	// nil means this binary's `executor` command.
	ExecutorCommand []string
	// Containerizer runs executors; nil means one built from Containers.
	Containerizer containerizer.Containerizer
	// Containers is how containers are isolated and prepared
	// (containers.go): containerizers, isolation, images, fetcher.
	Containers ContainerConfig
	// RegistrationBackoff is the registration backoff factor (1 s).
	RegistrationBackoff time.Duration
	// ExecutorRegistrationTimeout bounds an executor's first SUBSCRIBE (1 min).
	ExecutorRegistrationTimeout time.Duration
	// ExecutorShutdownGracePeriod is how long an executor told to shut down
	// may take before it is destroyed (5 s).
	ExecutorShutdownGracePeriod time.Duration
	// Recover is --recover: RecoverReconnect (the default) or
	// RecoverCleanup. See recovery.go.
	Recover string
	// NoSwitchUser is --switch_user=false: executors and tasks run as the
	// agent's user whatever user their framework or command names.
	NoSwitchUser bool
	// NonStrict is --strict=false: a checkpoint that cannot be read is
	// logged, counted (slave/recovery_errors) and skipped instead of
	// failing the start.
	NonStrict bool
	// RecoveryTimeout is how long a checkpointing executor waits for a
	// restarted agent (MESOS_RECOVERY_TIMEOUT, 15 min).
	RecoveryTimeout time.Duration
	// ExecutorReregistrationTimeout is how long a restarted agent waits
	// for its executors to re-subscribe before it destroys them (2 s, at
	// most 15 s).
	ExecutorReregistrationTimeout time.Duration
	// GCDelay is how long the sandbox of a finished executor is kept
	// (1 week); less under disk pressure.
	GCDelay time.Duration
	// GCDiskHeadroom is the fraction of the disk GC keeps free (0.1): the
	// age limit is GCDelay * max(0, 1 - headroom - disk usage).
	GCDiskHeadroom float64
	// DiskWatchInterval is how often GC checks the disk usage (1 min).
	DiskWatchInterval time.Duration
	// SyncStatusUpdates fsyncs every status-update checkpoint record. Off by
	// default: records reach the page cache, which survives an agent crash
	// (see docs/agent-protocol.md for the trade-off and its cost).
	SyncStatusUpdates bool
	// Flags is what /flags shows (the command line's flags by Mesos name);
	// nil means a view derived from this Config.
	Flags map[string]string
	// Logger receives the agent's logs; nil means slog.Default().
	Logger *slog.Logger
	// LogLevel is the level of Logger's handler, for GET_LOGGING_LEVEL and
	// SET_LOGGING_LEVEL; nil means a level of its own (Info) that the
	// operator API reports but that filters nothing.
	LogLevel *slog.LevelVar
	// Profiling serves net/http/pprof under /debug/pprof/ (the CLI sets
	// it from AGORA_PPROF=1).
	Profiling bool
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("agent: invalid configuration")

// Validate checks the required fields and the shape of the others.
func (c Config) Validate() error {
	var errs []error
	if c.WorkDir == "" {
		errs = append(errs, errors.New("work_dir is required"))
	}
	if len(c.Masters) == 0 {
		errs = append(errs, errors.New("at least one master is required"))
	}
	for _, m := range c.Masters {
		if _, _, err := net.SplitHostPort(m); err != nil {
			errs = append(errs, fmt.Errorf("master %q is not host:port: %w", m, err))
		}
	}
	if c.ListenAddr != "" {
		if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
			errs = append(errs, fmt.Errorf("listen address %q: %w", c.ListenAddr, err))
		}
	}
	if c.AdvertiseIP != "" && net.ParseIP(c.AdvertiseIP) == nil {
		errs = append(errs, fmt.Errorf("advertise IP %q is not an IP address", c.AdvertiseIP))
	}
	for name, d := range map[string]time.Duration{
		"registration_backoff_factor":     c.RegistrationBackoff,
		"executor_registration_timeout":   c.ExecutorRegistrationTimeout,
		"executor_shutdown_grace_period":  c.ExecutorShutdownGracePeriod,
		"recovery_timeout":                c.RecoveryTimeout,
		"executor_reregistration_timeout": c.ExecutorReregistrationTimeout,
		"gc_delay":                        c.GCDelay,
		"disk_watch_interval":             c.DiskWatchInterval,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s is negative (%v)", name, d))
		}
	}
	if c.ExecutorReregistrationTimeout > MaxExecutorReregistrationTimeout {
		errs = append(errs, fmt.Errorf("executor_reregistration_timeout %v is above the maximum %v",
			c.ExecutorReregistrationTimeout, MaxExecutorReregistrationTimeout))
	}
	if c.Recover != "" && c.Recover != RecoverReconnect && c.Recover != RecoverCleanup {
		errs = append(errs, fmt.Errorf("recover is %q; want %q or %q", c.Recover, RecoverReconnect, RecoverCleanup))
	}
	if c.GCDiskHeadroom < 0 || c.GCDiskHeadroom > 1 {
		errs = append(errs, fmt.Errorf("gc_disk_headroom %v is not in [0, 1]", c.GCDiskHeadroom))
	}
	errs = append(errs, c.Containers.validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// withDefaults fills the optional fields.
func (c Config) withDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = fmt.Sprintf("0.0.0.0:%d", DefaultPort)
	}
	if c.DefaultRole == "" {
		c.DefaultRole = "*"
	}
	if c.RegistrationBackoff == 0 {
		c.RegistrationBackoff = DefaultRegistrationBackoff
	}
	if c.ExecutorRegistrationTimeout == 0 {
		c.ExecutorRegistrationTimeout = DefaultExecutorRegistrationTimeout
	}
	if c.ExecutorShutdownGracePeriod == 0 {
		c.ExecutorShutdownGracePeriod = DefaultExecutorShutdownGracePeriod
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LogLevel == nil {
		c.LogLevel = new(slog.LevelVar)
	}
	c = c.withRecoveryDefaults()
	return c
}

// withRecoveryDefaults fills the recovery and GC fields.
func (c Config) withRecoveryDefaults() Config {
	if c.Recover == "" {
		c.Recover = RecoverReconnect
	}
	if c.RecoveryTimeout == 0 {
		c.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if c.ExecutorReregistrationTimeout == 0 {
		c.ExecutorReregistrationTimeout = DefaultExecutorReregistrationTimeout
	}
	if c.GCDelay == 0 {
		c.GCDelay = DefaultGCDelay
	}
	if c.GCDiskHeadroom == 0 {
		c.GCDiskHeadroom = DefaultGCDiskHeadroom
	}
	if c.DiskWatchInterval == 0 {
		c.DiskWatchInterval = DefaultDiskWatchInterval
	}
	return c
}
