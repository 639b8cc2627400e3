package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/agoraproject/agora/api/mesosjson"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/resources"
	"github.com/agoraproject/agora/internal/version"
	"google.golang.org/protobuf/proto"
)

// The agent's /state (reference §7 "Agent /state"): legacy names (slave_id),
// flat resource summaries, *_full arrays in endpoint format.

type stateJSON struct {
	Version                      string                       `json:"version"`
	GitSHA                       string                       `json:"git_sha,omitempty"`
	BuildDate                    string                       `json:"build_date"`
	BuildTime                    float64                      `json:"build_time"`
	BuildUser                    string                       `json:"build_user"`
	StartTime                    float64                      `json:"start_time"`
	ID                           string                       `json:"id"`
	PID                          string                       `json:"pid"`
	Hostname                     string                       `json:"hostname"`
	Capabilities                 []string                     `json:"capabilities"`
	Resources                    map[string]any               `json:"resources"`
	ReservedResources            map[string]map[string]any    `json:"reserved_resources"`
	UnreservedResources          map[string]any               `json:"unreserved_resources"`
	ReservedResourcesFull        map[string][]json.RawMessage `json:"reserved_resources_full"`
	UnreservedResourcesFull      []json.RawMessage            `json:"unreserved_resources_full"`
	ReservedResourcesAllocated   map[string]map[string]any    `json:"reserved_resources_allocated"`
	UnreservedResourcesAllocated map[string]any               `json:"unreserved_resources_allocated"`
	ResourceProviders            []any                        `json:"resource_providers"`
	Attributes                   map[string]any               `json:"attributes"`
	MasterHostname               string                       `json:"master_hostname,omitempty"`
	Flags                        map[string]string            `json:"flags"`
	Frameworks                   []frameworkJSON              `json:"frameworks"`
	CompletedFrameworks          []frameworkJSON              `json:"completed_frameworks"`
}

type frameworkJSON struct {
	ID                 string         `json:"id"`
	Name               string         `json:"name"`
	User               string         `json:"user"`
	FailoverTimeout    float64        `json:"failover_timeout"`
	Checkpoint         bool           `json:"checkpoint"`
	Hostname           string         `json:"hostname"`
	Principal          string         `json:"principal,omitempty"`
	Role               string         `json:"role,omitempty"`
	Roles              []string       `json:"roles,omitempty"`
	Capabilities       []string       `json:"capabilities,omitempty"`
	Executors          []executorJSON `json:"executors"`
	CompletedExecutors []executorJSON `json:"completed_executors"`
}

type executorJSON struct {
	ID             string          `json:"id"`
	Name           string          `json:"name"`
	Source         string          `json:"source"`
	Container      string          `json:"container"`
	Directory      string          `json:"directory"`
	Resources      map[string]any  `json:"resources"`
	Role           string          `json:"role,omitempty"`
	Type           string          `json:"type,omitempty"`
	Labels         json.RawMessage `json:"labels,omitempty"`
	Tasks          []taskJSON      `json:"tasks"`
	QueuedTasks    []queuedJSON    `json:"queued_tasks"`
	CompletedTasks []taskJSON      `json:"completed_tasks"`
}

type taskJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	FrameworkID string          `json:"framework_id"`
	ExecutorID  string          `json:"executor_id"`
	SlaveID     string          `json:"slave_id"`
	State       string          `json:"state"`
	Resources   map[string]any  `json:"resources"`
	Role        string          `json:"role,omitempty"`
	Statuses    []statusJSON    `json:"statuses"`
	User        string          `json:"user,omitempty"`
	Labels      json.RawMessage `json:"labels,omitempty"`
	Discovery   json.RawMessage `json:"discovery,omitempty"`
	Container   json.RawMessage `json:"container,omitempty"`
	HealthCheck json.RawMessage `json:"health_check,omitempty"`
}

