package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func stores(t *testing.T) map[string]func() Store {
	dir := t.TempDir()
	n := 0
	return map[string]func() Store{
		"mem": func() Store { return NewMem() },
		"bolt": func() Store {
			n++
			b, err := OpenBolt(filepath.Join(dir, "s"+string(rune('a'+n))+".db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
	}
}

func TestStoreContract(t *testing.T) {
	ctx := context.Background()
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			s := open()
			if _, err := s.Get(ctx, "apps", "x"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get missing = %v, want ErrNotFound", err)
			}
			if kvs, err := s.List(ctx, "apps"); err != nil || len(kvs) != 0 {
				t.Fatalf("List empty = %v, %v", kvs, err)
			}
			must(t, s.Put(ctx, "apps", "/b", []byte("B")))
			must(t, s.Write(ctx, []Op{PutOp("apps", "/a", []byte("A")), PutOp("deployments", "d1", []byte("D")),
				DeleteOp("apps", "/b"), DeleteOp("nothing", "here")}))
			kvs, err := s.List(ctx, "apps")
			must(t, err)
			if diff := cmp.Diff([]KV{{Key: "/a", Value: []byte("A")}}, kvs); diff != "" {
				t.Errorf("List apps (-want +got):\n%s", diff)
			}
			v, err := s.Get(ctx, "deployments", "d1")
			if err != nil || string(v) != "D" {
				t.Errorf("Get d1 = %q, %v", v, err)
			}
			must(t, s.Delete(ctx, "deployments", "d1"))
			if _, err := s.Get(ctx, "deployments", "d1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("after Delete: %v", err)
			}
			if err := s.Write(ctx, []Op{PutOp("", "k", nil)}); err == nil {
				t.Error("empty namespace accepted")
			}
		})
	}
}

func TestBoltKeepsDataAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apps.db")
	b, err := OpenBolt(path)
	must(t, err)
	must(t, b.Write(ctx, []Op{PutOp("framework", "id", []byte("fw-1")), PutOp("apps", "/web", []byte("{}"))}))
	must(t, b.Close())
	b, err = OpenBolt(path)
	must(t, err)
	t.Cleanup(func() { b.Close() })
	v, err := b.Get(ctx, "framework", "id")
	if err != nil || string(v) != "fw-1" {
		t.Errorf("framework id after reopen = %q, %v", v, err)
	}
}

func TestMemValuesAreCopied(t *testing.T) {
	ctx := context.Background()
	m := NewMem()
	v := []byte("abc")
	must(t, m.Put(ctx, "ns", "k", v))
	v[0] = 'X'
	got, _ := m.Get(ctx, "ns", "k")
	if string(got) != "abc" {
		t.Errorf("stored value changed with the caller's slice: %q", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
