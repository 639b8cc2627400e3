package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"
)

// Real Raft over TCP on 127.0.0.x. Raft keeps its own timers, so these
// tests wait on conditions with deadlines.

var testIPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

const waitTimeout = 15 * time.Second

type testNode struct {
	cfg Config
	reg *Registry
}

// freeAddr finds a free TCP port on ip.
func freeAddr(t testing.TB, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testLogger is silent unless REGISTRY_TEST_LOG is set (Raft logs every
// connection a closing node drops).
func testLogger() *slog.Logger {
	if os.Getenv("REGISTRY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func testConfig(t testing.TB, addr string) Config {
	return Config{
		BindAddr:           addr,
		DataDir:            t.TempDir(),
		Logger:             testLogger(),
		HeartbeatTimeout:   200 * time.Millisecond,
		ElectionTimeout:    200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
	}
}

// open starts (or restarts, from its data dir) the node.
func (n *testNode) open(t testing.TB) {
	t.Helper()
	reg, err := Open(n.cfg)
	if err != nil {
		t.Fatalf("open %s: %v", n.cfg.BindAddr, err)
	}
	n.reg = reg
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Errorf("close %s: %v", reg.Addr(), err)
		}
	})
}

func (n *testNode) close(t testing.TB) {
	t.Helper()
	if err := n.reg.Close(); err != nil {
		t.Fatalf("close %s: %v", n.reg.Addr(), err)
	}
	n.reg = nil
}

// startCluster bootstraps len(testIPs[:size]) nodes with each other as peers.
func startCluster(t testing.TB, size int, tweak func(*Config)) []*testNode {
	t.Helper()
	var peers []string
	for _, ip := range testIPs[:size] {
		peers = append(peers, freeAddr(t, ip))
	}
	nodes := make([]*testNode, size)
	for i, addr := range peers {
		cfg := testConfig(t, addr)
		cfg.Peers, cfg.Bootstrap = peers, true
		if tweak != nil {
			tweak(&cfg)
		}
		nodes[i] = &testNode{cfg: cfg}
		nodes[i].open(t)
	}
	return nodes
}

