package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// maxEntryBytes bounds the log entries a Registrar builds (a larger single
// transaction still goes alone), so that one entry stays quick to replicate.
const maxEntryBytes = 1 << 20

// Registrar is the registry's group commit: while one log entry is being
// committed, the transactions that arrive are queued, then proposed
// together as the next entry. Each caller's operations stay one
// all-or-nothing transaction with its own verdict. After a failover, ten
// thousand agents re-registering cost a few dozen fsyncs, not ten thousand.
type Registrar struct {
	reg  *Registry
	reqs chan *pendingTxn
	stop chan struct{}
	done chan struct{}
	once sync.Once

	entries, transactions atomic.Uint64
}

type pendingTxn struct {
	ctx    context.Context
	txn    []byte     // an encoded Transaction
	result chan error // buffered: the loop never waits for the caller
}

type entryResult struct {
	errs []error
	err  error
}

// NewRegistrar starts a Registrar writing through reg. Close it before reg.
func NewRegistrar(reg *Registry) *Registrar {
	g := &Registrar{reg: reg, reqs: make(chan *pendingTxn), stop: make(chan struct{}), done: make(chan struct{})}
	go g.run()
	return g
}

// Apply is Registry.Apply through the group commit: ops are one transaction,
// answered after the entry that carries it is committed and applied.
func (g *Registrar) Apply(ctx context.Context, ops ...*Operation) error {
	if len(ops) == 0 {
		return nil
	}
	txn, err := encodeTransaction(ops)
	if err != nil {
		return err
	}
	p := &pendingTxn{ctx: ctx, txn: txn, result: make(chan error, 1)}
	select {
	case g.reqs <- p:
	case <-ctx.Done():
		return fmt.Errorf("registry: apply: %w", ctx.Err())
	case <-g.stop:
		return fmt.Errorf("registry: apply: %w", ErrClosed)
	}
	select {
	case err := <-p.result:
		return err
	case <-ctx.Done():
		return fmt.Errorf("registry: apply: %w: %w", ErrOutcomeUnknown, ctx.Err())
	}
}

// Close stops the Registrar: queued transactions fail with ErrClosed; the
// entry in flight, if any, completes first.
func (g *Registrar) Close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
}

// RegistrarStats counts what a Registrar proposed.
type RegistrarStats struct {
	Entries      uint64 // log entries proposed
	Transactions uint64 // transactions they carried
}

// Stats returns the counts so far.
func (g *Registrar) Stats() RegistrarStats {
	return RegistrarStats{Entries: g.entries.Load(), Transactions: g.transactions.Load()}
}

// run owns the queue: one entry in flight at a time, the next one
// gathering behind it.
func (g *Registrar) run() {
	defer close(g.done)
	var queue, current []*pendingTxn
	var inflight chan entryResult
	for {
		select {
		case p := <-g.reqs:
			queue = append(queue, p)
		case res := <-inflight:
			deliver(current, res)
			current, inflight = nil, nil
		case <-g.stop:
			for _, p := range queue {
				p.result <- fmt.Errorf("registry: apply: %w", ErrClosed)
			}
			if inflight != nil {
				deliver(current, <-inflight)
			}
			return
		}
		if inflight == nil && len(queue) > 0 {
			current, queue = takeEntry(queue)
			if len(current) > 0 {
				inflight = g.propose(current)
			}
		}
	}
}

// takeEntry takes the transactions of the next entry from the queue,
// answering those whose caller has stopped waiting (they are not proposed).
func takeEntry(queue []*pendingTxn) (entry, rest []*pendingTxn) {
	size := 0
	for len(queue) > 0 {
		p := queue[0]
		if err := p.ctx.Err(); err != nil {
			p.result <- fmt.Errorf("registry: apply: %w", err)
			queue = queue[1:]
			continue
		}
		if len(entry) > 0 && size+len(p.txn) > maxEntryBytes {
			break
		}
		entry = append(entry, p)
		size += len(p.txn) + 8
		queue = queue[1:]
	}
	return entry, queue
}

// propose replicates one entry in the background.
func (g *Registrar) propose(txns []*pendingTxn) chan entryResult {
	var entry []byte
	for _, p := range txns {
		entry = appendTransaction(entry, p.txn)
	}
	g.entries.Add(1)
	g.transactions.Add(uint64(len(txns)))
	out := make(chan entryResult, 1)
	go func() {
		errs, err := g.reg.propose(context.Background(), entry, len(txns))
		out <- entryResult{errs, err}
	}()
	return out
}

func deliver(txns []*pendingTxn, res entryResult) {
	for i, p := range txns {
		if res.err != nil {
			p.result <- res.err
		} else {
			p.result <- res.errs[i]
		}
	}
}
