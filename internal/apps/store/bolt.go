package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bolt is a Store in one bbolt file: a bucket per namespace. Every write is
// one fsynced transaction.
type Bolt struct {
	db *bolt.DB
}

// OpenBolt opens (creating if needed) the store file at path. It fails
// when another process holds the file.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Close closes the file.
func (b *Bolt) Close() error { return b.db.Close() }

// Get implements Store.
func (b *Bolt) Get(ctx context.Context, ns, key string) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket([]byte(ns))
		if bucket == nil {
			return ErrNotFound
		}
		v := bucket.Get([]byte(key))
		if v == nil {
			return ErrNotFound
		}
		out = slices.Clone(v)
		return nil
	})
	return out, err
}

// List implements Store.
func (b *Bolt) List(ctx context.Context, ns string) ([]KV, error) {
	var out []KV
	err := b.db.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket([]byte(ns))
		if bucket == nil {
			return nil
		}
		return bucket.ForEach(func(k, v []byte) error {
			out = append(out, KV{Key: string(k), Value: slices.Clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: listing %s: %w", ns, err)
	}
	return out, nil
}

// Put implements Store.
func (b *Bolt) Put(ctx context.Context, ns, key string, value []byte) error {
	return b.Write(ctx, []Op{PutOp(ns, key, value)})
}

// Delete implements Store.
func (b *Bolt) Delete(ctx context.Context, ns, key string) error {
	return b.Write(ctx, []Op{DeleteOp(ns, key)})
}

// Write implements Store.
func (b *Bolt) Write(ctx context.Context, ops []Op) error {
	if err := validate(ops); err != nil {
		return err
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, op := range ops {
			if err := apply(tx, op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: write of %d ops: %w", len(ops), err)
	}
	return nil
}

func apply(tx *bolt.Tx, op Op) error {
	if op.Value == nil {
		bucket := tx.Bucket([]byte(op.NS))
		if bucket == nil {
			return nil
		}
		return bucket.Delete([]byte(op.Key))
	}
	bucket, err := tx.CreateBucketIfNotExists([]byte(op.NS))
	if err != nil {
		return err
	}
	return bucket.Put([]byte(op.Key), op.Value)
}
