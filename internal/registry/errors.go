package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// Errors callers branch on. Validation errors are *OpError values that match
// ErrInvalid, ErrNotFound or ErrConflict with errors.Is.
var (
	// ErrNotLeader: this node is not the Raft leader; nothing was written.
	ErrNotLeader = errors.New("registry: not the leader")
	// ErrOutcomeUnknown: the entry was proposed but leadership was lost, or
	// the caller stopped waiting, before it was known to be applied. It may
	// still be applied; a new leader reads the state to find out.
	ErrOutcomeUnknown = errors.New("registry: outcome unknown")
	// ErrClosed: the registry is closed.
	ErrClosed = errors.New("registry: closed")

	// ErrInvalid: the operation is malformed (bad role, empty ID, ...).
	ErrInvalid = errors.New("invalid operation")
	// ErrNotFound: the operation names something the registry does not hold.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the operation does not fit the current state (already
	// admitted, wrong version, wrong mode, ...).
	ErrConflict = errors.New("conflict")
)

// OpError is an operation rejected by the state machine.
type OpError struct {
	Op     string // the operation's field name, e.g. "admit_agent"
	Kind   error  // ErrInvalid, ErrNotFound or ErrConflict
	Reason string // for people, e.g. `agent "a1" is already admitted`
}

func (e *OpError) Error() string { return "registry: " + e.Op + ": " + e.Reason }

// Unwrap returns the error's kind.
func (e *OpError) Unwrap() error { return e.Kind }

func invalidf(format string, args ...any) *OpError {
	return &OpError{Kind: ErrInvalid, Reason: fmt.Sprintf(format, args...)}
}

func notFoundf(format string, args ...any) *OpError {
	return &OpError{Kind: ErrNotFound, Reason: fmt.Sprintf(format, args...)}
}

func conflictf(format string, args ...any) *OpError {
	return &OpError{Kind: ErrConflict, Reason: fmt.Sprintf(format, args...)}
}

// raftError maps hashicorp/raft's errors onto the package's.
func raftError(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%s: %w", what, ErrNotLeader)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%s: %w: %w", what, ErrOutcomeUnknown, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("registry: %s: not proposed in time: %w", what, context.DeadlineExceeded)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%s: %w", what, ErrClosed)
	default:
		return fmt.Errorf("registry: %s: %w", what, err)
	}
}
