package master

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/internal/allocator"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// Snapshot is a read-only copy of the master's state for readers (state
// endpoints, metrics, the UI). It is built on the loop only when a reader
// asks and the state has changed since the last one, and rendered off the
// loop, so serving a large /master/state does not hold up scheduling.
//
// The protos it points to are never mutated by the master after they are
// stored (the master replaces them instead), so sharing them is safe.
type Snapshot struct {
	sortOnce *sync.Once // see finish

	Built       time.Time
	Leading     bool
	ID          string
	PID         string
	Info        *mesos.MasterInfo
	Cluster     string
	StartTime   time.Time
	ElectedTime time.Time
	Flags       map[string]string

	Agents     []AgentView
	Frameworks []FrameworkView
	Completed  []FrameworkView
	Offers     int
	InboxLen   int
	Counters   counters
	Allocator  allocator.Stats
	// RegistryServers is the size of the masters' Raft group.
	RegistryServers int
	Quotas          []*quota.QuotaConfig
}

// AgentView is an agent in a snapshot.
type AgentView struct {
	ID           string
	Info         *mesos.AgentInfo
	Capabilities []*mesos.AgentInfo_Capability
	Version      string
	PID          string

	Connected, Deactivated, Unreachable bool
	// Recovered: known from the registry, not re-registered since the
	// failover.
	Recovered                        bool
	RegisteredTime, ReregisteredTime time.Time
	// Drain is set while the agent drains or once it is drained.
	Drain *mesos.DrainInfo
	// Unavailability is set while the agent's machine is scheduled for
	// maintenance.
	Unavailability *mesos.Unavailability

	Total, Used, Offered resources.Resources
	// FrameworkIDs with tasks or executors on the agent.
	FrameworkIDs []string
	TaskStates   map[mesos.TaskState]int
}

// Active is whether the agent can be offered.
func (a *AgentView) Active() bool { return a.Connected && !a.Deactivated }

// FrameworkView is a framework in a snapshot.
type FrameworkView struct {
	ID    string
	Info  *mesos.FrameworkInfo
	Roles []string
	// MultiRole reports the MULTI_ROLE capability.
	MultiRole bool

	Connected, Recovered                               bool
	RegisteredTime, ReregisteredTime, UnregisteredTime time.Time

	Used, Offered    resources.Resources
	Tasks            []TaskView // active, including terminal-but-unacknowledged
	UnreachableTasks []TaskView
	CompletedTasks   []TaskView
	Offers           []OfferView
	// TaskStates counts the active tasks by state (unreachable ones as
	// TASK_UNREACHABLE), in every snapshot.
	TaskStates    map[mesos.TaskState]int
	InverseOffers []*mesos.InverseOffer
	Executors     []ExecutorView
	Suppressed    []string
}

// Active is whether the framework is subscribed and can be offered.
func (f *FrameworkView) Active() bool { return f.Connected }

// TaskView is a task in a snapshot.
type TaskView struct {
	ID, Name, FrameworkID, AgentID, ExecutorID string
	Info                                       *mesos.TaskInfo
	User, Role                                 string
	Resources                                  resources.Resources
	State                                      mesos.TaskState
	Statuses                                   []*mesos.TaskStatus
	StatusUpdateState                          mesos.TaskState
	StatusUpdateUUID                           []byte

	version  uint64
	rendered *renderCache
}

// OfferView is an outstanding offer in a snapshot.
type OfferView struct {
	ID, FrameworkID, AgentID, Role string
	Resources                      resources.Resources
	// Proto is the offer as its framework received it.
	Proto *mesos.Offer
}

// ExecutorView is a custom executor in a snapshot.
type ExecutorView struct {
	AgentID string
	Info    *mesos.ExecutorInfo
}

// Snapshot returns a current read-only view of the master's state.
func (m *Master) Snapshot(ctx context.Context) (*Snapshot, error) {
	var snap *Snapshot
	err := m.exec(ctx, func() { snap = m.currentSnapshot(m.clock.Now()) })
	if err != nil {
		return nil, err
	}
	return snap.finish(), nil
}