// eventually calls cond until it returns nil, failing after waitTimeout.
func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, waitTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLeader waits until exactly one open node leads, and its Barrier
// passes, and returns it.
func waitLeader(t testing.TB, nodes []*testNode) *testNode {
	t.Helper()
	var leader *testNode
	eventually(t, "a leader", func() error {
		leader = nil
		for _, n := range nodes {
			if n.reg == nil || !n.reg.IsLeader() {
				continue
			}
			if leader != nil {
				return errors.New("two leaders")
			}
			leader = n
		}
		if leader == nil {
			return errors.New("no leader")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return leader.reg.Barrier(ctx)
	})
	return leader
}

// waitReplicated waits until every open node's state equals want's.
func waitReplicated(t testing.TB, nodes []*testNode, want *State) {
	t.Helper()
	for _, n := range nodes {
		if n.reg == nil {
			continue
		}
		eventually(t, "replication to "+n.reg.Addr(), func() error {
			if got := n.reg.State(); got.Index() < want.Index() || !got.Equal(want) {
				return fmt.Errorf("state %v, want %v", got, want)
			}
			return nil
		})
	}
}

func apply(t testing.TB, r *Registry, ops ...*Operation) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.Apply(ctx, ops...); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

func TestSingleNodeRestartKeepsState(t *testing.T) {
	n := &testNode{cfg: testConfig(t, freeAddr(t, testIPs[0]))}
	n.cfg.Bootstrap = true
	n.open(t)
	waitLeader(t, []*testNode{n})
	apply(t, n.reg, SetMaster(testMasterInfo("m1"), n.reg.ID()), AdmitAgent(testAgent("a1")))
	apply(t, n.reg, AddFramework(testFramework("f1"), t0), UpdateWeights(map[string]float64{"web": 2}))
	apply(t, n.reg, Put("apps", "/web", []byte(`{"id":"/web"}`)), UpdateSchedule(schedule(window("h1"))))
	if m, ok := n.reg.LeadingMaster(); !ok || m.GetInfo().GetId() != "m1" {
		t.Fatalf("LeadingMaster = %v, %v", m, ok)
	}
	want := n.reg.State()

	n.close(t)
	n.cfg.Bootstrap = false // state on disk: no bootstrap needed, none done
	n.open(t)
	waitLeader(t, []*testNode{n})
	if got := n.reg.State(); !got.Equal(want) || got.Index() < want.Index() {
		t.Fatalf("after restart: %v, want %v", got, want)
	}
	if kv, _ := n.reg.State().Get("apps", "/web"); string(kv.GetValue()) != `{"id":"/web"}` {
		t.Fatalf("apps//web = %v", kv)
	}
}

func TestThreeNodesFailover(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := waitLeader(t, nodes)
	apply(t, leader.reg, SetMaster(testMasterInfo("m-"+leader.reg.ID()), leader.reg.ID()))
	apply(t, leader.reg, AdmitAgent(testAgent("a1")), AdmitAgent(testAgent("a2")))
	apply(t, leader.reg, Put("apps", "/web", []byte("v1")))
	waitReplicated(t, nodes, leader.reg.State())
	for _, n := range nodes {
		eventually(t, "leading master known to "+n.reg.Addr(), func() error {
			if m, ok := n.reg.LeadingMaster(); !ok || m.GetNodeId() != leader.reg.ID() {
				return fmt.Errorf("LeadingMaster = %v, %v", m, ok)
			}
			return nil
		})
	}

	// A follower refuses writes and writes nothing.
	var follower *testNode
	for _, n := range nodes {
		if n != leader {
			follower = n
		}
	}
	err := follower.reg.Apply(context.Background(), Put("apps", "/follower", []byte("x")))
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply on a follower: %v, want ErrNotLeader", err)
	}
	if err := follower.reg.Barrier(context.Background()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("barrier on a follower: %v, want ErrNotLeader", err)
	}

	// Kill the leader: another takes over with the same state.
	before := leader.reg.State()
	oldID := leader.reg.ID()
	leader.close(t)
	next := waitLeader(t, nodes)
	if got := next.reg.State(); !got.Equal(before) {
		t.Fatalf("new leader's state %v, want %v", got, before)
	}
	if _, ok := next.reg.LeadingMaster(); ok {
		t.Fatal("LeadingMaster names the dead leader's record as current")
	}
	apply(t, next.reg, SetMaster(testMasterInfo("m-"+next.reg.ID()), next.reg.ID()), MarkAgentUnreachable("a2", t0))
	waitReplicated(t, nodes, next.reg.State())
	s := next.reg.State()
	if _, ok := s.Get("apps", "/follower"); ok {
		t.Fatal("the write refused by a follower was applied")
	}
	if _, ok := s.UnreachableAgent("a2"); !ok || s.Master().GetNodeId() == oldID {
		t.Fatalf("state after failover: %v (master %v)", s, s.Master())
	}
}

// TestSnapshotCatchUp: a node that missed writes while the leader compacted
// its log catches up from an installed snapshot.
func TestSnapshotCatchUp(t *testing.T) {
	nodes := startCluster(t, 3, func(c *Config) {
		c.SnapshotThreshold = 16
		c.SnapshotInterval = 20 * time.Millisecond
		c.TrailingLogs = 4
	})
	leader := waitLeader(t, nodes)
	var lagging *testNode
	for _, n := range nodes {
		if n != leader {
			lagging = n
		}
	}
	lagging.close(t)

	for i := range 100 {
		apply(t, leader.reg, Put("ns", fmt.Sprintf("k%03d", i), []byte{byte(i)}), AdmitAgent(testAgent(fmt.Sprintf("a%03d", i))))
	}
	if err := leader.reg.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	want := leader.reg.State()

	lagging.open(t)
	waitReplicated(t, nodes, want)
	if got := lagging.reg.fsm.restores.Load(); got == 0 {
		t.Fatal("the lagging node caught up without restoring a snapshot")
	}
	if got := len(lagging.reg.State().List("ns", "k")); got != 100 {
		t.Fatalf("lagging node has %d keys, want 100", got)
	}
}

