package registry

import (
	"math"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Frameworks:
//
//	          add_framework               mark_framework_disconnected
//	(unknown) ------------> connected ---------------------------------> disconnected
//	                           |      <---------------------------------      |
//	                           |          mark_framework_connected            |
//	                           '---------> completed <------------------------'
//	                              remove_framework
//
// update_framework replaces the info in either of the registered states.
// Completed is final: its ID may not be registered again.

func (w *writer) addFramework(op *Operation_AddFramework) *OpError {
	id, err := frameworkIDOf(op.GetInfo())
	if err != nil {
		return err
	}
	switch {
	case w.s.frameworks[id] != nil:
		return conflictf("framework %q is already registered", id)
	case w.s.completed[id] != nil:
		return conflictf("framework %q was removed", id)
	}
	f := &Framework{Info: op.GetInfo(), RegisteredTime: op.GetTime()}
	set(w, own(w, &w.s.frameworks), id, f)
	return nil
}

func (w *writer) updateFramework(op *Operation_UpdateFramework) *OpError {
	id, err := frameworkIDOf(op.GetInfo())
	if err != nil {
		return err
	}
	old, err := w.registered(id)
	if err != nil {
		return err
	}
	f := &Framework{Info: op.GetInfo(), RegisteredTime: old.RegisteredTime, DisconnectedTime: old.DisconnectedTime}
	set(w, own(w, &w.s.frameworks), id, f)
	return nil
}

func (w *writer) markFrameworkDisconnected(op *Operation_MarkFrameworkDisconnected) *OpError {
	id := op.GetId().GetValue()
	old, err := w.registered(id)
	if err != nil {
		return err
	}
	if old.DisconnectedTime != nil {
		return conflictf("framework %q is already disconnected", id)
	}
	f := &Framework{Info: old.Info, RegisteredTime: old.RegisteredTime, DisconnectedTime: op.GetTime()}
	set(w, own(w, &w.s.frameworks), id, f)
	return nil
}

func (w *writer) markFrameworkConnected(op *Operation_MarkFrameworkConnected) *OpError {
	id := op.GetId().GetValue()
	old, err := w.registered(id)
	if err != nil {
		return err
	}
	if old.DisconnectedTime == nil {
		return conflictf("framework %q is not disconnected", id)
	}
	f := &Framework{Info: old.Info, RegisteredTime: old.RegisteredTime}
	set(w, own(w, &w.s.frameworks), id, f)
	return nil
}

func (w *writer) removeFramework(op *Operation_RemoveFramework) *OpError {
	id := op.GetId().GetValue()
	if _, err := w.registered(id); err != nil {
		return err
	}
	remove(w, own(w, &w.s.frameworks), id)
	set(w, own(w, &w.s.completed), id, &CompletedFramework{Id: op.GetId(), Time: op.GetTime()})
	return nil
}

func (w *writer) registered(id string) (*Framework, *OpError) {
	switch {
	case id == "":
		return nil, invalidf("framework ID is empty")
	case w.s.completed[id] != nil:
		return nil, conflictf("framework %q was removed", id)
	case w.s.frameworks[id] == nil:
		return nil, notFoundf("framework %q is not registered", id)
	}
	return w.s.frameworks[id], nil
}

func frameworkIDOf(info *mesos.FrameworkInfo) (string, *OpError) {
	if info == nil {
		return "", invalidf("framework info is missing")
	}
	id := info.GetId().GetValue()
	if id == "" {
		return "", invalidf("framework info has no ID")
	}
	if t := info.GetFailoverTimeout(); t < 0 || math.IsNaN(t) || math.IsInf(t, 0) {
		return "", invalidf("framework %q: failover_timeout %v is not a finite non-negative number", id, t)
	}
	return id, nil
}
