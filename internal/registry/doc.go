// Package registry is what survives a master failover: the masters' replicated
// state machine on hashicorp/raft, its operations, and snapshot/restore.
//
// It holds the leading master's MasterInfo, admitted / unreachable / gone
// agents, weights, quota, the maintenance schedule, minimum capabilities,
// registered and completed frameworks, and a namespaced key/value store for
// built-in frameworks' own state. Tasks are not stored: they are soft state
// that the leader rebuilds from re-registering agents.
//
// Usage contract:
//
//   - Open starts the Raft node. With Config.Bootstrap and no state on disk it
//     bootstraps a new cluster of Config.Peers (every master may be started the
//     same way; identical bootstraps agree). Raft server IDs are the nodes'
//     Raft addresses unless NodeID says otherwise.
//   - Only the leader writes. Apply proposes one log entry and returns after
//     it is committed and applied, with the FSM's verdict. On a follower it
//     returns ErrNotLeader and nothing is written; it is never forwarded.
//     ErrOutcomeUnknown means the entry may or may not be applied (leadership
//     lost, or ctx ended, after the proposal).
//   - Every operation is validated against the state when its entry is
//     applied, on every node, deterministically: times travel inside the
//     operations. A transaction is all-or-nothing; a rejected one returns an
//     *OpError that matches ErrInvalid, ErrNotFound or ErrConflict.
//   - A node that gains leadership (LeaderCh delivers true) calls Barrier
//     before trusting State, then writes SetMaster.
//   - State returns an immutable snapshot of the applied state; it and the
//     messages it returns must not be modified.
//   - Registrar merges concurrent callers' transactions into shared log
//     entries (group commit), each caller getting its own verdict.
//
// The generated Go (registry.pb.go) is committed and rebuilt with
// `go generate ./internal/registry`.
package registry

//go:generate sh ../../api/generate.sh registry.proto
