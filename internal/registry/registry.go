package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Registry is one master's replica of the registry: a Raft node and its
// state machine. All methods are safe for concurrent use.
type Registry struct {
	id, addr string
	log      *slog.Logger
	raft     *raft.Raft
	fsm      *fsm
	store    *raftboltdb.BoltStore
	trans    *raft.NetworkTransport

	leaderCh chan bool
	// leaderSilence: a follower that has not heard from the leader for
	// this long stops naming it (half the heartbeat timeout).
	leaderSilence time.Duration
	stop          chan struct{}
	stopped       chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Storage and transport settings: snapshots kept on disk, log entries
// cached in memory, connections pooled per peer, the I/O deadline of one RPC.
const (
	transportPool    = 3
	transportTimeout = 10 * time.Second
	snapshotsKept    = 2
	logCacheEntries  = 512
	storeLockTimeout = time.Second
)

// Open starts the node: it opens (or creates) the stores in cfg.DataDir,
// listens on cfg.BindAddr, bootstraps a new cluster if asked and nothing is
// on disk, and joins the Raft group. The state is restored from the last
// snapshot at once; later entries are applied as the node learns they are
// committed.
func Open(cfg Config) (*Registry, error) {
	cfg, err := cfg.check()
	if err != nil {
		return nil, err
	}
	r := &Registry{log: cfg.Logger, leaderCh: make(chan bool), stop: make(chan struct{}), stopped: make(chan struct{})}
	if err := r.open(cfg); err != nil {
		r.closeStores()
		return nil, err
	}
	return r, nil
}

func (r *Registry) open(cfg Config) error {
	// The registry's own directory is private; directories made above it
	// are not, as an agent's sandboxes may be below one of them (a master
	// and an agent under /var/lib/agora) for other users to reach.
	if err := os.MkdirAll(filepath.Dir(cfg.DataDir), 0o755); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := os.Mkdir(cfg.DataDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("registry: %w", err)
	}
	bolt := *bbolt.DefaultOptions
	bolt.Timeout = storeLockTimeout // another process holding the store fails Open, not hangs it
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db"), BoltOptions: &bolt})
	if err != nil {
		return fmt.Errorf("registry: open log store: %w", err)
	}
	r.store = store
	hlog := newRaftLogger(cfg.Logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, snapshotsKept, hlog)
	if err != nil {
		return fmt.Errorf("registry: open snapshot store: %w", err)
	}
	if err := r.listen(cfg, hlog); err != nil {
		return err
	}
	notify := make(chan bool, 1)
	rc := cfg.raftConfig(r.id, notify)
	r.leaderSilence = rc.HeartbeatTimeout / 2
	if cfg.Bootstrap {
		if err := r.bootstrap(cfg, rc, snaps); err != nil {
			return err
		}
	}
	logs, err := raft.NewLogCache(logCacheEntries, store)
	if err != nil {
		return fmt.Errorf("registry: log cache: %w", err)
	}
	r.fsm = newFSM(cfg.Logger)
	r.raft, err = raft.NewRaft(rc, r.fsm, logs, store, snaps, r.trans)
	if err != nil {
		return fmt.Errorf("registry: start raft: %w", err)
	}
	go r.forwardLeadership(notify)
	r.log.Info("registry: raft node started", "id", r.id, "addr", r.addr, "dir", cfg.DataDir)
	return nil
}

// listen opens the Raft TCP transport and settles the node's address and ID.
func (r *Registry) listen(cfg Config, hlog hclog.Logger) error {
	var advertise net.Addr // a nil *net.TCPAddr would not be a nil net.Addr
	if cfg.AdvertiseAddr != "" {
		a, err := advertiseTCPAddr(cfg.AdvertiseAddr)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		advertise = a
	}
	trans, err := raft.NewTCPTransportWithLogger(cfg.BindAddr, advertise, transportPool, transportTimeout, hlog)
	if err != nil {
		return fmt.Errorf("registry: raft transport on %s: %w", cfg.BindAddr, err)
	}
	r.trans = trans
	r.addr = string(trans.LocalAddr())
	r.id = cfg.NodeID
	if r.id == "" {
		r.id = r.addr
	}
	return nil
}

// bootstrap writes the first configuration of a new cluster, unless the
// node already has state.
func (r *Registry) bootstrap(cfg Config, rc *raft.Config, snaps raft.SnapshotStore) error {
	exists, err := raft.HasExistingState(r.store, r.store, snaps)
	if err != nil {
		return fmt.Errorf("registry: inspect state: %w", err)
	}
	if exists {
		return nil
	}
	conf, err := cfg.bootstrapServers(r.id, r.addr)
	if err != nil {
		return err
	}
	if err := raft.BootstrapCluster(rc, r.store, r.store, snaps, r.trans, conf); err != nil {
		return fmt.Errorf("registry: bootstrap: %w", err)
	}
	r.log.Info("registry: bootstrapped a new cluster", "servers", len(conf.Servers))
	return nil
}

// Close stops the node (without handing over leadership: the others elect a
// new leader after their election timeout) and closes its stores.
func (r *Registry) Close() error {
	r.closeOnce.Do(func() {
		if r.raft != nil {
			r.closeErr = r.raft.Shutdown().Error()
			close(r.stop)
			<-r.stopped
		}
		r.closeStores()
	})
	if r.closeErr != nil {
		return fmt.Errorf("registry: close: %w", r.closeErr)
	}
	return nil
}

func (r *Registry) closeStores() {
	if r.trans != nil {
		// Close drops only the listener: the pooled outgoing connections
		// (whose peers each keep a goroutine reading them) go here.
		r.trans.CloseStreams()
		r.closeErr = errors.Join(r.closeErr, r.trans.Close())
	}
	if r.store != nil {
		r.closeErr = errors.Join(r.closeErr, r.store.Close())
	}
}

// ID is the node's Raft server ID.
func (r *Registry) ID() string { return r.id }

// Addr is the node's Raft address, as other nodes dial it.
func (r *Registry) Addr() string { return r.addr }

// State is the applied state: immutable, see State. On a new leader, call
// Barrier first to be sure it holds every committed entry.
func (r *Registry) State() *State { return r.fsm.state.Load() }

// IsLeader reports whether this node is the Raft leader now.
func (r *Registry) IsLeader() bool { return r.raft.State() == raft.Leader }

// Barrier waits until every entry committed before it is applied to State.
// Only the leader can; a new leader calls it before reading State.
func (r *Registry) Barrier(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry: barrier: %w", err)
	}
	if err := wait(ctx, r.raft.Barrier(enqueueTimeout(ctx))); err != nil {
		return raftError("barrier", err)
	}
	return nil
}

