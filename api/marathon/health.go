package marathon

// HealthCheck is one of an app's health checks (reference §3.3). Port wins
// over PortIndex; both nil means port index 0.
type HealthCheck struct {
	Protocol               string        `json:"protocol"`
	Path                   string        `json:"path,omitempty"`
	PortIndex              *int          `json:"portIndex,omitempty"`
	Port                   *int          `json:"port,omitempty"`
	Command                *CommandCheck `json:"command,omitempty"`
	GracePeriodSeconds     int64         `json:"gracePeriodSeconds"`
	IntervalSeconds        int64         `json:"intervalSeconds"`
	TimeoutSeconds         int64         `json:"timeoutSeconds"`
	MaxConsecutiveFailures int           `json:"maxConsecutiveFailures"`
	DelaySeconds           int64         `json:"delaySeconds"`
	IgnoreHTTP1xx          bool          `json:"ignoreHttp1xx"`
	IPProtocol             string        `json:"ipProtocol"`
}

// CommandCheck is the command of a COMMAND health check.
type CommandCheck struct {
	Value string `json:"value"`
}

// Health check protocols. The MESOS_ ones and COMMAND run on the agent;
// the others are probed by the framework.
const (
	ProtocolHTTP       = "HTTP"
	ProtocolHTTPS      = "HTTPS"
	ProtocolTCP        = "TCP"
	ProtocolCommand    = "COMMAND"
	ProtocolMesosHTTP  = "MESOS_HTTP"
	ProtocolMesosHTTPS = "MESOS_HTTPS"
	ProtocolMesosTCP   = "MESOS_TCP"
)

// Check is a Mesos generic check (informational; it never kills).
type Check struct {
	HTTP            *CheckTarget `json:"http,omitempty"`
	TCP             *CheckTarget `json:"tcp,omitempty"`
	Exec            *CheckExec   `json:"exec,omitempty"`
	IntervalSeconds int64        `json:"intervalSeconds"`
	TimeoutSeconds  int64        `json:"timeoutSeconds"`
	DelaySeconds    int64        `json:"delaySeconds"`
}

// CheckTarget is where an HTTP or TCP check connects.
type CheckTarget struct {
	PortIndex *int   `json:"portIndex,omitempty"`
	Port      *int   `json:"port,omitempty"`
	Path      string `json:"path,omitempty"`
	Scheme    string `json:"scheme,omitempty"`
}

// CheckExec is the command of an exec check.
type CheckExec struct {
	Command CommandCheck `json:"command"`
}

// ReadinessCheck is polled on new instances during deployments.
type ReadinessCheck struct {
	Name                    string `json:"name"`
	Protocol                string `json:"protocol"`
	Path                    string `json:"path"`
	PortName                string `json:"portName"`
	IntervalSeconds         int64  `json:"intervalSeconds"`
	TimeoutSeconds          int64  `json:"timeoutSeconds"`
	HTTPStatusCodesForReady []int  `json:"httpStatusCodesForReady"`
	PreserveLastResponse    bool   `json:"preserveLastResponse"`
}

// HealthCheckResult is one check's state for one task.
type HealthCheckResult struct {
	Alive               bool    `json:"alive"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
	FirstSuccess        *string `json:"firstSuccess"`
	LastSuccess         *string `json:"lastSuccess"`
	LastFailure         *string `json:"lastFailure"`
	LastFailureCause    *string `json:"lastFailureCause"`
	InstanceID          string  `json:"instanceId"`
}

// ReadinessCheckResult is a readiness check's state for one task.
type ReadinessCheckResult struct {
	Name         string        `json:"name"`
	TaskID       string        `json:"taskId"`
	Ready        bool          `json:"ready"`
	LastResponse *HTTPResponse `json:"lastResponse,omitempty"`
}

// HTTPResponse is a readiness probe's last answer.
type HTTPResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}