// currentSnapshot returns the published snapshot, rebuilt first if the
// state changed since. It runs on the loop.
func (m *Master) currentSnapshot(now time.Time) *Snapshot {
	if cur := m.published.Load(); cur != nil && m.snapshotVersion == m.version {
		return cur
	}
	snap := m.buildSnapshot(now)
	m.published.Store(snap)
	m.snapshotVersion = m.version
	return snap
}

// MetricsSnapshot is a snapshot without task views (FrameworkView.Tasks
// and its siblings are empty; TaskStates counts them instead): what the
// metrics need, at a fraction of the cost, and never cached.
func (m *Master) MetricsSnapshot(ctx context.Context) (*Snapshot, error) {
	var snap *Snapshot
	err := m.exec(ctx, func() { snap = m.snapshot(m.clock.Now(), false) })
	if err == nil {
		servers, _ := m.reg.Servers() // off the loop: it asks Raft
		snap.RegistryServers = len(servers)
	}
	return snap, err
}

func (m *Master) buildSnapshot(now time.Time) *Snapshot { return m.snapshot(now, true) }

func (m *Master) snapshot(now time.Time, withTasks bool) *Snapshot {
	s := &Snapshot{
		sortOnce:    new(sync.Once),
		Built:       now,
		Leading:     m.isLeading(),
		ID:          m.id,
		PID:         m.pid,
		Info:        m.info,
		Cluster:     m.cfg.Cluster,
		StartTime:   m.startTime,
		ElectedTime: m.electedTime,
		Flags:       m.cfg.Flags,
		Offers:      len(m.offers),
		InboxLen:    len(m.inbox),
		Counters:    m.metrics.clone(),
		Allocator:   m.alloc.Stats(),
		Quotas:      m.quotaStatus().GetConfigs(),
	}
	for _, ag := range m.agents {
		v := agentView(ag)
		v.Unavailability = m.unavailabilityOf(ag)
		s.Agents = append(s.Agents, v)
	}
	sort.Slice(s.Agents, func(i, j int) bool { return s.Agents[i].ID < s.Agents[j].ID })
	for _, fw := range m.frameworks {
		v := frameworkView(fw, withTasks)
		v.InverseOffers = m.inverseOffersOf(fw.id)
		s.Frameworks = append(s.Frameworks, v)
	}
	sort.Slice(s.Frameworks, func(i, j int) bool { return s.Frameworks[i].ID < s.Frameworks[j].ID })
	for _, fw := range m.completed {
		s.Completed = append(s.Completed, frameworkView(fw, withTasks))
	}
	return s
}

func agentView(ag *agent) AgentView {
	v := AgentView{
		ID:               ag.id,
		Info:             ag.info,
		Capabilities:     ag.capabilities,
		Version:          ag.version,
		PID:              ag.pid,
		Connected:        ag.connected,
		Deactivated:      ag.deactivated,
		Unreachable:      ag.unreachable(),
		Recovered:        ag.recovering,
		Drain:            ag.drain,
		RegisteredTime:   ag.registeredTime,
		ReregisteredTime: ag.reregisteredTime,
		Total:            ag.total,
		Used:             ag.used,
		Offered:          ag.offered,
		TaskStates:       map[mesos.TaskState]int{},
	}
	seen := map[string]bool{}
	for fid, tasks := range ag.tasks {
		seen[fid] = true
		for _, t := range tasks {
			v.TaskStates[t.state]++
		}
	}
	for fid := range ag.executors {
		seen[fid] = true
	}
	for fid := range seen {
		v.FrameworkIDs = append(v.FrameworkIDs, fid)
	}
	sort.Strings(v.FrameworkIDs)
	return v
}

