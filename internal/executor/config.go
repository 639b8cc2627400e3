package executor

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/containerizer/docker"
	"github.com/agoraproject/agora/internal/containerizer/image"
)

// Defaults of the settings the agent may leave out (reference §10).
const (
	DefaultShutdownGracePeriod    = 5 * time.Second
	DefaultRecoveryTimeout        = 15 * time.Minute
	DefaultSubscriptionBackoffMax = 2 * time.Second
	// DefaultKillGracePeriod is the SIGTERM→SIGKILL grace when neither the
	// task's nor the KILL's kill policy sets one.
	DefaultKillGracePeriod = 3 * time.Second
	// RegistrationTimeout bounds the first subscription: the agent destroys
	// an executor that has not subscribed by then anyway.
	RegistrationTimeout = time.Minute
)

// Config is everything the command executor needs. The agent provides it in
// the MESOS_* environment (see ConfigFromEnv); tests build it directly.
type Config struct {
	FrameworkID string // MESOS_FRAMEWORK_ID
	ExecutorID  string // MESOS_EXECUTOR_ID
	AgentID     string // MESOS_SLAVE_ID; SUBSCRIBED's agent_info.id wins when set
	// AgentEndpoint is the agent's ip:port (MESOS_AGENT_ENDPOINT).
	AgentEndpoint string
	// Directory is the sandbox as the host sees it (MESOS_DIRECTORY).
	Directory string
	// Sandbox is the sandbox as the task sees it (MESOS_SANDBOX, defaults to
	// Directory): the task's working directory.
	Sandbox string
	// Checkpoint (MESOS_CHECKPOINT=1) keeps the task running and reconnects
	// when the agent goes away; without it the executor kills the task and
	// exits.
	Checkpoint bool
	// ShutdownGracePeriod is how long the agent lets the executor take to
	// shut down (MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD).
	ShutdownGracePeriod time.Duration
	// RecoveryTimeout bounds reconnection attempts (MESOS_RECOVERY_TIMEOUT).
	RecoveryTimeout time.Duration
	// SubscriptionBackoffMax caps the delay between subscription attempts
	// (MESOS_SUBSCRIPTION_BACKOFF_MAX).
	SubscriptionBackoffMax time.Duration
	// Rootfs, when set, is the image root filesystem the command task is
	// chrooted to (AGORA_TASK_ROOTFS), and Image the image's runtime
	// configuration (AGORA_TASK_IMAGE_CONFIG); the linux containerizer sets
	// both for tasks that name an image.
	Rootfs string
	Image  *image.RuntimeConfig
	// TaskUser runs tasks whose command names no user (AGORA_TASK_USER);
	// empty means the executor's own user.
	TaskUser string
	// DockerSocket is the Docker Engine's socket (AGORA_DOCKER_SOCKET),
	// set by the agent's docker containerizer for DOCKER tasks.
	DockerSocket string
	// AuthToken, when set, is sent as a bearer token
	// (MESOS_EXECUTOR_AUTHENTICATION_TOKEN).
	AuthToken string

	// Encoding of calls and events. The zero value is JSON; ConfigFromEnv
	// chooses Protobuf, the cheaper one.
	Encoding wire.Encoding
	// Environ is the executor's own environment, which the task inherits
	// (nil means os.Environ()).
	Environ []string
	// Stdout and Stderr are handed to the task (nil means the executor's
	// own, which the agent pointed at the sandbox's stdout and stderr).
	Stdout, Stderr *os.File
	// Logger receives the executor's logs (nil means slog.Default()).
	Logger *slog.Logger
	// Hosting, when set, runs the executor inside an executor host: its
	// tasks lead sessions of their own, reported to the host.
	Hosting *Hosting
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("executor: invalid configuration")

// ConfigFromEnv reads the executor's configuration from the MESOS_*
// variables the agent sets. Durations are in Mesos format ("5secs",
// "15mins", "100ms") or Go format ("5s").
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		FrameworkID:   getenv("MESOS_FRAMEWORK_ID"),
		ExecutorID:    getenv("MESOS_EXECUTOR_ID"),
		AgentID:       getenv("MESOS_SLAVE_ID"),
		AgentEndpoint: getenv("MESOS_AGENT_ENDPOINT"),
		Directory:     getenv("MESOS_DIRECTORY"),
		Sandbox:       getenv("MESOS_SANDBOX"),
		AuthToken:     getenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN"),
		Encoding:      wire.Protobuf,
	}
	var errs []error
	for _, req := range []struct{ name, value string }{
		{"MESOS_FRAMEWORK_ID", cfg.FrameworkID},
		{"MESOS_EXECUTOR_ID", cfg.ExecutorID},
		{"MESOS_AGENT_ENDPOINT", cfg.AgentEndpoint},
		{"MESOS_DIRECTORY", cfg.Directory},
	} {
		if req.value == "" {
			errs = append(errs, fmt.Errorf("%w: %s is not set", ErrConfig, req.name))
		}
	}
	var err error
	if cfg.Checkpoint, err = parseBoolEnv(getenv, "MESOS_CHECKPOINT"); err != nil {
		errs = append(errs, err)
	}
	durations := []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", &cfg.ShutdownGracePeriod, DefaultShutdownGracePeriod},
		{"MESOS_RECOVERY_TIMEOUT", &cfg.RecoveryTimeout, DefaultRecoveryTimeout},
		{"MESOS_SUBSCRIPTION_BACKOFF_MAX", &cfg.SubscriptionBackoffMax, DefaultSubscriptionBackoffMax},
	}
	for _, d := range durations {
		if *d.dst, err = parseDurationEnv(getenv, d.name, d.def); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Sandbox == "" {
		cfg.Sandbox = cfg.Directory
	}
	cfg.Rootfs = getenv(image.EnvRootfs)
	cfg.DockerSocket = getenv(docker.EnvSocket)
	cfg.TaskUser = getenv(image.EnvTaskUser)
	if v := getenv(image.EnvRuntimeConfig); v != "" {
		if cfg.Image, err = image.DecodeRuntimeConfig(v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrConfig, err))
		}
	}
	if cfg.Rootfs != "" && cfg.Image == nil {
		cfg.Image = &image.RuntimeConfig{}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// Validate checks the settings Run cannot do without.
func (c Config) Validate() error {
	switch {
	case c.FrameworkID == "":
		return fmt.Errorf("%w: no framework ID", ErrConfig)
	case c.ExecutorID == "":
		return fmt.Errorf("%w: no executor ID", ErrConfig)
	}
	host, port, err := net.SplitHostPort(c.AgentEndpoint)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("%w: agent endpoint %q is not ip:port", ErrConfig, c.AgentEndpoint)
	}
	return nil
}

