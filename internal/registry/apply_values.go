package registry

import (
	"maps"

	"google.golang.org/protobuf/proto"
)

// MaxValueSize bounds one value of the namespaced store, so that one key
// cannot make a log entry unwieldy.
const MaxValueSize = 1 << 20

func (w *writer) put(op *Operation_Put) *OpError {
	ns, key := op.GetNamespace(), op.GetKey()
	if err := checkKey(ns, key); err != nil {
		return err
	}
	if n := len(op.GetValue()); n > MaxValueSize {
		return invalidf("%s/%s: value of %d bytes exceeds %d", ns, key, n, MaxValueSize)
	}
	if err := w.checkVersion(ns, key, op.ExpectedVersion); err != nil {
		return err
	}
	kv := &KeyValue{Namespace: &ns, Key: &key, Value: op.GetValue(), Version: proto.Uint64(w.index)}
	set(w, w.ownNamespace(ns), key, kv)
	return nil
}

func (w *writer) delete(op *Operation_Delete) *OpError {
	ns, key := op.GetNamespace(), op.GetKey()
	if err := checkKey(ns, key); err != nil {
		return err
	}
	if err := w.checkVersion(ns, key, op.ExpectedVersion); err != nil {
		return err
	}
	if _, ok := w.s.values[ns][key]; !ok {
		return nil
	}
	keys := w.ownNamespace(ns)
	remove(w, keys, key)
	if len(keys) == 0 {
		remove(w, w.s.values, ns)
	}
	return nil
}

func checkKey(ns, key string) *OpError {
	switch {
	case ns == "":
		return invalidf("namespace is empty")
	case key == "":
		return invalidf("key is empty")
	}
	return nil
}

// checkVersion holds a compare-and-set: expected 0 means "does not exist".
func (w *writer) checkVersion(ns, key string, expected *uint64) *OpError {
	if expected == nil {
		return nil
	}
	var current uint64
	if kv, ok := w.s.values[ns][key]; ok {
		current = kv.GetVersion()
	}
	if current != *expected {
		return conflictf("%s/%s is at version %d, not %d", ns, key, current, *expected)
	}
	return nil
}

// ownNamespace returns the entry's private key map of ns, creating it.
func (w *writer) ownNamespace(ns string) map[string]*KeyValue {
	values := own(w, &w.s.values)
	keys, ok := values[ns]
	switch {
	case !ok:
		keys = map[string]*KeyValue{}
		set(w, values, ns, keys)
	case !w.ownedNS[ns]:
		keys = maps.Clone(keys)
		set(w, values, ns, keys)
	}
	if !w.ownedNS[ns] {
		// Undone with the map's installation: a rolled-back transaction
		// leaves the previous State's map in place, which is not ours.
		w.ownedNS[ns] = true
		w.undo = append(w.undo, func() { delete(w.ownedNS, ns) })
	}
	return keys
}
