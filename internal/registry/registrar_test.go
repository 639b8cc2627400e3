package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func TestRegistrarMergesConcurrentCallers(t *testing.T) {
	nodes := startCluster(t, 1, nil)
	leader := waitLeader(t, nodes)
	g := NewRegistrar(leader.reg)
	t.Cleanup(g.Close)
	apply(t, leader.reg, Put("marker", "k", nil)) // so that Index is the log's last index
	start := leader.reg.State().Index()

	const callers, rivals = 200, 10
	errs := make([]error, callers)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-release
			switch {
			case i < rivals: // all admit the same agent: one wins
				errs[i] = g.Apply(context.Background(), AdmitAgent(testAgent("contested")), Put("rivals", fmt.Sprint(i), nil))
			case i == rivals: // an incomplete message is refused before it is proposed
				errs[i] = g.Apply(context.Background(), AdmitAgent(&Agent{}))
			default:
				errs[i] = g.Apply(context.Background(), Put("ns", fmt.Sprintf("k%03d", i), []byte{1}), AdmitAgent(testAgent(fmt.Sprint("a", i))))
			}
		})
	}
	close(release)
	wg.Wait()

	won := 0
	for i, err := range errs[:rivals] {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrConflict):
			t.Errorf("rival %d: %v, want success or ErrConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d rivals admitted the same agent, want 1", won)
	}
	if !errors.Is(errs[rivals], ErrInvalid) {
		t.Errorf("incomplete operation: %v, want ErrInvalid", errs[rivals])
	}
	for i, err := range errs[rivals+1:] {
		if err != nil {
			t.Errorf("caller %d: %v", i+rivals+1, err)
		}
	}

	s := leader.reg.State()
	if got := len(s.List("rivals", "")); got != 1 {
		t.Errorf("%d rivals' puts applied, want only the winner's", got)
	}
	if got := len(s.List("ns", "")); got != callers-rivals-1 {
		t.Errorf("%d keys, want %d", got, callers-rivals-1)
	}
	stats := g.Stats()
	t.Logf("%d transactions in %d entries (%d log indexes)", stats.Transactions, stats.Entries, s.Index()-start)
	if stats.Transactions != callers-1 || stats.Entries >= stats.Transactions {
		t.Errorf("stats %+v: want %d transactions in fewer entries", stats, callers-1)
	}
	if used := s.Index() - start; used > stats.Entries {
		t.Errorf("the registrar used %d log indexes for %d entries", used, stats.Entries)
	}
}

func TestRegistrarOnFollowerAndAfterClose(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	leader := waitLeader(t, nodes)
	follower := nodes[0]
	if follower == leader {
		follower = nodes[1]
	}
	g := NewRegistrar(follower.reg)
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			if err := g.Apply(context.Background(), Put("ns", fmt.Sprint(i), nil)); !errors.Is(err, ErrNotLeader) {
				t.Errorf("apply through a follower: %v, want ErrNotLeader", err)
			}
		})
	}
	wg.Wait()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Apply(ctx, Put("ns", "k", nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("apply with a cancelled context: %v", err)
	}
	g.Close()
	if err := g.Apply(context.Background(), Put("ns", "k", nil)); !errors.Is(err, ErrClosed) {
		t.Errorf("apply after close: %v, want ErrClosed", err)
	}
	if len(leader.reg.State().Namespaces()) != 0 {
		t.Errorf("writes through a follower were applied: %v", leader.reg.State())
	}
}

func TestTakeEntryBoundsSize(t *testing.T) {
	big := make([]byte, maxEntryBytes/2)
	var queue []*pendingTxn
	for range 3 {
		queue = append(queue, &pendingTxn{ctx: context.Background(), txn: big, result: make(chan error, 1)})
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	dropped := &pendingTxn{ctx: cancelled, txn: []byte{1}, result: make(chan error, 1)}
	queue = append([]*pendingTxn{dropped}, queue...)

	entry, rest := takeEntry(queue)
	if len(entry) != 1 || len(rest) != 2 {
		t.Fatalf("took %d, left %d; want 1 and 2", len(entry), len(rest))
	}
	if err := <-dropped.result; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
}