// withDefaults fills in every zero setting that has a default.
func (c Config) withDefaults() Config {
	if c.ShutdownGracePeriod <= 0 {
		c.ShutdownGracePeriod = DefaultShutdownGracePeriod
	}
	if c.RecoveryTimeout <= 0 {
		c.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if c.SubscriptionBackoffMax <= 0 {
		c.SubscriptionBackoffMax = DefaultSubscriptionBackoffMax
	}
	if c.Sandbox == "" {
		c.Sandbox = c.Directory
	}
	if c.Environ == nil {
		c.Environ = os.Environ()
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func parseBoolEnv(getenv func(string) string, name string) (bool, error) {
	v := getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not a boolean", ErrConfig, name, v)
	}
	return b, nil
}

func parseDurationEnv(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return d, nil
}

// mesosUnits are the unit suffixes of stout's Duration, longest first where
// one is a suffix of another.
var mesosUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"weeks", 7 * 24 * time.Hour},
	{"days", 24 * time.Hour},
	{"hrs", time.Hour},
	{"mins", time.Minute},
	{"secs", time.Second},
	{"ms", time.Millisecond},
	{"us", time.Microsecond},
	{"ns", time.Nanosecond},
}

// ParseDuration parses a Mesos duration: a non-negative decimal number and
// one of ns, us, ms, secs, mins, hrs, days, weeks ("5secs", "1.5mins").
// Go durations ("5s", "1m30s") are accepted too.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range mesosUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		if !isDecimal(num) {
			break
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			break
		}
		if f*float64(u.unit) >= math.MaxInt64 {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		return time.Duration(f * float64(u.unit)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 5secs, 15mins or 5s)", s)
	}
	return d, nil
}

// isDecimal reports whether s is digits with at most one decimal point.
func isDecimal(s string) bool {
	digits, dot := false, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits
}
