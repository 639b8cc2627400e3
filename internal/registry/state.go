package registry

import (
	"maps"
	"slices"
	"strings"

	"github.com/agoraproject/agora/api/v1/maintenance"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
)

// State is the applied registry state at one Raft index. It is immutable:
// the state machine builds a new State for each entry, sharing every map and
// message it did not change, so readers may keep one as long as they like.
// Neither the State nor the messages it returns may be modified.
type State struct {
	index        uint64
	master       *LeadingMaster
	agents       map[string]*Agent
	unreachable  map[string]*RemovedAgent
	gone         map[string]*RemovedAgent
	weights      map[string]float64
	quotas       map[string]*quota.QuotaConfig
	schedule     *maintenance.Schedule
	machines     map[machineKey]*Machine
	capabilities map[string]bool
	frameworks   map[string]*Framework
	completed    map[string]*CompletedFramework
	values       map[string]map[string]*KeyValue // namespace → key → value
}

// machineKey identifies a machine: Mesos compares hostnames without case.
type machineKey struct{ hostname, ip string }

func keyOfMachine(id *mesos.MachineID) machineKey {
	return machineKey{strings.ToLower(id.GetHostname()), id.GetIp()}
}

func emptyState() *State {
	return &State{
		agents:       map[string]*Agent{},
		unreachable:  map[string]*RemovedAgent{},
		gone:         map[string]*RemovedAgent{},
		weights:      map[string]float64{},
		quotas:       map[string]*quota.QuotaConfig{},
		machines:     map[machineKey]*Machine{},
		capabilities: map[string]bool{},
		frameworks:   map[string]*Framework{},
		completed:    map[string]*CompletedFramework{},
		values:       map[string]map[string]*KeyValue{},
	}
}

// Index is the Raft index of the last applied registry entry (0 when empty).
func (s *State) Index() uint64 { return s.index }

// Master is the leading master as last recorded, or nil. It may be a former
// leader's: compare its NodeId with the Raft leader (Registry.LeadingMaster).
func (s *State) Master() *LeadingMaster { return s.master }

// Agent returns an admitted agent.
func (s *State) Agent(id string) (*Agent, bool) {
	a, ok := s.agents[id]
	return a, ok
}

// Agents returns the admitted agents, by ID.
func (s *State) Agents() []*Agent { return sortedValues(s.agents) }

// UnreachableAgent returns an unreachable agent.
func (s *State) UnreachableAgent(id string) (*RemovedAgent, bool) {
	a, ok := s.unreachable[id]
	return a, ok
}

// UnreachableAgents returns the unreachable agents, by ID.
func (s *State) UnreachableAgents() []*RemovedAgent { return sortedValues(s.unreachable) }

// GoneAgent returns a gone agent.
func (s *State) GoneAgent(id string) (*RemovedAgent, bool) {
	a, ok := s.gone[id]
	return a, ok
}

// GoneAgents returns the gone agents, by ID.
func (s *State) GoneAgents() []*RemovedAgent { return sortedValues(s.gone) }

// Weights returns a copy of the roles' weights.
func (s *State) Weights() map[string]float64 { return maps.Clone(s.weights) }

// Quota returns a role's quota config.
func (s *State) Quota(role string) (*quota.QuotaConfig, bool) {
	q, ok := s.quotas[role]
	return q, ok
}

// Quotas returns the quota configs, by role.
func (s *State) Quotas() []*quota.QuotaConfig { return sortedValues(s.quotas) }

// Schedule returns the maintenance schedule (never nil).
func (s *State) Schedule() *maintenance.Schedule {
	if s.schedule == nil {
		return &maintenance.Schedule{}
	}
	return s.schedule
}

// Machine returns a machine under maintenance.
func (s *State) Machine(id *mesos.MachineID) (*Machine, bool) {
	m, ok := s.machines[keyOfMachine(id)]
	return m, ok
}

// Machines returns the machines under maintenance, by hostname then IP.
func (s *State) Machines() []*Machine {
	return slices.SortedFunc(maps.Values(s.machines), func(a, b *Machine) int {
		ka, kb := keyOfMachine(a.GetId()), keyOfMachine(b.GetId())
		return strings.Compare(ka.hostname+"\x00"+ka.ip, kb.hostname+"\x00"+kb.ip)
	})
}

// MinimumCapabilities returns the capabilities every master must have, sorted.
func (s *State) MinimumCapabilities() []string {
	return slices.Sorted(maps.Keys(s.capabilities))
}

// Framework returns a registered framework.
func (s *State) Framework(id string) (*Framework, bool) {
	f, ok := s.frameworks[id]
	return f, ok
}

// Frameworks returns the registered frameworks, by ID.
func (s *State) Frameworks() []*Framework { return sortedValues(s.frameworks) }

// CompletedFramework returns a removed framework's record.
func (s *State) CompletedFramework(id string) (*CompletedFramework, bool) {
	f, ok := s.completed[id]
	return f, ok
}

// CompletedFrameworks returns the removed frameworks, by ID.
func (s *State) CompletedFrameworks() []*CompletedFramework { return sortedValues(s.completed) }

// Get returns a key of the namespaced store.
func (s *State) Get(namespace, key string) (*KeyValue, bool) {
	kv, ok := s.values[namespace][key]
	return kv, ok
}

// List returns a namespace's keys that start with prefix, sorted by key.
func (s *State) List(namespace, prefix string) []*KeyValue {
	var out []*KeyValue
	for k, kv := range s.values[namespace] {
		if strings.HasPrefix(k, prefix) {
			out = append(out, kv)
		}
	}
	slices.SortFunc(out, func(a, b *KeyValue) int { return strings.Compare(a.GetKey(), b.GetKey()) })
	return out
}

// Namespaces returns the namespaces that hold at least one key, sorted.
func (s *State) Namespaces() []string { return slices.Sorted(maps.Keys(s.values)) }

// sortedValues returns a map's values ordered by key.
func sortedValues[V any](m map[string]V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}
