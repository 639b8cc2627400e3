package marathon

import "encoding/json"

// App is an AppDefinition (reference §3.1): what a client POSTs and what the
// server echoes with its defaults filled in.
type App struct {
	ID                         string                  `json:"id"`
	AcceptedResourceRoles      []string                `json:"acceptedResourceRoles,omitempty"`
	Args                       []string                `json:"args,omitempty"`
	BackoffFactor              float64                 `json:"backoffFactor"`
	BackoffSeconds             int64                   `json:"backoffSeconds"`
	Check                      *Check                  `json:"check,omitempty"`
	Cmd                        string                  `json:"cmd,omitempty"`
	Constraints                []Constraint            `json:"constraints"`
	Container                  *Container              `json:"container,omitempty"`
	CPUs                       float64                 `json:"cpus"`
	Dependencies               []string                `json:"dependencies"`
	Disk                       float64                 `json:"disk"`
	Env                        map[string]EnvVar       `json:"env"`
	Executor                   string                  `json:"executor"`
	ExecutorResources          *ExecutorResources      `json:"executorResources,omitempty"`
	Fetch                      []Fetch                 `json:"fetch"`
	GPUs                       int                     `json:"gpus"`
	HealthChecks               []HealthCheck           `json:"healthChecks"`
	Instances                  int                     `json:"instances"`
	KillSelection              string                  `json:"killSelection"`
	Labels                     map[string]string       `json:"labels"`
	MaxLaunchDelaySeconds      int64                   `json:"maxLaunchDelaySeconds"`
	Mem                        float64                 `json:"mem"`
	Networks                   []Network               `json:"networks"`
	PortDefinitions            []PortDefinition        `json:"portDefinitions,omitempty"`
	ReadinessChecks            []ReadinessCheck        `json:"readinessChecks"`
	RequirePorts               bool                    `json:"requirePorts"`
	ResourceLimits             *ResourceLimits         `json:"resourceLimits,omitempty"`
	Role                       string                  `json:"role,omitempty"`
	Secrets                    map[string]SecretSource `json:"secrets"`
	TaskKillGracePeriodSeconds *int64                  `json:"taskKillGracePeriodSeconds,omitempty"`
	TTY                        bool                    `json:"tty,omitempty"`
	UnreachableStrategy        *UnreachableStrategy    `json:"unreachableStrategy,omitempty"`
	UpgradeStrategy            *UpgradeStrategy        `json:"upgradeStrategy,omitempty"`
	User                       string                  `json:"user,omitempty"`
	Version                    string                  `json:"version,omitempty"`
	VersionInfo                *VersionInfo            `json:"versionInfo,omitempty"`

	// Deprecated input fields: converted by the server, never echoed.
	Ports     []int            `json:"ports,omitempty"`
	URIs      []string         `json:"uris,omitempty"`
	IPAddress *json.RawMessage `json:"ipAddress,omitempty"`
	Residency *json.RawMessage `json:"residency,omitempty"`
}

// VersionInfo tells when an app last changed, by kind of change.
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt"`
	LastConfigChangeAt string `json:"lastConfigChangeAt"`
}

// UpgradeStrategy bounds a rolling restart (reference §4.3).
type UpgradeStrategy struct {
	MinimumHealthCapacity float64 `json:"minimumHealthCapacity"`
	MaximumOverCapacity   float64 `json:"maximumOverCapacity"`
}

// ExecutorResources are the resources of a custom executor.
type ExecutorResources struct {
	CPUs float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
}

// ResourceLimits are burst limits: a number or "unlimited" each.
type ResourceLimits struct {
	CPUs json.RawMessage `json:"cpus,omitempty"`
	Mem  json.RawMessage `json:"mem,omitempty"`
}

// SecretSource names where a secret comes from.
type SecretSource struct {
	Source string `json:"source"`
}

// Fetch is a URI the agent downloads into the sandbox before the task runs.
type Fetch struct {
	URI        string `json:"uri"`
	Extract    bool   `json:"extract"`
	Executable bool   `json:"executable"`
	Cache      bool   `json:"cache"`
	DestPath   string `json:"destPath,omitempty"`
}

// Network is one network the app joins.
type Network struct {
	Mode   string            `json:"mode"`
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Network modes.
const (
	NetworkHost      = "host"
	NetworkContainer = "container"
	NetworkBridge    = "container/bridge"
)

// PortDefinition is a host-mode port: a service port, and the host port
// taken from the offer (the same number when requirePorts).
type PortDefinition struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"`
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// Container is the app's container (reference §3.2).
type Container struct {
	Type         string        `json:"type"`
	Docker       *Docker       `json:"docker,omitempty"`
	Volumes      []Volume      `json:"volumes"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
	LinuxInfo    *LinuxInfo    `json:"linuxInfo,omitempty"`
}

// Container types.
const (
	ContainerDocker = "DOCKER"
	ContainerMesos  = "MESOS"
)

// Docker is the image and Docker-specific options of a container.
type Docker struct {
	Image          string           `json:"image"`
	ForcePullImage bool             `json:"forcePullImage"`
	Privileged     bool             `json:"privileged"`
	Parameters     []Parameter      `json:"parameters"`
	PullConfig     *PullConfig      `json:"pullConfig,omitempty"`
	Credential     *json.RawMessage `json:"credential,omitempty"`

	// Deprecated input fields: moved to networks and container.portMappings.
	Network      string        `json:"network,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// Parameter is one docker run option.
type Parameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PullConfig names the secret holding registry credentials.
type PullConfig struct {
	Secret string `json:"secret"`
}

// LinuxInfo holds seccomp and IPC settings.
type LinuxInfo struct {
	Seccomp *json.RawMessage `json:"seccomp,omitempty"`
	IPCInfo *json.RawMessage `json:"ipcInfo,omitempty"`
}

// PortMapping maps a container port to a host port (bridge or container
// networking). HostPort nil means no host port.
type PortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      *int              `json:"hostPort,omitempty"`
	ServicePort   int               `json:"servicePort"`
	Protocol      string            `json:"protocol"`
	Name          string            `json:"name,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	NetworkNames  []string          `json:"networkNames,omitempty"`
}

// Volume is a host, persistent, external or secret volume.
type Volume struct {
	ContainerPath string           `json:"containerPath"`
	HostPath      string           `json:"hostPath,omitempty"`
	Mode          string           `json:"mode,omitempty"`
	Persistent    *json.RawMessage `json:"persistent,omitempty"`
	External      *json.RawMessage `json:"external,omitempty"`
	Secret        string           `json:"secret,omitempty"`
}

// AppUpdate is the body of PUT/PATCH /v2/apps: a list of apps.
type AppUpdate = []App
