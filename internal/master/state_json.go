package master

import (
	"encoding/json"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// The legacy JSON shapes of reference §7: `slave_id` and `slaves`, flat
// resource summaries, times as seconds. Field order follows Mesos.

type stateJSON struct {
	Version                string            `json:"version"`
	GitSHA                 string            `json:"git_sha,omitempty"`
	BuildDate              string            `json:"build_date"`
	BuildTime              float64           `json:"build_time"`
	BuildUser              string            `json:"build_user"`
	StartTime              float64           `json:"start_time"`
	ElectedTime            float64           `json:"elected_time,omitempty"`
	ID                     string            `json:"id"`
	PID                    string            `json:"pid"`
	Hostname               string            `json:"hostname"`
	Capabilities           []string          `json:"capabilities"`
	ActivatedSlaves        float64           `json:"activated_slaves"`
	DeactivatedSlaves      float64           `json:"deactivated_slaves"`
	UnreachableSlaves      float64           `json:"unreachable_slaves"`
	Leader                 string            `json:"leader,omitempty"`
	LeaderInfo             json.RawMessage   `json:"leader_info,omitempty"`
	Cluster                string            `json:"cluster,omitempty"`
	Flags                  map[string]string `json:"flags"`
	Slaves                 []slaveJSON       `json:"slaves"`
	RecoveredSlaves        []json.RawMessage `json:"recovered_slaves"`
	Frameworks             []frameworkJSON   `json:"frameworks"`
	CompletedFrameworks    []frameworkJSON   `json:"completed_frameworks"`
	OrphanTasks            []taskJSON        `json:"orphan_tasks"`
	UnregisteredFrameworks []string          `json:"unregistered_frameworks"`
}

type slaveJSON struct {
	ID                  string                    `json:"id"`
	Hostname            string                    `json:"hostname"`
	Port                int32                     `json:"port"`
	Attributes          map[string]any            `json:"attributes"`
	Domain              json.RawMessage           `json:"domain,omitempty"`
	PID                 string                    `json:"pid"`
	RegisteredTime      float64                   `json:"registered_time"`
	ReregisteredTime    float64                   `json:"reregistered_time,omitempty"`
	Resources           map[string]any            `json:"resources"`
	UsedResources       map[string]any            `json:"used_resources"`
	OfferedResources    map[string]any            `json:"offered_resources"`
	ReservedResources   map[string]map[string]any `json:"reserved_resources"`
	UnreservedResources map[string]any            `json:"unreserved_resources"`
	Active              bool                      `json:"active"`
	Deactivated         bool                      `json:"deactivated"`
	Version             string                    `json:"version"`
	Capabilities        []string                  `json:"capabilities"`

	// Only in /master/slaves.
	ReservedResourcesFull   map[string]json.RawMessage `json:"reserved_resources_full,omitempty"`
	UnreservedResourcesFull json.RawMessage            `json:"unreserved_resources_full,omitempty"`
	UsedResourcesFull       json.RawMessage            `json:"used_resources_full,omitempty"`
	OfferedResourcesFull    json.RawMessage            `json:"offered_resources_full,omitempty"`
}

type frameworkJSON struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	UsedResources    map[string]any    `json:"used_resources"`
	OfferedResources map[string]any    `json:"offered_resources"`
	Capabilities     []string          `json:"capabilities"`
	Hostname         string            `json:"hostname"`
	WebuiURL         string            `json:"webui_url"`
	Active           bool              `json:"active"`
	Connected        bool              `json:"connected"`
	Recovered        bool              `json:"recovered"`
	User             string            `json:"user"`
	FailoverTimeout  float64           `json:"failover_timeout"`
	Checkpoint       bool              `json:"checkpoint"`
	RegisteredTime   float64           `json:"registered_time"`
	UnregisteredTime float64           `json:"unregistered_time"`
	Principal        string            `json:"principal,omitempty"`
	Resources        map[string]any    `json:"resources"`
	ReregisteredTime float64           `json:"reregistered_time,omitempty"`
	Roles            []string          `json:"roles,omitempty"`
	Role             string            `json:"role,omitempty"`
	Tasks            []json.RawMessage `json:"tasks"`
	UnreachableTasks []json.RawMessage `json:"unreachable_tasks"`
	CompletedTasks   []json.RawMessage `json:"completed_tasks"`
	Offers           []offerJSON       `json:"offers"`
	Executors        []executorJSON    `json:"executors"`
	Labels           []labelJSON       `json:"labels,omitempty"`
	OfferConstraints *json.RawMessage  `json:"offer_constraints,omitempty"`
}

type taskJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	FrameworkID string          `json:"framework_id"`
	ExecutorID  string          `json:"executor_id"`
	SlaveID     string          `json:"slave_id"`
	State       string          `json:"state"`
	Resources   map[string]any  `json:"resources"`
	Role        string          `json:"role"`
	Statuses    []statusJSON    `json:"statuses"`
	User        string          `json:"user,omitempty"`
	Labels      []labelJSON     `json:"labels,omitempty"`
	Discovery   json.RawMessage `json:"discovery,omitempty"`
	Container   json.RawMessage `json:"container,omitempty"`
	HealthCheck json.RawMessage `json:"health_check,omitempty"`
}

type statusJSON struct {
	State           string          `json:"state"`
	Timestamp       float64         `json:"timestamp"`
	Labels          []labelJSON     `json:"labels,omitempty"`
	ContainerStatus json.RawMessage `json:"container_status,omitempty"`
	Healthy         *bool           `json:"healthy,omitempty"`
}

type labelJSON struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

type offerJSON struct {
	ID             string          `json:"id"`
	FrameworkID    string          `json:"framework_id"`
	AllocationInfo json.RawMessage `json:"allocation_info"`
	SlaveID        string          `json:"slave_id"`
	Resources      map[string]any  `json:"resources"`
}

type executorJSON struct {
	ExecutorID  string          `json:"executor_id"`
	Name        string          `json:"name"`
	FrameworkID string          `json:"framework_id"`
	Command     json.RawMessage `json:"command"`
	Resources   map[string]any  `json:"resources"`
	Labels      []labelJSON     `json:"labels,omitempty"`
	Type        string          `json:"type,omitempty"`
	SlaveID     string          `json:"slave_id"`
}

func seconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// protoJSON renders a proto in Mesos JSON for embedding; nil stays absent.
func protoJSON(m proto.Message) json.RawMessage {
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil
	}
	b, err := mesosjson.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

func labelsJSON(l *mesos.Labels) []labelJSON {
	var out []labelJSON
	for _, kv := range l.GetLabels() {
		out = append(out, labelJSON{Key: kv.GetKey(), Value: kv.GetValue()})
	}
	return out
}

func fullJSON(r resources.Resources) json.RawMessage {
	list := r.ToProto(resources.Endpoint)
	parts := make([]json.RawMessage, 0, len(list))
	for _, res := range list {
		parts = append(parts, protoJSON(res))
	}
	b, _ := json.Marshal(parts)
	return b
}

func slaveState(a *AgentView, full bool) slaveJSON {
	info := a.Info
	s := slaveJSON{
		ID:                  a.ID,
		Hostname:            info.GetHostname(),
		Port:                info.GetPort(),
		Attributes:          resources.FlatAttributes(info.GetAttributes()),
		Domain:              protoJSON(info.GetDomain()),
		PID:                 a.PID,
		RegisteredTime:      seconds(a.RegisteredTime),
		ReregisteredTime:    seconds(a.ReregisteredTime),
		Resources:           a.Total.Summary(),
		UsedResources:       a.Used.Summary(),
		OfferedResources:    a.Offered.Summary(),
		ReservedResources:   a.Total.SummaryByRole(),
		UnreservedResources: a.Total.Unreserved().Summary(),
		Active:              a.Active(),
		Deactivated:         a.Deactivated,
		Version:             a.Version,
		Capabilities:        []string{},
	}
	for _, c := range a.Capabilities {
		s.Capabilities = append(s.Capabilities, c.GetType().String())
	}
	if full {
		s.ReservedResourcesFull = map[string]json.RawMessage{}
		for _, role := range a.Total.ReservationRoles() {
			s.ReservedResourcesFull[role] = fullJSON(a.Total.ReservedTo(role))
		}
		s.UnreservedResourcesFull = fullJSON(a.Total.Unreserved())
		s.UsedResourcesFull = fullJSON(a.Used)
		s.OfferedResourcesFull = fullJSON(a.Offered)
	}
	return s
}

