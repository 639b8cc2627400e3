package marathon

// Event types of /v2/events (reference §2 Events).
const (
	EventAPIPost                   = "api_post_event"
	EventStatusUpdate              = "status_update_event"
	EventInstanceChanged           = "instance_changed_event"
	EventInstanceHealthChanged     = "instance_health_changed_event"
	EventUnknownInstanceTerminated = "unknown_instance_terminated_event"
	EventAppTerminated             = "app_terminated_event"
	EventAddHealthCheck            = "add_health_check_event"
	EventRemoveHealthCheck         = "remove_health_check_event"
	EventFailedHealthCheck         = "failed_health_check_event"
	EventHealthStatusChanged       = "health_status_changed_event"
	EventUnhealthyInstanceKill     = "unhealthy_instance_kill_event"
	EventDeploymentInfo            = "deployment_info"
	EventDeploymentStepSuccess     = "deployment_step_success"
	EventDeploymentStepFailure     = "deployment_step_failure"
	EventDeploymentSuccess         = "deployment_success"
	EventDeploymentFailed          = "deployment_failed"
	EventGroupChangeSuccess        = "group_change_success"
	EventGroupChangeFailed         = "group_change_failed"
	EventSchedulerRegistered       = "scheduler_registered_event"
	EventSchedulerReregistered     = "scheduler_reregistered_event"
	EventSchedulerDisconnected     = "scheduler_disconnected_event"
	EventFrameworkMessage          = "framework_message_event"
	EventStreamAttached            = "event_stream_attached"
	EventStreamDetached            = "event_stream_detached"
)

// EventHeader is in every event.
type EventHeader struct {
	EventType string `json:"eventType"`
	Timestamp string `json:"timestamp"`
}

// APIPostEvent is sent when an app is created or changed through the API.
type APIPostEvent struct {
	EventHeader
	ClientIP      string `json:"clientIp"`
	URI           string `json:"uri"`
	AppDefinition App    `json:"appDefinition"`
}

// StatusUpdateEvent is sent for every task status update.
type StatusUpdateEvent struct {
	EventHeader
	SlaveID     string      `json:"slaveId"`
	TaskID      string      `json:"taskId"`
	TaskStatus  string      `json:"taskStatus"`
	Message     string      `json:"message"`
	AppID       string      `json:"appId"`
	Host        string      `json:"host"`
	IPAddresses []IPAddress `json:"ipAddresses"`
	Ports       []int       `json:"ports"`
	Version     string      `json:"version"`
}

// InstanceChangedEvent is sent when an instance's condition changes.
type InstanceChangedEvent struct {
	EventHeader
	InstanceID     string `json:"instanceId"`
	Condition      string `json:"condition"`
	RunSpecID      string `json:"runSpecId"`
	AgentID        string `json:"agentId"`
	Host           string `json:"host"`
	RunSpecVersion string `json:"runSpecVersion"`
}

// InstanceHealthChangedEvent is sent when an instance's health flips.
type InstanceHealthChangedEvent struct {
	EventHeader
	InstanceID     string `json:"instanceId"`
	RunSpecID      string `json:"runSpecId"`
	RunSpecVersion string `json:"runSpecVersion"`
	Healthy        *bool  `json:"healthy"`
}

// UnknownInstanceTerminatedEvent is sent when a task nobody knows is killed.
type UnknownInstanceTerminatedEvent struct {
	EventHeader
	InstanceID string `json:"instanceId"`
	RunSpecID  string `json:"runSpecId"`
	Condition  string `json:"condition"`
}

// AppTerminatedEvent is sent when an app's last instance is gone after a
// stop.
type AppTerminatedEvent struct {
	EventHeader
	AppID string `json:"appId"`
}

// HealthCheckEvent is add_health_check_event / remove_health_check_event.
type HealthCheckEvent struct {
	EventHeader
	AppID       string       `json:"appId"`
	Version     string       `json:"version,omitempty"`
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
}

// FailedHealthCheckEvent is sent on every failed probe.
type FailedHealthCheckEvent struct {
	EventHeader
	AppID       string      `json:"appId"`
	TaskID      string      `json:"taskId"`
	InstanceID  string      `json:"instanceId"`
	HealthCheck HealthCheck `json:"healthCheck"`
}

// HealthStatusChangedEvent is sent when a check's alive flag flips.
type HealthStatusChangedEvent struct {
	EventHeader
	AppID      string `json:"appId"`
	InstanceID string `json:"instanceId"`
	TaskID     string `json:"taskId"`
	Version    string `json:"version"`
	Alive      bool   `json:"alive"`
}

// UnhealthyInstanceKillEvent is sent when a health check kills a task.
type UnhealthyInstanceKillEvent struct {
	EventHeader
	AppID      string `json:"appId"`
	TaskID     string `json:"taskId"`
	InstanceID string `json:"instanceId"`
	Version    string `json:"version"`
	Reason     string `json:"reason"`
	Host       string `json:"host"`
	SlaveID    string `json:"slaveId"`
}

// DeploymentEvent is deployment_info, deployment_step_success and
// deployment_step_failure.
type DeploymentEvent struct {
	EventHeader
	Plan        DeploymentPlanView `json:"plan"`
	CurrentStep Step               `json:"currentStep"`
}

// DeploymentDoneEvent is deployment_success and deployment_failed.
type DeploymentDoneEvent struct {
	EventHeader
	ID     string             `json:"id"`
	Plan   DeploymentPlanView `json:"plan"`
	Reason string             `json:"reason,omitempty"`
}

// GroupChangeEvent is group_change_success and group_change_failed.
type GroupChangeEvent struct {
	EventHeader
	GroupID string `json:"groupId"`
	Version string `json:"version"`
	Reason  string `json:"reason,omitempty"`
}

// SchedulerEvent is scheduler_registered_event, _reregistered_ and
// _disconnected_.
type SchedulerEvent struct {
	EventHeader
	FrameworkID string `json:"frameworkId,omitempty"`
	Master      string `json:"master,omitempty"`
}

// StreamEvent is event_stream_attached / event_stream_detached.
type StreamEvent struct {
	EventHeader
	RemoteAddress string `json:"remoteAddress"`
}
