package master

import (
	"context"

	"github.com/agoraproject/agora/internal/apps/store"
	"github.com/agoraproject/agora/internal/registry"
)

// appsNamespace prefixes the apps framework's namespaces in the registry's
// key/value store.
const appsNamespace = "apps/"

// registryStore is the apps framework's store.Store on the replicated
// registry: a write is committed on a majority of masters before it
// returns; reads come from this master's replica, which holds every
// committed write because the framework runs only on the leader, after its
// election barrier.
type registryStore struct {
	reg Registry
	w   registryWriter
}

func (s *registryStore) Get(_ context.Context, ns, key string) ([]byte, error) {
	kv, ok := s.reg.State().Get(appsNamespace+ns, key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return kv.GetValue(), nil
}

func (s *registryStore) List(_ context.Context, ns string) ([]store.KV, error) {
	var out []store.KV
	for _, kv := range s.reg.State().List(appsNamespace+ns, "") {
		out = append(out, store.KV{Key: kv.GetKey(), Value: kv.GetValue()})
	}
	return out, nil
}

func (s *registryStore) Put(ctx context.Context, ns, key string, value []byte) error {
	return s.Write(ctx, []store.Op{store.PutOp(ns, key, value)})
}

func (s *registryStore) Delete(ctx context.Context, ns, key string) error {
	return s.Write(ctx, []store.Op{store.DeleteOp(ns, key)})
}

func (s *registryStore) Write(ctx context.Context, ops []store.Op) error {
	regOps := make([]*registry.Operation, 0, len(ops))
	for _, op := range ops {
		if op.Value == nil {
			regOps = append(regOps, registry.Delete(appsNamespace+op.NS, op.Key))
		} else {
			regOps = append(regOps, registry.Put(appsNamespace+op.NS, op.Key, op.Value))
		}
	}
	return s.w.Apply(ctx, regOps...)
}
