package apps

import (
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"time"

	"github.com/agoraproject/agora/internal/apps/store"
)

// Store is the persistence seam (see package store): the registry's
// namespaced store in a master, bbolt or memory elsewhere.
type Store = store.Store

// Clock is the framework's time source; tests use a fake.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config is everything the apps framework needs. Zero values take the
// Marathon defaults noted on each field.
type Config struct {
	// Masters are host:port addresses of masters; any will do.
	Masters []string
	// Store keeps apps, versions, groups, deployments, instances and the
	// framework ID. Required.
	Store Store
	// Hostname is what /v2/info and /v2/leader report (default: the
	// HTTPAddr host).
	Hostname string
	// HTTPAddr is the API listener Run serves on (":8080" in Marathon);
	// empty means Run serves nothing and the caller serves Handler().
	HTTPAddr string
	Logger   *slog.Logger
	// Clock is the time source (default: the wall clock).
	Clock Clock

	// User is the FrameworkInfo user and the default task user
	// (--mesos_user; default: the current user).
	User string
	// Role is the framework's role and apps' default role (--mesos_role,
	// "*").
	Role string
	// FrameworkName is "marathon" (clients and mesos-dns look for it).
	FrameworkName string
	// FailoverTimeout is how long the master keeps the framework's tasks
	// while it is disconnected (604800 s = one week).
	FailoverTimeout time.Duration

	// DeclineOfferDuration is refuse_seconds for offers declined while
	// nothing waits for them (120 s).
	DeclineOfferDuration time.Duration
	// UnusedOfferRefuse is refuse_seconds for offers declined while
	// instances are waiting but the offer did not fit them (5 s).
	UnusedOfferRefuse time.Duration
	// MinReviveInterval spaces REVIVE calls (5 s).
	MinReviveInterval time.Duration
	// ReviveInterval repeats REVIVE while instances wait (30 s).
	ReviveInterval time.Duration
	// MaxInstancesPerOffer bounds launches per offer (5).
	MaxInstancesPerOffer int
	// TaskLaunchTimeout kills tasks stuck before TASK_RUNNING (5 min).
	TaskLaunchTimeout time.Duration
	// KillRetryTimeout resends KILLs that had no effect (30 s).
	KillRetryTimeout time.Duration
	// ReconciliationInterval repeats task reconciliation (10 min).
	ReconciliationInterval time.Duration
	// ScaleCheckInterval heals instance counts of apps without a
	// deployment (5 min).
	ScaleCheckInterval time.Duration
	// TickInterval is how often timers are evaluated (250 ms).
	TickInterval time.Duration
	// MaxVersions bounds the stored versions per app (50).
	MaxVersions int
	// EventBufferSize is each /v2/events client's buffer (4096 events).
	EventBufferSize int
	// ServicePortMin and ServicePortMax bound auto-assigned service ports
	// (10000-20000).
	ServicePortMin, ServicePortMax int

	// DeploymentTimeout, when > 0, fails a deployment that runs longer and
	// rolls it back automatically (Agora extension; per app also the
	// label AGORA_DEPLOYMENT_TIMEOUT_SECONDS). 0 = never, as Marathon.
	DeploymentTimeout time.Duration
	// ConstraintsCountOldInstances makes constraints count instances of
	// older versions too, so UNIQUE holds during rolling restarts (Agora
	// extension; per app also the label
	// AGORA_CONSTRAINTS_COUNT_OLD_INSTANCES=true).
	ConstraintsCountOldInstances bool
	// Seed seeds host-port randomisation (0: random).
	Seed uint64
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("apps: invalid configuration")

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Store == nil {
		return fmt.Errorf("%w: Store is required", ErrConfig)
	}
	if len(c.Masters) == 0 {
		return fmt.Errorf("%w: at least one master is required", ErrConfig)
	}
	if c.ServicePortMin > c.ServicePortMax {
		return fmt.Errorf("%w: service port range [%d, %d] is empty", ErrConfig, c.ServicePortMin, c.ServicePortMax)
	}
	return nil
}

func (c Config) withDefaults() Config {
	dur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	num := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.User == "" {
		c.User = currentUser()
	}
	if c.Role == "" {
		c.Role = "*"
	}
	if c.FrameworkName == "" {
		c.FrameworkName = "marathon"
	}
	dur(&c.FailoverTimeout, 604800*time.Second)
	dur(&c.DeclineOfferDuration, 120*time.Second)
	dur(&c.UnusedOfferRefuse, 5*time.Second)
	dur(&c.MinReviveInterval, 5*time.Second)
	dur(&c.ReviveInterval, 30*time.Second)
	dur(&c.TaskLaunchTimeout, 5*time.Minute)
	dur(&c.KillRetryTimeout, 30*time.Second)
	dur(&c.ReconciliationInterval, 10*time.Minute)
	dur(&c.ScaleCheckInterval, 5*time.Minute)
	dur(&c.TickInterval, 250*time.Millisecond)
	num(&c.MaxInstancesPerOffer, 5)
	num(&c.MaxVersions, 50)
	num(&c.EventBufferSize, 4096)
	num(&c.ServicePortMin, 10000)
	num(&c.ServicePortMax, 20000)
	return c
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "root"
}
