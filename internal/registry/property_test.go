package registry

import (
	"bytes"
	"io"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"
)

// genOperation draws any operation over a few IDs, so that drawn sequences
// hit both the accepting and the rejecting paths of every operation.
func genOperation(t *rapid.T) *Operation {
	agent := rapid.SampledFrom([]string{"a1", "a2", "a3"}).Draw(t, "agent")
	fw := rapid.SampledFrom([]string{"f1", "f2"}).Draw(t, "framework")
	host := rapid.SampledFrom([]string{"h1", "h2", "h3"}).Draw(t, "host")
	key := rapid.SampledFrom([]string{"/a", "/a/1", "/b"}).Draw(t, "key")
	at := t0.Add(time.Duration(rapid.IntRange(0, 100).Draw(t, "minutes")) * time.Minute)
	version := uint64(rapid.IntRange(0, 20).Draw(t, "version"))
	makers := []func() *Operation{
		func() *Operation { return SetMaster(testMasterInfo("m-"+agent), agent) },
		func() *Operation { return AdmitAgent(testAgent(agent)) },
		func() *Operation { return UpdateAgent(testAgent(agent).Info, nil) },
		func() *Operation { return RemoveAgent(agent) },
		func() *Operation { return MarkAgentUnreachable(agent, at) },
		func() *Operation { return MarkAgentReachable(testAgent(agent)) },
		func() *Operation { return MarkAgentGone(agent, at) },
		func() *Operation { return DeactivateAgent(agent) },
		func() *Operation { return ReactivateAgent(agent) },
		func() *Operation { return DrainAgent(agent, nil) },
		func() *Operation { return MarkAgentDrained(agent) },
		func() *Operation { return Prune(at, 30*time.Minute, uint32(rapid.IntRange(0, 3).Draw(t, "count"))) },
		func() *Operation { return UpdateWeights(map[string]float64{"r" + fw: float64(version)}) },
		func() *Operation {
			return UpdateQuota(quotaConfig("r"+fw, map[string]float64{"cpus": float64(version % 3)}, map[string]float64{"cpus": 1}))
		},
		func() *Operation { return UpdateSchedule(schedule(window(host), window("h9"))) },
		func() *Operation { return StartMaintenance(machine(host)) },
		func() *Operation { return StopMaintenance(machine(host)) },
		func() *Operation { return AddMinimumCapability(fw) },
		func() *Operation { return RemoveMinimumCapability(fw) },
		func() *Operation { return AddFramework(testFramework(fw), at) },
		func() *Operation { return UpdateFramework(testFramework(fw)) },
		func() *Operation { return MarkFrameworkDisconnected(fw, at) },
		func() *Operation { return MarkFrameworkConnected(fw) },
		func() *Operation { return RemoveFramework(fw, at) },
		func() *Operation { return Put("ns-"+fw, key, []byte(agent)) },
		func() *Operation { return PutIfVersion("ns-"+fw, key, []byte(agent), version) },
		func() *Operation { return Delete("ns-"+fw, key) },
		func() *Operation { return DeleteIfVersion("ns-"+fw, key, version) },
	}
	return makers[rapid.IntRange(0, len(makers)-1).Draw(t, "op")]()
}

func genEntry(t *rapid.T) *Entry {
	e := &Entry{}
	for range rapid.IntRange(1, 3).Draw(t, "transactions") {
		txn := &Transaction{}
		for range rapid.IntRange(1, 3).Draw(t, "operations") {
			txn.Operations = append(txn.Operations, genOperation(t))
		}
		e.Transactions = append(e.Transactions, txn)
	}
	return e
}

