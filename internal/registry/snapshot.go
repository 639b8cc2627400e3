package registry

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Proto returns the whole state as a Snapshot message, every list sorted by
// key, so that equal states give equal bytes (proto.MarshalOptions
// Deterministic). The message shares the State's sub-messages: treat it as
// read-only.
func (s *State) Proto() *Snapshot {
	snap := &Snapshot{
		Index:               proto.Uint64(s.index),
		Master:              s.master,
		Agents:              s.Agents(),
		UnreachableAgents:   s.UnreachableAgents(),
		GoneAgents:          s.GoneAgents(),
		QuotaConfigs:        s.Quotas(),
		Schedule:            s.schedule,
		Machines:            s.Machines(),
		MinimumCapabilities: s.MinimumCapabilities(),
		Frameworks:          s.Frameworks(),
		CompletedFrameworks: s.CompletedFrameworks(),
	}
	for _, role := range slices.Sorted(maps.Keys(s.weights)) {
		snap.Weights = append(snap.Weights, &Weight{Role: proto.String(role), Weight: proto.Float64(s.weights[role])})
	}
	for _, ns := range s.Namespaces() {
		snap.Values = append(snap.Values, s.List(ns, "")...)
	}
	return snap
}

// MarshalState encodes a state deterministically.
func MarshalState(s *State) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.Proto())
	if err != nil {
		return nil, fmt.Errorf("registry: encode state: %w", err)
	}
	return b, nil
}

// UnmarshalState decodes what MarshalState wrote.
func UnmarshalState(b []byte) (*State, error) {
	var snap Snapshot
	if err := proto.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("registry: decode state: %w", err)
	}
	s, err := stateFromProto(&snap)
	if err != nil {
		return nil, fmt.Errorf("registry: decode state: %w", err)
	}
	return s, nil
}

// stateFromProto indexes a Snapshot, refusing duplicates or missing keys
// (a snapshot this package wrote has neither).
func stateFromProto(snap *Snapshot) (*State, error) {
	s := emptyState()
	s.index = snap.GetIndex()
	s.master = snap.GetMaster()
	s.schedule = snap.GetSchedule()
	var errs []error
	add := func(what, key string, ok bool) {
		if !ok || key == "" {
			errs = append(errs, fmt.Errorf("%s %q is empty or repeated", what, key))
		}
	}
	for _, a := range snap.GetAgents() {
		add("agent", a.GetInfo().GetId().GetValue(), insert(s.agents, a.GetInfo().GetId().GetValue(), a))
	}
	for _, a := range snap.GetUnreachableAgents() {
		add("unreachable agent", a.GetId().GetValue(), insert(s.unreachable, a.GetId().GetValue(), a))
	}
	for _, a := range snap.GetGoneAgents() {
		add("gone agent", a.GetId().GetValue(), insert(s.gone, a.GetId().GetValue(), a))
	}
	for _, wt := range snap.GetWeights() {
		add("weight of role", wt.GetRole(), insert(s.weights, wt.GetRole(), wt.GetWeight()))
	}
	for _, q := range snap.GetQuotaConfigs() {
		add("quota of role", q.GetRole(), insert(s.quotas, q.GetRole(), q))
	}
	for _, m := range snap.GetMachines() {
		add("machine", describeMachine(m.GetId()), insert(s.machines, keyOfMachine(m.GetId()), m))
	}
	for _, c := range snap.GetMinimumCapabilities() {
		add("capability", c, insert(s.capabilities, c, true))
	}
	for _, f := range snap.GetFrameworks() {
		add("framework", f.GetInfo().GetId().GetValue(), insert(s.frameworks, f.GetInfo().GetId().GetValue(), f))
	}
	for _, f := range snap.GetCompletedFrameworks() {
		add("completed framework", f.GetId().GetValue(), insert(s.completed, f.GetId().GetValue(), f))
	}
	for _, kv := range snap.GetValues() {
		keys := s.values[kv.GetNamespace()]
		if keys == nil {
			keys = map[string]*KeyValue{}
			s.values[kv.GetNamespace()] = keys
		}
		add("key", kv.GetNamespace()+"/"+kv.GetKey(), kv.GetNamespace() != "" && insert(keys, kv.GetKey(), kv))
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return s, nil
}

// insert sets m[k] = v unless k is present, and says whether it did.
func insert[K comparable, V any](m map[K]V, k K, v V) bool {
	if _, ok := m[k]; ok {
		return false
	}
	m[k] = v
	return true
}

// Equal reports whether two states hold the same data (at any index).
func (s *State) Equal(o *State) bool {
	a, b := s.Proto(), o.Proto()
	a.Index, b.Index = nil, nil
	return proto.Equal(a, b)
}

// String summarizes the state for logs and test failures.
func (s *State) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry@%d: %d agents (%d unreachable, %d gone), %d frameworks (%d completed), %d roles weighted, %d quotas, %d machines",
		s.index, len(s.agents), len(s.unreachable), len(s.gone), len(s.frameworks), len(s.completed),
		len(s.weights), len(s.quotas), len(s.machines))
	for _, ns := range s.Namespaces() {
		fmt.Fprintf(&b, ", %s: %d keys", ns, len(s.values[ns]))
	}
	return b.String()
}