func frameworkView(fw *framework, withTasks bool) FrameworkView {
	v := FrameworkView{
		ID:               fw.id,
		Info:             fw.info,
		Roles:            fw.roles,
		MultiRole:        fw.caps.multiRole,
		Connected:        fw.connected,
		Recovered:        fw.recovered,
		RegisteredTime:   fw.registeredTime,
		ReregisteredTime: fw.reregisteredTime,
		UnregisteredTime: fw.unregisteredTime,
		Used:             fw.used,
		Suppressed:       fw.suppressed,
		TaskStates:       map[mesos.TaskState]int{},
	}
	if withTasks {
		v.Tasks = make([]TaskView, 0, len(fw.tasks))
	}
	for _, t := range fw.tasks {
		if t.unreachable {
			v.TaskStates[mesos.TaskState_TASK_UNREACHABLE]++
		} else {
			v.TaskStates[t.state]++
		}
		if !withTasks {
			continue
		}
		if t.unreachable {
			v.UnreachableTasks = append(v.UnreachableTasks, taskView(t))
		} else {
			v.Tasks = append(v.Tasks, taskView(t))
		}
	}
	if len(v.Tasks) == 0 {
		v.Tasks = nil
	}
	// The task lists are put in order by Snapshot.finish, off the loop.
	for _, t := range fw.completed {
		if withTasks {
			v.CompletedTasks = append(v.CompletedTasks, taskView(t))
		}
	}
	for _, o := range fw.offers {
		v.Offers = append(v.Offers, OfferView{ID: o.id, FrameworkID: o.frameworkID, AgentID: o.agentID, Role: o.role, Resources: o.resources, Proto: o.proto})
		v.Offered = v.Offered.Add(o.resources)
	}
	sort.Slice(v.Offers, func(i, j int) bool { return v.Offers[i].ID < v.Offers[j].ID })
	for agentID, execs := range fw.executors {
		for _, e := range execs {
			v.Executors = append(v.Executors, ExecutorView{AgentID: agentID, Info: e})
		}
	}
	sort.Slice(v.Executors, func(i, j int) bool {
		a, b := v.Executors[i], v.Executors[j]
		if a.AgentID != b.AgentID {
			return a.AgentID < b.AgentID
		}
		return a.Info.GetExecutorId().GetValue() < b.Info.GetExecutorId().GetValue()
	})
	return v
}

func taskView(t *task) TaskView {
	return TaskView{
		ID:                t.id,
		Name:              t.name,
		FrameworkID:       t.frameworkID,
		AgentID:           t.agentID,
		ExecutorID:        t.executorID,
		Info:              t.info,
		User:              t.user,
		Role:              t.role,
		Resources:         t.resources,
		State:             t.state,
		Statuses:          t.statuses,
		StatusUpdateState: t.statusUpdateState,
		StatusUpdateUUID:  t.statusUpdateUUID,
		version:           t.version,
		rendered:          t.cache(),
	}
}

// finish puts every framework's task lists in task ID order, once. The
// loop builds a snapshot and leaves this to its readers: at 100,000 tasks
// sorting costs more than copying, and the loop waits for neither.
func (s *Snapshot) finish() *Snapshot {
	s.sortOnce.Do(func() {
		for _, fws := range [][]FrameworkView{s.Frameworks, s.Completed} {
			for i := range fws {
				fws[i].Tasks = sortedByID(fws[i].Tasks)
				fws[i].UnreachableTasks = sortedByID(fws[i].UnreachableTasks)
			}
		}
	})
	return s
}

// sortedByID orders task views by ID through an index: a TaskView is
// large, and swapping them costs more than moving each once.
func sortedByID(ts []TaskView) []TaskView {
	byID := func(a, b TaskView) int { return strings.Compare(a.ID, b.ID) }
	if slices.IsSortedFunc(ts, byID) {
		return ts
	}
	idx := make([]int32, len(ts))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(ts[a].ID, ts[b].ID) })
	out := make([]TaskView, len(ts))
	for i, j := range idx {
		out[i] = ts[j]
	}
	return out
}