// Apply proposes ops as one transaction in one log entry and returns once
// the entry is committed and applied: nil, or the state machine's *OpError
// (nothing of the transaction applied). On a follower it returns
// ErrNotLeader without writing anything. If ctx ends after the proposal,
// or leadership is lost, it returns ErrOutcomeUnknown.
func (r *Registry) Apply(ctx context.Context, ops ...*Operation) error {
	if len(ops) == 0 {
		return nil
	}
	txn, err := encodeTransaction(ops)
	if err != nil {
		return err
	}
	errs, err := r.propose(ctx, appendTransaction(nil, txn), 1)
	if err != nil {
		return err
	}
	return errs[0]
}

// encodeTransaction encodes a transaction, refusing incomplete messages.
func encodeTransaction(ops []*Operation) ([]byte, error) {
	b, err := proto.Marshal(&Transaction{Operations: ops})
	if err != nil {
		return nil, fmt.Errorf("registry: encode operations: %w: %w", ErrInvalid, err)
	}
	return b, nil
}

// appendTransaction appends an encoded transaction to an encoded Entry.
func appendTransaction(entry, txn []byte) []byte {
	entry = protowire.AppendTag(entry, 1, protowire.BytesType)
	return protowire.AppendBytes(entry, txn)
}

// propose replicates an encoded Entry of n transactions and returns their
// verdicts.
func (r *Registry) propose(ctx context.Context, entry []byte, n int) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry: apply: %w", err)
	}
	f := r.raft.Apply(entry, enqueueTimeout(ctx))
	if err := wait(ctx, f); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("registry: apply: %w: %w", ErrOutcomeUnknown, err)
		}
		return nil, raftError("apply", err)
	}
	res, ok := f.Response().(applyResult)
	if !ok || len(res.errs) != n {
		return nil, fmt.Errorf("registry: apply: %d verdicts for %d transactions: %v", len(res.errs), n, res.errs)
	}
	return res.errs, nil
}

// enqueueTimeout bounds how long raft may take to accept a proposal.
func enqueueTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

// wait waits for a raft future, or for ctx to end (then returns ctx.Err()).
func wait(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		return f.Error()
	}
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Snapshot makes Raft take a snapshot now and compact its log.
func (r *Registry) Snapshot() error {
	if err := r.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return raftError("snapshot", err)
	}
	return nil
}
