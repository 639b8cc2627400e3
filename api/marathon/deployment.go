package marathon

// DeploymentID is {"id": ...}, as apps list their deployments.
type DeploymentID struct {
	ID string `json:"id"`
}

// DeploymentResult answers every asynchronous change.
type DeploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

// Deployment is a running deployment plan as /v2/deployments lists it.
type Deployment struct {
	ID             string          `json:"id"`
	Version        string          `json:"version"`
	AffectedApps   []string        `json:"affectedApps"`
	AffectedPods   []string        `json:"affectedPods"`
	Steps          []Step          `json:"steps"`
	CurrentActions []CurrentAction `json:"currentActions"`
	CurrentStep    int             `json:"currentStep"`
	TotalSteps     int             `json:"totalSteps"`
}

// Step is a set of actions that run together.
type Step struct {
	Actions []Action `json:"actions"`
}

// Action is one app's action within a step.
type Action struct {
	Action string `json:"action"`
	App    string `json:"app"`
}

// CurrentAction is an action of the running step, with its readiness.
type CurrentAction struct {
	Action                string                 `json:"action"`
	App                   string                 `json:"app"`
	ReadinessCheckResults []ReadinessCheckResult `json:"readinessCheckResults"`
}

// Deployment actions.
const (
	ActionStart   = "StartApplication"
	ActionStop    = "StopApplication"
	ActionScale   = "ScaleApplication"
	ActionRestart = "RestartApplication"
)

// DryRun answers PUT /v2/groups?dryRun=true.
type DryRun struct {
	Steps []Step `json:"steps"`
}

// DeploymentPlanView is the plan inside deployment events.
type DeploymentPlanView struct {
	ID       string `json:"id"`
	Original *Group `json:"original"`
	Target   *Group `json:"target"`
	Steps    []Step `json:"steps"`
	Version  string `json:"version"`
}
