package master

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/agoraproject/agora/internal/apps"

	"github.com/agoraproject/agora/internal/allocator"
)

// Config is everything a master needs. Zero durations take the Mesos
// defaults (reference §10) in withDefaults.
type Config struct {
	// ListenAddr is the ip:port to serve on; port 0 picks a free port.
	ListenAddr string
	// AdvertiseIP and Hostname are what agents, frameworks and the
	// `leader` field see. Empty: taken from the listener and os.Hostname.
	AdvertiseIP string
	Hostname    string
	// WorkDir holds the master's durable state.
	WorkDir string
	// Registry is the replicated registry this master is a member of (a
	// single-node one for a cluster of one). Its Raft leader is the
	// leading master. Required; the caller opens and closes it.
	Registry Registry
	// Cluster is the optional cluster name shown in /master/state.
	Cluster string

	AllocationInterval   time.Duration // 1 s
	HeartbeatInterval    time.Duration // scheduler stream heartbeats, 15 s
	AgentPingTimeout     time.Duration // 15 s
	MaxAgentPingTimeouts int           // 5
	// AgentReregisterTimeout is how long a new leader waits for agents
	// to re-register before marking the missing ones unreachable (10 min).
	AgentReregisterTimeout time.Duration
	// AgentLeaderWait is how long an agent protocol request waits for a
	// leader while none is known, before it gets 503 (5 s; negative: no
	// wait).
	AgentLeaderWait time.Duration
	// OfferTimeout rescinds offers held longer than this; 0 = never.
	OfferTimeout time.Duration

	MaxCompletedFrameworks        int // 50
	MaxCompletedTasksPerFramework int // 1000

	// Allocator tunes the DRF allocator (sorters, excluded names,
	// min_allocatable_resources, seed); zero value: Mesos' defaults.
	Allocator *allocator.Options

	// Apps turns on the built-in Marathon-compatible apps framework,
	// which runs while this master leads (nil: off). Its Masters, Store,
	// Hostname and Logger are filled in by the master.
	Apps *apps.Config
	// AppsListenAddr is an extra listener for the Marathon API alone
	// (Marathon's :8080); the master's own listener serves /v2 too.
	AppsListenAddr string

	// Flags are reported by /flags and GET_FLAGS.
	Flags map[string]string
	// Profiling serves net/http/pprof under /debug/pprof/ (the CLI sets
	// it from AGORA_PPROF=1).
	Profiling bool

	Logger *slog.Logger
	// LogLevel is the level of Logger's handler, for GET_LOGGING_LEVEL and
	// SET_LOGGING_LEVEL. Nil: the master keeps a level of its own, which
	// the operator calls read and set but Logger does not follow.
	LogLevel *slog.LevelVar
	// LogFile is the file Logger writes to, served as /master/log by
	// LIST_FILES and READ_FILE; empty: no log file.
	LogFile string
	// Clock is the time source (nil: the wall clock).
	Clock Clock
	// ID is the master's ID, embedded in the IDs it hands out (empty: a
	// random UUID, as Mesos). The simulator fixes it.
	ID string
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.ListenAddr == "" {
		return errors.New("master: listen address is required")
	}
	if c.Registry == nil {
		return errors.New("master: a registry is required")
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return fmt.Errorf("master: listen address %q: %w", c.ListenAddr, err)
	}
	if c.AllocationInterval < 0 || c.HeartbeatInterval < 0 || c.AgentPingTimeout < 0 || c.OfferTimeout < 0 {
		return errors.New("master: intervals must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AllocationInterval, time.Second)
	def(&c.HeartbeatInterval, 15*time.Second)
	def(&c.AgentPingTimeout, 15*time.Second)
	def(&c.AgentReregisterTimeout, 10*time.Minute)
	def(&c.AgentLeaderWait, 5*time.Second)
	if c.MaxAgentPingTimeouts == 0 {
		c.MaxAgentPingTimeouts = 5
	}
	if c.MaxCompletedFrameworks == 0 {
		c.MaxCompletedFrameworks = 50
	}
	if c.MaxCompletedTasksPerFramework == 0 {
		c.MaxCompletedTasksPerFramework = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = wallClock{}
	}
	if c.LogLevel == nil {
		c.LogLevel = new(slog.LevelVar)
	}
	return c
}