type statusJSON struct {
	State           string          `json:"state"`
	Timestamp       float64         `json:"timestamp"`
	Healthy         *bool           `json:"healthy,omitempty"`
	Labels          json.RawMessage `json:"labels,omitempty"`
	ContainerStatus json.RawMessage `json:"container_status,omitempty"`
}

type queuedJSON struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	SlaveID    string          `json:"slave_id"`
	Resources  map[string]any  `json:"resources"`
	Role       string          `json:"role,omitempty"`
	Command    json.RawMessage `json:"command,omitempty"`
	ExecutorID string          `json:"executor_id,omitempty"`
}

func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) {
	body, err := marshalJSON(a.state())
	if err != nil {
		apihttp.WriteError(w, fmt.Errorf("encoding state: %w", err))
		return
	}
	writeJSONBytes(w, r, body)
}

// state builds /state.
func (a *Agent) state() stateJSON {
	a.mu.Lock()
	defer a.mu.Unlock()
	total := a.totalResources()
	allocated := mustResources(a.allocatedResources())
	s := stateJSON{
		Version:                      version.Mesos,
		GitSHA:                       version.Info().GitSHA,
		BuildUser:                    "agora",
		StartTime:                    float64(a.startTime.UnixNano()) / 1e9,
		ID:                           a.agentID,
		PID:                          a.pid(),
		Hostname:                     a.cfg.Hostname,
		Capabilities:                 capabilityNames(),
		Resources:                    total.Summary(),
		ReservedResources:            total.Reserved().SummaryByRole(),
		UnreservedResources:          total.Unreserved().Summary(),
		ReservedResourcesFull:        reservedFull(total),
		UnreservedResourcesFull:      rawResources(total.Unreserved()),
		ReservedResourcesAllocated:   allocated.Reserved().SummaryByRole(),
		UnreservedResourcesAllocated: allocated.Unreserved().Summary(),
		ResourceProviders:            []any{},
		Attributes:                   resources.FlatAttributes(a.attributes),
		Flags:                        a.flags(),
		Frameworks:                   []frameworkJSON{},
		CompletedFrameworks:          []frameworkJSON{},
	}
	if a.masterInfo != nil {
		s.MasterHostname = a.masterInfo.GetHostname()
	}
	for _, id := range sortedKeys(a.frameworks) {
		s.Frameworks = append(s.Frameworks, a.frameworkState(a.frameworks[id]))
	}
	for _, fw := range a.completedFrameworks {
		s.CompletedFrameworks = append(s.CompletedFrameworks, a.frameworkState(fw))
	}
	return s
}

func capabilityNames() []string {
	var out []string
	for _, c := range agentCapabilities() {
		out = append(out, c.GetType().String())
	}
	return out
}

func mustResources(rs []*mesos.Resource) resources.Resources {
	r, err := resources.FromProto(rs)
	if err != nil {
		return resources.Resources{}
	}
	return r
}

func reservedFull(r resources.Resources) map[string][]json.RawMessage {
	out := make(map[string][]json.RawMessage)
	for _, role := range r.ReservationRoles() {
		out[role] = rawResources(r.ReservedTo(role))
	}
	return out
}

func rawResources(r resources.Resources) []json.RawMessage {
	out := []json.RawMessage{}
	for _, p := range r.ToProto(resources.Endpoint) {
		if raw := rawJSON(p); raw != nil {
			out = append(out, raw)
		}
	}
	return out
}

// rawJSON renders a message in Mesos JSON; nil for a nil message.
func rawJSON(m proto.Message) json.RawMessage {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil
	}
	b, err := mesosjson.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

func summary(rs []*mesos.Resource) map[string]any { return mustResources(rs).Summary() }

