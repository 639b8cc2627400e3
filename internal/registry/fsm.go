package registry

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
)

// fsm adapts applyEntry to raft.FSM. Raft calls Apply, Snapshot and Restore
// from one goroutine; State readers load the published pointer.
type fsm struct {
	state    atomic.Pointer[State]
	restores atomic.Uint64 // snapshots restored, for tests
	log      *slog.Logger
}

func newFSM(log *slog.Logger) *fsm {
	f := &fsm{log: log}
	f.state.Store(emptyState())
	return f
}

// applyResult is what Apply returns to the proposer: one verdict per
// transaction of the entry.
type applyResult struct {
	errs []error
}

// Apply applies one committed log entry.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var e Entry
	if err := proto.Unmarshal(l.Data, &e); err != nil {
		// Only a newer or corrupt writer produces this; every replica skips
		// the entry the same way.
		f.log.Error("registry: undecodable log entry skipped", "index", l.Index, "err", err)
		err = fmt.Errorf("registry: decode entry %d: %w", l.Index, err)
		return applyResult{errs: []error{err}}
	}
	next, errs := applyEntry(f.state.Load(), l.Index, &e)
	f.state.Store(next)
	return applyResult{errs: errs}
}

// Snapshot captures the current state; it is immutable, so Persist may run
// while later entries are applied.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return fsmSnapshot{state: f.state.Load()}, nil
}

// Restore replaces the state with a snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("registry: read snapshot: %w", err)
	}
	s, err := UnmarshalState(b)
	if err != nil {
		return err
	}
	f.state.Store(s)
	f.restores.Add(1)
	f.log.Info("registry: restored from snapshot", "index", s.Index())
	return nil
}

type fsmSnapshot struct{ state *State }

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := MarshalState(s.state)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("registry: persist snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("registry: persist snapshot: %w", err)
	}
	return nil
}

func (fsmSnapshot) Release() {}
