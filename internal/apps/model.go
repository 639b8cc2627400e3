package apps

import (
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/backoff"
	"github.com/agoraproject/agora/internal/apps/constraints"
	"github.com/agoraproject/agora/internal/apps/health"
	"github.com/agoraproject/agora/internal/apps/plan"
)

// Instance goals.
const (
	goalRunning        = "Running"
	goalDecommissioned = "Decommissioned"
)

// Instance conditions (reference §3.4). Terminal conditions are transient:
// a terminal instance is rescheduled (goal Running) or expunged.
const (
	condScheduled           = "Scheduled"
	condProvisioned         = "Provisioned"
	condStaging             = "Staging"
	condStarting            = "Starting"
	condRunning             = "Running"
	condKilling             = "Killing"
	condUnreachable         = "Unreachable"
	condUnreachableInactive = "UnreachableInactive"
	condKilled              = "Killed"
	condFinished            = "Finished"
	condFailed              = "Failed"
	condError               = "Error"
	condDropped             = "Dropped"
	condGone                = "Gone"
	condUnknown             = "Unknown"
)

// instance is one app instance: a goal and, while launched, its task.
type instance struct {
	ID    string `json:"id"`
	AppID string `json:"appId"`
	// Version is the app version the task was launched with (or the
	// instance was scheduled at); ConfigVersion that version's
	// lastConfigChangeAt.
	Version       string `json:"version"`
	ConfigVersion string `json:"configVersion"`
	Goal          string `json:"goal"`
	Condition     string `json:"condition"`
	Incarnation   int    `json:"incarnation"`
	TaskID        string `json:"taskId,omitempty"`
	AgentID       string `json:"agentId,omitempty"`
	Host          string `json:"host,omitempty"`
	HostPorts     []int  `json:"hostPorts,omitempty"`
	// Values are the agent's constraint values.
	Values      constraints.Values   `json:"values,omitempty"`
	IPAddresses []marathon.IPAddress `json:"ipAddresses,omitempty"`
	ScheduledAt time.Time            `json:"scheduledAt"`
	StagedAt    time.Time            `json:"stagedAt"`
	StartedAt   time.Time            `json:"startedAt"`
	// UnreachableSince is when TASK_UNREACHABLE arrived.
	UnreachableSince time.Time `json:"unreachableSince"`
	// KillSentAt is when the last KILL went out (zero: none pending).
	KillSentAt time.Time `json:"killSentAt"`
	// MesosHealthy is the executor's verdict (Mesos-side checks).
	MesosHealthy *bool `json:"mesosHealthy,omitempty"`

	// Not persisted: Marathon-side health and readiness state.
	health    []*healthState
	readiness *readinessState
}

// healthState is one Marathon-side check of one instance.
type healthState struct {
	health.State
	next     time.Time
	inFlight bool
}

// readinessState is the readiness check of one instance.
type readinessState struct {
	ready    bool
	next     time.Time
	inFlight bool
	last     *marathon.HTTPResponse
}

func (in *instance) scheduled() bool { return in.Condition == condScheduled }

// live reports whether the instance has a task that is not terminal.
func (in *instance) live() bool {
	return in.TaskID != "" && in.Condition != condScheduled && !terminal(in.Condition)
}

func terminal(cond string) bool {
	switch cond {
	case condKilled, condFinished, condFailed, condError, condDropped, condGone, condUnknown:
		return true
	}
	return false
}

// app is an app's current definition with its stored versions.
type app struct {
	def *marathon.App
	// versions maps version timestamps to definitions (bounded).
	versions map[string]*marathon.App
}

// group is a group created explicitly (POST /v2/groups or PUT with
// dependencies); other groups exist implicitly through app ids.
type group struct {
	ID           string   `json:"id"`
	Dependencies []string `json:"dependencies"`
	EnforceRole  bool     `json:"enforceRole"`
	Version      string   `json:"version"`
}

// deployment is a running plan; it is stored so a new leader resumes it.
type deployment struct {
	ID      string      `json:"id"`
	Version string      `json:"version"`
	Steps   []plan.Step `json:"steps"`
	// Current is the index of the running step (== len(Steps) when done).
	Current int `json:"current"`
	// Original and Target are the affected apps before and after (nil:
	// absent), for reverts and events.
	Original map[string]*marathon.App `json:"original"`
	Target   map[string]*marathon.App `json:"target"`
	// Sentenced are the instances a kill&scale chose, by app.
	Sentenced map[string][]string `json:"sentenced,omitempty"`
	StartedAt time.Time           `json:"startedAt"`
	// Timeout, when set, rolls the deployment back after it (Agora
	// extension). Rollbacks have none.
	Timeout  time.Duration `json:"timeout,omitempty"`
	Rollback bool          `json:"rollback,omitempty"`
}

// affects reports whether the deployment touches app id.
func (d *deployment) affects(id string) bool {
	_, inOrig := d.Original[id]
	_, inTarget := d.Target[id]
	return inOrig || inTarget
}

// backoffKey identifies a backoff entry: the app and its config version.
type backoffKey struct {
	app, config string
}

// offerStats are an app's launch-queue offer statistics.
type offerStats struct {
	processed, unused int
	lastUnusedAt      time.Time
	lastUsedAt        time.Time
	rejects           map[string]int
	lastUnused        []marathon.UnusedOffer
}

// backoffPolicy returns an app's backoff settings.
func backoffPolicy(a *marathon.App) backoff.Policy {
	return backoff.Policy{
		Initial: time.Duration(a.BackoffSeconds) * time.Second,
		Factor:  a.BackoffFactor,
		Max:     time.Duration(a.MaxLaunchDelaySeconds) * time.Second,
	}
}
