package registry

import "maps"

// applyEntry is the state machine: it applies one log entry at index to
// prev and returns the next state and one verdict per transaction. It is a
// pure function of its arguments (no clock, no map-order dependence), so
// every replica computes the same state. prev is not modified.
func applyEntry(prev *State, index uint64, e *Entry) (*State, []error) {
	w := newWriter(prev, index)
	errs := make([]error, len(e.GetTransactions()))
	for i, txn := range e.GetTransactions() {
		errs[i] = w.apply(txn)
	}
	return w.s, errs
}

// writer builds the state that follows one entry. It clones each map the
// first time the entry changes it (the previous State keeps the original),
// and keeps an undo log so that a failed transaction leaves no trace.
type writer struct {
	s       *State
	index   uint64
	owned   map[any]bool    // maps already cloned for this entry, by address of the State field
	ownedNS map[string]bool // namespaces whose key map is already cloned
	undo    []func()
}

func newWriter(prev *State, index uint64) *writer {
	next := *prev
	next.index = index
	return &writer{s: &next, index: index, owned: map[any]bool{}, ownedNS: map[string]bool{}}
}

// apply runs one transaction all-or-nothing.
func (w *writer) apply(txn *Transaction) error {
	w.undo = w.undo[:0]
	for _, op := range txn.GetOperations() {
		if err := w.applyOp(op); err != nil {
			w.rollback()
			err.Op = opName(op)
			return err
		}
	}
	return nil
}

func (w *writer) rollback() {
	for i := len(w.undo) - 1; i >= 0; i-- {
		w.undo[i]()
	}
	w.undo = w.undo[:0]
}

// applyOp dispatches one operation to its validator-and-mutator.
func (w *writer) applyOp(op *Operation) *OpError {
	switch o := op.GetOp().(type) {
	case *Operation_SetMaster_:
		return w.setMaster(o.SetMaster)
	case *Operation_AdmitAgent_:
		return w.admitAgent(o.AdmitAgent)
	case *Operation_UpdateAgent_:
		return w.updateAgent(o.UpdateAgent)
	case *Operation_RemoveAgent_:
		return w.removeAgent(o.RemoveAgent)
	case *Operation_MarkAgentUnreachable_:
		return w.markAgentUnreachable(o.MarkAgentUnreachable)
	case *Operation_MarkAgentReachable_:
		return w.markAgentReachable(o.MarkAgentReachable)
	case *Operation_MarkAgentGone_:
		return w.markAgentGone(o.MarkAgentGone)
	case *Operation_DeactivateAgent_:
		return w.deactivateAgent(o.DeactivateAgent)
	case *Operation_ReactivateAgent_:
		return w.reactivateAgent(o.ReactivateAgent)
	case *Operation_DrainAgent_:
		return w.drainAgent(o.DrainAgent)
	case *Operation_MarkAgentDrained_:
		return w.markAgentDrained(o.MarkAgentDrained)
	case *Operation_Prune_:
		return w.prune(o.Prune)
	case *Operation_UpdateWeights_:
		return w.updateWeights(o.UpdateWeights)
	case *Operation_UpdateQuota_:
		return w.updateQuota(o.UpdateQuota)
	case *Operation_UpdateSchedule_:
		return w.updateSchedule(o.UpdateSchedule)
	case *Operation_StartMaintenance_:
		return w.startMaintenance(o.StartMaintenance)
	case *Operation_StopMaintenance_:
		return w.stopMaintenance(o.StopMaintenance)
	case *Operation_AddMinimumCapability_:
		return w.addMinimumCapability(o.AddMinimumCapability)
	case *Operation_RemoveMinimumCapability_:
		return w.removeMinimumCapability(o.RemoveMinimumCapability)
	case *Operation_AddFramework_:
		return w.addFramework(o.AddFramework)
	case *Operation_UpdateFramework_:
		return w.updateFramework(o.UpdateFramework)
	case *Operation_MarkFrameworkDisconnected_:
		return w.markFrameworkDisconnected(o.MarkFrameworkDisconnected)
	case *Operation_MarkFrameworkConnected_:
		return w.markFrameworkConnected(o.MarkFrameworkConnected)
	case *Operation_RemoveFramework_:
		return w.removeFramework(o.RemoveFramework)
	case *Operation_Put_:
		return w.put(o.Put)
	case *Operation_Delete_:
		return w.delete(o.Delete)
	default:
		// An unset oneof, or an operation from a newer Agora: every replica
		// rejects it the same way.
		return invalidf("unknown or empty operation")
	}
}

// opName is the operation's field name, e.g. "admit_agent".
func opName(op *Operation) string {
	m := op.ProtoReflect()
	if fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("op")); fd != nil {
		return string(fd.Name())
	}
	return "operation"
}

// own returns the entry's private copy of the State map *m, cloning it the
// first time.
func own[K comparable, V any](w *writer, m *map[K]V) map[K]V {
	if !w.owned[m] {
		*m = maps.Clone(*m)
		w.owned[m] = true
	}
	return *m
}

// set writes m[k] = v, recording how to undo it.
func set[K comparable, V any](w *writer, m map[K]V, k K, v V) {
	old, had := m[k]
	w.undo = append(w.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
	m[k] = v
}

// remove deletes m[k], recording how to undo it.
func remove[K comparable, V any](w *writer, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	w.undo = append(w.undo, func() { m[k] = old })
	delete(m, k)
}

// assign writes *field = v, recording how to undo it.
func assign[T any](w *writer, field *T, v T) {
	old := *field
	w.undo = append(w.undo, func() { *field = old })
	*field = v
}
