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
	// Containerizer runs executors; nil means the posix containerizer.
	Containerizer containerizer.Containerizer
	// RegistrationBackoff is the registration backoff factor (1 s).
	RegistrationBackoff time.Duration
	// ExecutorRegistrationTimeout bounds an executor's first SUBSCRIBE (1 min).
	ExecutorRegistrationTimeout time.Duration
	// ExecutorShutdownGracePeriod is how long an executor told to shut down
	// may take before it is destroyed (5 s).
	ExecutorShutdownGracePeriod time.Duration
	// SyncStatusUpdates fsyncs every status-update checkpoint record. Off by
	// default: records reach the page cache, which survives an agent crash
	// (see docs/agent-protocol.md for the trade-off and its cost).
	SyncStatusUpdates bool
	// Flags is what /flags shows (the command line's flags by Mesos name);
	// nil means a view derived from this Config.
	Flags map[string]string
	// Logger receives the agent's logs; nil means slog.Default().
	Logger *slog.Logger
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
		"registration_backoff_factor":    c.RegistrationBackoff,
		"executor_registration_timeout":  c.ExecutorRegistrationTimeout,
		"executor_shutdown_grace_period": c.ExecutorShutdownGracePeriod,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s is negative (%v)", name, d))
		}
	}
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
	if c.Containerizer == nil {
		c.Containerizer = containerizer.NewPosix(c.Logger)
	}
	return c
}
