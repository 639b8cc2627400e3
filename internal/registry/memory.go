package registry

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"
)

// Memory is a registry without Raft or disk for the deterministic
// simulator: the same state machine (every operation validated the same
// way), applied at once on the calling goroutine. Several simulated masters
// share one Memory; the simulator decides which of them leads
// (SetLeader), standing in for a Raft election.
type Memory struct {
	mu     sync.Mutex
	state  *State
	index  uint64
	leader string
	chans  map[string]chan bool
}

// NewMemory returns an empty in-memory registry.
func NewMemory() *Memory {
	return &Memory{state: emptyState(), chans: map[string]chan bool{}}
}

// Node is one master's view of a Memory registry.
func (m *Memory) Node(id string) *MemoryNode {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chans[id] == nil {
		m.chans[id] = make(chan bool, 64)
	}
	return &MemoryNode{m: m, id: id}
}

// SetLeader makes node id the leader (empty: none): the old leader's
// LeaderCh gets false, the new one's true.
func (m *Memory) SetLeader(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leader == id {
		return
	}
	if old := m.chans[m.leader]; old != nil {
		old <- false
	}
	m.leader = id
	if ch := m.chans[id]; ch != nil {
		ch <- true
	}
}

// State is the current state.
func (m *Memory) State() *State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// MemoryNode is what one simulated master holds: the registry methods the
// master uses, answering as that node.
type MemoryNode struct {
	m  *Memory
	id string
}

func (n *MemoryNode) ID() string                                     { return n.id }
func (n *MemoryNode) LeaderCh() <-chan bool                          { return n.m.chans[n.id] }
func (n *MemoryNode) State() *State                                  { return n.m.State() }
func (n *MemoryNode) Servers() ([]Server, error)                     { return nil, nil }
func (n *MemoryNode) AddVoter(context.Context, string, string) error { return ErrNotLeader }
func (n *MemoryNode) RemoveServer(context.Context, string) error     { return ErrNotLeader }

// Barrier succeeds on the leader.
func (n *MemoryNode) Barrier(context.Context) error {
	if !n.isLeader() {
		return ErrNotLeader
	}
	return nil
}

func (n *MemoryNode) isLeader() bool {
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	return n.m.leader == n.id
}

// LeadingMaster is the recorded leader if it is the current one.
func (n *MemoryNode) LeadingMaster() (*LeadingMaster, bool) {
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	lm := n.m.state.Master()
	if lm == nil || lm.GetNodeId() != n.m.leader {
		return nil, false
	}
	return lm, true
}

// Apply applies ops as one transaction through the state machine, at once,
// if this node leads.
func (n *MemoryNode) Apply(_ context.Context, ops ...*Operation) error {
	n.m.mu.Lock()
	defer n.m.mu.Unlock()
	if n.m.leader != n.id {
		return ErrNotLeader
	}
	n.m.index++
	next, errs := applyEntry(n.m.state, n.m.index, &Entry{Transactions: []*Transaction{{Operations: cloneOps(ops)}}})
	n.m.state = next
	if len(errs) != 1 {
		return fmt.Errorf("registry: %d verdicts for one transaction", len(errs))
	}
	return errs[0]
}

// cloneOps copies the operations as a log entry would (the caller may
// reuse its messages).
func cloneOps(ops []*Operation) []*Operation {
	out := make([]*Operation, len(ops))
	for i, op := range ops {
		out[i] = proto.Clone(op).(*Operation)
	}
	return out
}
