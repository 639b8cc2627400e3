package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// LeaderCh delivers this node's leadership changes, in order and without
// dropping any (true: became leader, false: lost it), to one reader. Changes
// queue while nobody reads. On true, call Barrier before reading State.
func (r *Registry) LeaderCh() <-chan bool { return r.leaderCh }

// forwardLeadership moves raft's notifications to leaderCh. Raft must never
// block on them, and a reader must never miss a loss of leadership, so they
// queue here.
func (r *Registry) forwardLeadership(notify <-chan bool) {
	defer close(r.stopped)
	var queue []bool
	last := false
	for {
		var out chan<- bool
		var next bool
		if len(queue) > 0 {
			out, next = r.leaderCh, queue[0]
		}
		select {
		case leader := <-notify:
			if leader != last {
				queue = append(queue, leader)
				last = leader
			}
		case out <- next:
			queue = queue[1:]
		case <-r.stop:
			return
		}
	}
}

// LeaderAddr is the current Raft leader's Raft address, or "" if none is
// known. The leader's HTTP address is in LeadingMaster.
func (r *Registry) LeaderAddr() string {
	addr, _ := r.raft.LeaderWithID()
	return string(addr)
}

// LeaderID is the current Raft leader's server ID, or "" if none is known.
func (r *Registry) LeaderID() string {
	_, id := r.raft.LeaderWithID()
	return string(id)
}

// LeadingMaster returns the MasterInfo record of the current Raft leader:
// false while there is no leader, while it has not yet written SetMaster
// (the record then still names a former leader), and on a follower that
// has not heard from the leader for half a heartbeat timeout (it has
// probably failed; Raft would name it until the election, a second later,
// and clients sent there would only find it dead).
func (r *Registry) LeadingMaster() (*LeadingMaster, bool) {
	m := r.State().Master()
	id := r.LeaderID()
	if m == nil || id == "" || m.GetNodeId() != id {
		return nil, false
	}
	if id != r.id && time.Since(r.raft.LastContact()) > r.leaderSilence {
		return nil, false
	}
	return m, true
}

// Server is one member of the Raft group.
type Server struct {
	ID      string
	Address string // its Raft address
	Voter   bool
	Leader  bool
}

// Servers returns the current Raft configuration.
func (r *Registry) Servers() ([]Server, error) {
	f := r.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, raftError("servers", err)
	}
	leader := r.LeaderID()
	var out []Server
	for _, s := range f.Configuration().Servers {
		out = append(out, Server{
			ID:      string(s.ID),
			Address: string(s.Address),
			Voter:   s.Suffrage == raft.Voter,
			Leader:  string(s.ID) == leader,
		})
	}
	return out, nil
}

// AddVoter adds a master to the group (or changes its address), on the
// leader. The new node must have been started without Bootstrap (or with
// no peers other than itself and no state) and catches up from the leader.
func (r *Registry) AddVoter(ctx context.Context, id, addr string) error {
	if id == "" || addr == "" {
		return fmt.Errorf("registry: add voter: %w: id and address are required", ErrInvalid)
	}
	f := r.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, enqueueTimeout(ctx))
	return membershipError(ctx, "add voter "+id, wait(ctx, f))
}

// RemoveServer removes a master from the group, on the leader. A leader
// may remove itself: it then steps down.
func (r *Registry) RemoveServer(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("registry: remove server: %w: id is required", ErrInvalid)
	}
	f := r.raft.RemoveServer(raft.ServerID(id), 0, enqueueTimeout(ctx))
	return membershipError(ctx, "remove server "+id, wait(ctx, f))
}

func membershipError(ctx context.Context, what string, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("registry: %s: %w: %w", what, ErrOutcomeUnknown, err)
	}
	return raftError(what, err)
}
