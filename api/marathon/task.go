package marathon

// Task is a task as /v2/tasks and /v2/apps/{id}/tasks report it (reference
// §3.4). Inactive tasks omit ports, stagedAt, startedAt and version.
type Task struct {
	ID                 string              `json:"id"`
	AppID              string              `json:"appId"`
	Host               string              `json:"host"`
	SlaveID            string              `json:"slaveId,omitempty"`
	Ports              []int               `json:"ports,omitempty"`
	ServicePorts       []int               `json:"servicePorts"`
	IPAddresses        []IPAddress         `json:"ipAddresses"`
	StagedAt           string              `json:"stagedAt,omitempty"`
	StartedAt          string              `json:"startedAt,omitempty"`
	Version            string              `json:"version,omitempty"`
	State              string              `json:"state"`
	HealthCheckResults []HealthCheckResult `json:"healthCheckResults,omitempty"`
	LocalVolumes       []any               `json:"localVolumes"`
	Region             string              `json:"region,omitempty"`
	Zone               string              `json:"zone,omitempty"`
	Role               string              `json:"role"`
}

// IPAddress is one of a task's addresses.
type IPAddress struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol"`
}

// TaskFailure is an app's lastTaskFailure.
type TaskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	SlaveID   string `json:"slaveId"`
}

// TaskStats summarises an app's tasks by age class.
type TaskStats struct {
	StartedAfterLastScaling *TaskStatsEntry `json:"startedAfterLastScaling,omitempty"`
	WithLatestConfig        *TaskStatsEntry `json:"withLatestConfig,omitempty"`
	WithOutdatedConfig      *TaskStatsEntry `json:"withOutdatedConfig,omitempty"`
	TotalSummary            *TaskStatsEntry `json:"totalSummary,omitempty"`
}

// TaskStatsEntry wraps one class's stats.
type TaskStatsEntry struct {
	Stats TaskStatsStats `json:"stats"`
}

// TaskStatsStats are the counts and lifetimes of a class.
type TaskStatsStats struct {
	Counts   TaskCounts    `json:"counts"`
	LifeTime *TaskLifeTime `json:"lifeTime,omitempty"`
}

// TaskCounts counts tasks by health.
type TaskCounts struct {
	Staged    int `json:"staged"`
	Running   int `json:"running"`
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
}

// TaskLifeTime is how long a class's running tasks have lived.
type TaskLifeTime struct {
	AverageSeconds float64 `json:"averageSeconds"`
	MedianSeconds  float64 `json:"medianSeconds"`
}

// TasksResponse is {"tasks":[...]}.
type TasksResponse struct {
	Tasks []Task `json:"tasks"`
}

// TaskResponse is {"task":...}.
type TaskResponse struct {
	Task Task `json:"task"`
}

// TaskIDs is the body of POST /v2/tasks/delete.
type TaskIDs struct {
	IDs []string `json:"ids"`
}
