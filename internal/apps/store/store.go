// Package store is the apps framework's persistence seam: a small
// namespaced key/value interface with an atomic multi-key write, an
// in-memory implementation for tests and `agora dev`, and a file-backed
// one (bbolt) that survives restarts. The HA work plugs a Raft-replicated
// implementation of the same interface in behind it.
//
// Contract: a write (Put, Delete, Write) is durable when it returns; Write
// applies all its operations or none; Get and List see every write that
// returned before they were called. Values are opaque bytes; callers must
// not modify a slice after passing it to Put/Write, nor one returned by
// Get/List.
package store

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("store: not found")

// Store is namespaced key/value storage.
type Store interface {
	// Get returns the value at ns/key, or ErrNotFound.
	Get(ctx context.Context, ns, key string) ([]byte, error)
	// List returns every entry of ns, ordered by key.
	List(ctx context.Context, ns string) ([]KV, error)
	// Put stores value at ns/key.
	Put(ctx context.Context, ns, key string, value []byte) error
	// Delete removes ns/key; a missing key is not an error.
	Delete(ctx context.Context, ns, key string) error
	// Write applies ops atomically, in order.
	Write(ctx context.Context, ops []Op) error
}

// KV is one entry of a namespace.
type KV struct {
	Key   string
	Value []byte
}

// Op is one operation of a Write: a put, or a delete when Value is nil.
type Op struct {
	NS, Key string
	Value   []byte
}

// PutOp returns a put operation.
func PutOp(ns, key string, value []byte) Op {
	if value == nil {
		value = []byte{}
	}
	return Op{NS: ns, Key: key, Value: value}
}

// DeleteOp returns a delete operation.
func DeleteOp(ns, key string) Op { return Op{NS: ns, Key: key} }

func validate(ops []Op) error {
	for _, op := range ops {
		if op.NS == "" || op.Key == "" {
			return errors.New("store: empty namespace or key")
		}
	}
	return nil
}
