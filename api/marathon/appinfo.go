package marathon

// AppInfo is an app as GET answers it: the definition plus its runtime
// counts and the embedded extras (reference §3.1 "AppInfo extras").
type AppInfo struct {
	App
	TasksStaged           int                    `json:"tasksStaged"`
	TasksRunning          int                    `json:"tasksRunning"`
	TasksHealthy          int                    `json:"tasksHealthy"`
	TasksUnhealthy        int                    `json:"tasksUnhealthy"`
	Deployments           []DeploymentID         `json:"deployments"`
	ReadinessCheckResults []ReadinessCheckResult `json:"readinessCheckResults,omitempty"`
	Tasks                 []Task                 `json:"tasks,omitempty"`
	LastTaskFailure       *TaskFailure           `json:"lastTaskFailure,omitempty"`
	TaskStats             *TaskStats             `json:"taskStats,omitempty"`
}

// AppsResponse is {"apps":[...]}.
type AppsResponse struct {
	Apps []AppInfo `json:"apps"`
}

// AppResponse is {"app":...}.
type AppResponse struct {
	App AppInfo `json:"app"`
}

// VersionsResponse is {"versions":[...]}.
type VersionsResponse struct {
	Versions []string `json:"versions"`
}
