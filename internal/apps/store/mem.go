package store

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Mem is an in-memory Store. Its writes are "durable" for the life of the
// process only. The zero value is not usable; call NewMem.
type Mem struct {
	mu   sync.RWMutex
	data map[string]map[string][]byte
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{data: map[string]map[string][]byte{}} }

// Get implements Store.
func (m *Mem) Get(ctx context.Context, ns, key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.data[ns][key]
	if !ok {
		return nil, ErrNotFound
	}
	return v, nil
}

// List implements Store.
func (m *Mem) List(ctx context.Context, ns string) ([]KV, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]KV, 0, len(m.data[ns]))
	for k, v := range m.data[ns] {
		out = append(out, KV{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b KV) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Put implements Store.
func (m *Mem) Put(ctx context.Context, ns, key string, value []byte) error {
	return m.Write(ctx, []Op{PutOp(ns, key, value)})
}

// Delete implements Store.
func (m *Mem) Delete(ctx context.Context, ns, key string) error {
	return m.Write(ctx, []Op{DeleteOp(ns, key)})
}

// Write implements Store.
func (m *Mem) Write(ctx context.Context, ops []Op) error {
	if err := validate(ops); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, op := range ops {
		bucket := m.data[op.NS]
		if op.Value == nil {
			delete(bucket, op.Key)
			continue
		}
		if bucket == nil {
			bucket = map[string][]byte{}
			m.data[op.NS] = bucket
		}
		bucket[op.Key] = slices.Clone(op.Value)
	}
	return nil
}