func TestAddAndRemoveVoter(t *testing.T) {
	nodes := startCluster(t, 1, nil)
	leader := waitLeader(t, nodes)
	apply(t, leader.reg, AdmitAgent(testAgent("a1")))

	// Two masters join: started without bootstrap, added by the leader.
	for _, ip := range testIPs[1:] {
		n := &testNode{cfg: testConfig(t, freeAddr(t, ip))}
		n.open(t)
		nodes = append(nodes, n)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := leader.reg.AddVoter(ctx, n.reg.ID(), n.reg.Addr())
		cancel()
		if err != nil {
			t.Fatalf("add voter %s: %v", n.reg.Addr(), err)
		}
	}
	waitReplicated(t, nodes, leader.reg.State())
	servers, err := leader.reg.Servers()
	if err != nil || len(servers) != 3 {
		t.Fatalf("servers = %v, %v", servers, err)
	}
	for _, s := range servers {
		if !s.Voter || s.Leader != (s.ID == leader.reg.ID()) {
			t.Errorf("server %+v", s)
		}
	}
	if err := nodes[1].reg.AddVoter(context.Background(), "x", "127.0.0.9:1"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("AddVoter on a follower: %v, want ErrNotLeader", err)
	}

	removed := nodes[2]
	if err := leader.reg.RemoveServer(context.Background(), removed.reg.ID()); err != nil {
		t.Fatalf("remove server: %v", err)
	}
	removed.close(t)
	servers, err = leader.reg.Servers()
	if err != nil || len(servers) != 2 {
		t.Fatalf("servers after removal = %v, %v", servers, err)
	}
	// Two of two must agree now: a write still commits.
	apply(t, leader.reg, AdmitAgent(testAgent("a2")))
	waitReplicated(t, nodes, leader.reg.State())
}

// TestLeaderCh: a leader that loses its majority hears it on LeaderCh and
// stops accepting writes; a write it could not commit is never reported as
// done.
func TestLeaderCh(t *testing.T) {
	nodes := startCluster(t, 2, nil)
	leader := waitLeader(t, nodes)
	other := nodes[0]
	if other == leader {
		other = nodes[1]
	}
	if got := nextLeadership(t, leader.reg); !got {
		t.Fatal("the leader's first leadership change is false")
	}
	if leader.reg.LeaderAddr() != leader.reg.Addr() || other.reg.LeaderAddr() != leader.reg.Addr() {
		t.Fatalf("LeaderAddr: %q and %q, want %q", leader.reg.LeaderAddr(), other.reg.LeaderAddr(), leader.reg.Addr())
	}

	other.close(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	err := leader.reg.Apply(ctx, Put("ns", "uncommitted", nil))
	cancel()
	if !errors.Is(err, ErrOutcomeUnknown) && !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply without a majority: %v, want ErrOutcomeUnknown or ErrNotLeader", err)
	}
	if got := nextLeadership(t, leader.reg); got {
		t.Fatal("leadership change after losing the majority is true")
	}
	if leader.reg.IsLeader() {
		t.Fatal("IsLeader after stepping down")
	}
	if err := leader.reg.Apply(context.Background(), Put("ns", "k", nil)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply after stepping down: %v, want ErrNotLeader", err)
	}
}

func nextLeadership(t *testing.T, r *Registry) bool {
	t.Helper()
	select {
	case leader := <-r.LeaderCh():
		return leader
	case <-time.After(waitTimeout):
		t.Fatal("no leadership change")
		return false
	}
}

func TestOpenRejectsBadConfigs(t *testing.T) {
	dir := t.TempDir()
	self := freeAddr(t, "127.0.0.2")
	for name, cfg := range map[string]Config{
		"no bind address":         {DataDir: dir},
		"no data dir":             {BindAddr: "127.0.0.2:0"},
		"unspecified advertise":   {BindAddr: "127.0.0.2:0", DataDir: dir, AdvertiseAddr: "0.0.0.0:5049"},
		"peer without port":       {BindAddr: "127.0.0.2:0", DataDir: dir, Peers: []string{"127.0.0.3"}},
		"peers without this node": {BindAddr: freeAddr(t, "127.0.0.2"), DataDir: dir, Bootstrap: true, Peers: []string{"127.0.0.3:5049"}},
		"node ID not its address": {BindAddr: self, DataDir: dir, Bootstrap: true, NodeID: "m1",
			Peers: []string{self, "127.0.0.3:5049"}},
	} {
		if r, err := Open(cfg); err == nil {
			r.Close()
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

func TestOpenFailsOnADataDirInUse(t *testing.T) {
	n := &testNode{cfg: testConfig(t, freeAddr(t, testIPs[0]))}
	n.cfg.Bootstrap = true
	n.open(t)
	second := testConfig(t, freeAddr(t, testIPs[1]))
	second.DataDir = n.cfg.DataDir
	if r, err := Open(second); err == nil {
		r.Close()
		t.Fatal("a second node opened a data dir in use")
	}
}