// frameworkState renders a framework; without tasks its three task lists
// are null (writeState streams them from the render cache instead).
func frameworkState(f *FrameworkView, withTasks ...bool) frameworkJSON {
	info := f.Info
	j := frameworkJSON{
		ID:               f.ID,
		Name:             info.GetName(),
		UsedResources:    f.Used.Summary(),
		OfferedResources: f.Offered.Summary(),
		Capabilities:     []string{},
		Hostname:         info.GetHostname(),
		WebuiURL:         info.GetWebuiUrl(),
		Active:           f.Active(),
		Connected:        f.Connected,
		Recovered:        f.Recovered,
		User:             info.GetUser(),
		FailoverTimeout:  info.GetFailoverTimeout(),
		Checkpoint:       info.GetCheckpoint(),
		RegisteredTime:   seconds(f.RegisteredTime),
		UnregisteredTime: seconds(f.UnregisteredTime),
		Principal:        info.GetPrincipal(),
		Resources:        f.Used.Add(f.Offered).Summary(),
		ReregisteredTime: seconds(f.ReregisteredTime),

		Offers:    []offerJSON{},
		Executors: []executorJSON{},
		Labels:    labelsJSON(info.GetLabels()),
	}
	if len(withTasks) == 0 || withTasks[0] {
		j.Tasks = tasksState(f.Tasks)
		j.UnreachableTasks = tasksState(f.UnreachableTasks)
		j.CompletedTasks = tasksState(f.CompletedTasks)
	}
	for _, c := range info.GetCapabilities() {
		j.Capabilities = append(j.Capabilities, c.GetType().String())
	}
	if f.MultiRole {
		j.Roles = f.Roles
	} else {
		j.Role = info.GetRole()
	}
	for _, o := range f.Offers {
		j.Offers = append(j.Offers, offerJSON{
			ID:             o.ID,
			FrameworkID:    o.FrameworkID,
			AllocationInfo: protoJSON(&mesos.Resource_AllocationInfo{Role: ptr(o.Role)}),
			SlaveID:        o.AgentID,
			Resources:      o.Resources.Summary(),
		})
	}
	for _, e := range f.Executors {
		j.Executors = append(j.Executors, executorState(f.ID, &e))
	}
	return j
}

func executorState(frameworkID string, e *ExecutorView) executorJSON {
	res, _ := resources.FromProto(e.Info.GetResources())
	j := executorJSON{
		ExecutorID:  e.Info.GetExecutorId().GetValue(),
		Name:        e.Info.GetName(),
		FrameworkID: frameworkID,
		Command:     protoJSON(e.Info.GetCommand()),
		Resources:   res.Summary(),
		Labels:      labelsJSON(e.Info.GetLabels()),
		SlaveID:     e.AgentID,
	}
	if e.Info.Type != nil {
		j.Type = e.Info.GetType().String()
	}
	if j.Command == nil {
		j.Command = json.RawMessage(`{}`)
	}
	return j
}

func tasksState(ts []TaskView) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(ts))
	for i := range ts {
		out = append(out, renderTask(&ts[i]))
	}
	return out
}

func taskState(t *TaskView) taskJSON {
	j := taskJSON{
		ID:          t.ID,
		Name:        t.Name,
		FrameworkID: t.FrameworkID,
		ExecutorID:  t.ExecutorID,
		SlaveID:     t.AgentID,
		State:       t.State.String(),
		Resources:   t.Resources.Summary(),
		Role:        t.Role,
		Statuses:    make([]statusJSON, 0, len(t.Statuses)),
		User:        t.User,
	}
	if info := t.Info; info != nil {
		j.Labels = labelsJSON(info.GetLabels())
		j.Discovery = protoJSON(info.GetDiscovery())
		j.Container = protoJSON(info.GetContainer())
		j.HealthCheck = protoJSON(info.GetHealthCheck())
	}
	for _, s := range t.Statuses {
		sj := statusJSON{
			State:           s.GetState().String(),
			Timestamp:       s.GetTimestamp(),
			Labels:          labelsJSON(s.GetLabels()),
			ContainerStatus: protoJSON(s.GetContainerStatus()),
		}
		if s.Healthy != nil {
			sj.Healthy = ptr(s.GetHealthy())
		}
		j.Statuses = append(j.Statuses, sj)
	}
	return j
}

// allTasks lists every task in a snapshot (active, unreachable and
// completed), for /master/tasks.
func allTasks(s *Snapshot) []*TaskView {
	var out []*TaskView
	add := func(fws []FrameworkView) {
		for i := range fws {
			f := &fws[i]
			for _, list := range [][]TaskView{f.Tasks, f.UnreachableTasks, f.CompletedTasks} {
				for j := range list {
					out = append(out, &list[j])
				}
			}
		}
	}
	add(s.Frameworks)
	add(s.Completed)
	sort.SliceStable(out, func(i, j int) bool { return taskStart(out[i]) < taskStart(out[j]) })
	return out
}

// taskStart is when a task was first reported, for ordering.
func taskStart(t *TaskView) float64 {
	if len(t.Statuses) > 0 {
		return t.Statuses[0].GetTimestamp()
	}
	return 0
}