// TestReplicasAgree applies random entries to a replica and to one that
// restores from a snapshot after every step: they must stay byte-identical,
// agree on every verdict, and no step may change an earlier State.
func TestReplicasAgree(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := emptyState(), emptyState()
		var history []*State
		var historyBytes [][]byte
		for i := range rapid.IntRange(1, 40).Draw(t, "entries") {
			e := genEntry(t)
			restored, err := UnmarshalState(mustMarshal(t, b))
			if err != nil {
				t.Fatal(err)
			}
			var errsA, errsB []error
			a, errsA = applyEntry(a, uint64(i+1), roundTrip(t, e))
			b, errsB = applyEntry(restored, uint64(i+1), roundTrip(t, e))
			for j := range errsA {
				if (errsA[j] == nil) != (errsB[j] == nil) {
					t.Fatalf("entry %d txn %d: verdicts differ: %v vs %v", i, j, errsA[j], errsB[j])
				}
			}
			if ab, bb := mustMarshal(t, a), mustMarshal(t, b); !bytes.Equal(ab, bb) {
				t.Fatalf("entry %d: replicas differ:\n%v\n%v", i, a, b)
			}
			history = append(history, a)
			historyBytes = append(historyBytes, mustMarshal(t, a))
		}
		for i, s := range history {
			if !bytes.Equal(mustMarshal(t, s), historyBytes[i]) {
				t.Fatalf("state %d changed after later entries", i)
			}
		}
	})
}

func mustMarshal(t *rapid.T, s *State) []byte {
	b, err := MarshalState(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip encodes and decodes an entry, as the log does.
func roundTrip(t *rapid.T, e *Entry) *Entry {
	b, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var out Entry
	if err := proto.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestUnmarshalStateRefusesDuplicates(t *testing.T) {
	snap := &Snapshot{Agents: []*Agent{testAgent("a1"), testAgent("a1")}}
	b, err := proto.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalState(b); err == nil {
		t.Fatal("a snapshot with agent a1 twice was accepted")
	}
	snap = &Snapshot{Values: []*KeyValue{{Namespace: proto.String(""), Key: proto.String("k"), Version: proto.Uint64(1)}}}
	b, _ = proto.Marshal(snap)
	if _, err := UnmarshalState(b); err == nil {
		t.Fatal("a snapshot with an empty namespace was accepted")
	}
}

func TestTimeConversions(t *testing.T) {
	at := time.Unix(12, 345)
	if got := TimeOf(TimeInfo(at)); !got.Equal(at) {
		t.Fatalf("TimeOf(TimeInfo(%v)) = %v", at, got)
	}
	if !TimeOf(nil).IsZero() {
		t.Fatal("TimeOf(nil) is not the zero time")
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// TestFSMSnapshotRestore round-trips a state that uses every field through
// the FSM's Persist and Restore.
func TestFSMSnapshotRestore(t *testing.T) {
	full := stateAfter(t,
		SetMaster(testMasterInfo("m1"), "127.0.0.2:5049"),
		AdmitAgent(testAgent("a1")), DrainAgent("a1", nil),
		AdmitAgent(testAgent("a2")), MarkAgentUnreachable("a2", t0),
		AdmitAgent(testAgent("a3")), MarkAgentGone("a3", t0),
		UpdateWeights(map[string]float64{"web": 2}),
		UpdateQuota(quotaConfig("web", map[string]float64{"cpus": 1}, map[string]float64{"cpus": 4})),
		UpdateSchedule(schedule(window("h1", "h2"))), StartMaintenance(machine("h2")),
		AddMinimumCapability("AGENT_DRAINING"),
		AddFramework(testFramework("f1"), t0), MarkFrameworkDisconnected("f1", t0),
		AddFramework(testFramework("f2"), t0), RemoveFramework("f2", t0),
		Put("apps", "/web", []byte("{}")), Put("deployments", "d1", nil),
	)
	src := newFSM(testLogger())
	src.state.Store(full)
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed || sink.cancelled {
		t.Fatalf("persist: %v (closed %v, cancelled %v)", err, sink.closed, sink.cancelled)
	}
	dst := newFSM(testLogger())
	if err := dst.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	got := dst.state.Load()
	if !got.Equal(full) || got.Index() != full.Index() {
		t.Fatalf("restored %v, want %v", got, full)
	}
	for name, n := range map[string]int{
		"agents": len(got.Agents()), "unreachable": len(got.UnreachableAgents()), "gone": len(got.GoneAgents()),
		"weights": len(got.Weights()), "quotas": len(got.Quotas()), "machines": len(got.Machines()),
		"windows": len(got.Schedule().GetWindows()), "capabilities": len(got.MinimumCapabilities()),
		"frameworks": len(got.Frameworks()), "completed": len(got.CompletedFrameworks()), "namespaces": len(got.Namespaces()),
	} {
		if n == 0 {
			t.Errorf("restored state has no %s", name)
		}
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader([]byte{0xff}))); err == nil {
		t.Error("restoring garbage succeeded")
	}
}