func (a *Agent) frameworkState(fw *framework) frameworkJSON {
	info := fw.info
	out := frameworkJSON{
		ID:                 fw.id,
		Name:               info.GetName(),
		User:               info.GetUser(),
		FailoverTimeout:    info.GetFailoverTimeout(),
		Checkpoint:         info.GetCheckpoint(),
		Hostname:           info.GetHostname(),
		Principal:          info.GetPrincipal(),
		Executors:          []executorJSON{},
		CompletedExecutors: []executorJSON{},
	}
	multiRole := false
	for _, c := range info.GetCapabilities() {
		out.Capabilities = append(out.Capabilities, c.GetType().String())
		multiRole = multiRole || c.GetType() == mesos.FrameworkInfo_Capability_MULTI_ROLE
	}
	if multiRole {
		out.Roles = info.GetRoles()
	} else {
		out.Role = info.GetRole()
		if out.Role == "" {
			out.Role = "*"
		}
	}
	for _, id := range sortedKeys(fw.executors) {
		out.Executors = append(out.Executors, a.executorState(fw.executors[id]))
	}
	for _, ex := range fw.completedExecutors {
		out.CompletedExecutors = append(out.CompletedExecutors, a.executorState(ex))
	}
	return out
}

func (a *Agent) executorState(ex *executor) executorJSON {
	out := executorJSON{
		ID:             ex.id,
		Name:           ex.info.GetName(),
		Source:         ex.info.GetSource(),
		Container:      ex.containerID,
		Directory:      ex.directory,
		Resources:      summary(executorResources(ex)),
		Role:           allocationRole(ex.info.GetResources()),
		Labels:         rawJSON(ex.info.GetLabels()),
		Tasks:          []taskJSON{},
		QueuedTasks:    []queuedJSON{},
		CompletedTasks: []taskJSON{},
	}
	if ex.info.Type != nil {
		out.Type = ex.info.GetType().String()
	}
	for _, id := range sortedKeys(ex.launched) {
		out.Tasks = append(out.Tasks, a.taskState(ex, ex.launched[id]))
	}
	for _, t := range ex.queued {
		out.QueuedTasks = append(out.QueuedTasks, a.queuedState(ex, t))
	}
	for _, t := range ex.completedTasks {
		out.CompletedTasks = append(out.CompletedTasks, a.taskState(ex, t))
	}
	return out
}

func (a *Agent) taskState(ex *executor, t *task) taskJSON {
	out := taskJSON{
		ID:          t.info.GetTaskId().GetValue(),
		Name:        t.info.GetName(),
		FrameworkID: ex.fw.id,
		SlaveID:     a.agentID,
		State:       t.state.String(),
		Resources:   summary(t.info.GetResources()),
		Role:        allocationRole(t.info.GetResources()),
		Statuses:    []statusJSON{},
		User:        ex.user,
		Labels:      rawJSON(t.info.GetLabels()),
		Discovery:   rawJSON(t.info.GetDiscovery()),
		Container:   rawJSON(t.info.GetContainer()),
		HealthCheck: rawJSON(t.info.GetHealthCheck()),
	}
	if !ex.command {
		out.ExecutorID = ex.id
	}
	for _, st := range t.statuses {
		out.Statuses = append(out.Statuses, statusJSON{
			State:           st.GetState().String(),
			Timestamp:       st.GetTimestamp(),
			Healthy:         st.Healthy,
			Labels:          rawJSON(st.GetLabels()),
			ContainerStatus: rawJSON(st.GetContainerStatus()),
		})
	}
	return out
}

func (a *Agent) queuedState(ex *executor, t *task) queuedJSON {
	out := queuedJSON{
		ID:        t.info.GetTaskId().GetValue(),
		Name:      t.info.GetName(),
		SlaveID:   a.agentID,
		Resources: summary(t.info.GetResources()),
		Role:      allocationRole(t.info.GetResources()),
		Command:   rawJSON(t.info.GetCommand()),
	}
	if !ex.command {
		out.ExecutorID = ex.id
	}
	return out
}

// allocationRole is the role resources are allocated to ("" if none).
func allocationRole(rs []*mesos.Resource) string {
	for _, r := range rs {
		if role := r.GetAllocationInfo().GetRole(); role != "" {
			return role
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
