package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
)

// sentLog records what the manager sends.
type sentLog struct{ sent []*protocol.AgentCall_Update }

func (l *sentLog) send(u *protocol.AgentCall_Update) { l.sent = append(l.sent, u) }

func (l *sentLog) take() []*protocol.AgentCall_Update {
	out := l.sent
	l.sent = nil
	return out
}

func testUpdate(task string, state mesos.TaskState, uuidByte byte) *protocol.AgentCall_Update {
	return &protocol.AgentCall_Update{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("fw")},
		Status: &mesos.TaskStatus{
			TaskId: &mesos.TaskID{Value: proto.String(task)},
			State:  state.Enum(),
			Uuid:   bytes.Repeat([]byte{uuidByte}, 16),
		},
	}
}

func states(us []*protocol.AgentCall_Update) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.GetStatus().GetTaskId().GetValue()+":"+u.GetStatus().GetState().String())
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUpdateManagerSendsOnlyTheHeadInOrder(t *testing.T) {
	var log sentLog
	m := newUpdateManager(log.send, false)
	now := time.Unix(1000, 0)
	path := filepath.Join(t.TempDir(), "tasks", "t1", "task.updates")
	for i, st := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
		if _, err := m.Update(testUpdate("t1", st, byte(i+1)), path, now); err != nil {
			t.Fatal(err)
		}
	}
	// Another task's stream is independent.
	m.Update(testUpdate("t2", mesos.TaskState_TASK_RUNNING, 9), "", now)

	sent := log.take()
	if got := states(sent); !equalStrings(got, []string{"t1:TASK_STARTING", "t2:TASK_RUNNING"}) {
		t.Fatalf("sent %v, want only the heads", got)
	}
	if sent[0].GetLatestState() != mesos.TaskState_TASK_STARTING {
		t.Errorf("latest_state = %s, want TASK_STARTING (all it knew then)", sent[0].GetLatestState())
	}

	// A wrong uuid acknowledges nothing.
	if res, _ := m.Acknowledge("fw", "t1", bytes.Repeat([]byte{2}, 16), now); res.Matched {
		t.Error("ack of a non-head uuid matched")
	}
	if len(log.take()) != 0 {
		t.Error("a stale ack caused a send")
	}
	for i, want := range []string{"t1:TASK_RUNNING", "t1:TASK_FINISHED"} {
		res, err := m.Acknowledge("fw", "t1", bytes.Repeat([]byte{byte(i + 1)}, 16), now)
		if err != nil || !res.Matched || res.Done {
			t.Fatalf("ack %d = %+v, %v", i+1, res, err)
		}
		next := log.take()
		if got := states(next); !equalStrings(got, []string{want}) {
			t.Fatalf("after ack %d sent %v, want %s", i+1, got, want)
		}
		if next[0].GetLatestState() != mesos.TaskState_TASK_FINISHED {
			t.Errorf("latest_state = %s, want TASK_FINISHED", next[0].GetLatestState())
		}
	}
	res, _ := m.Acknowledge("fw", "t1", bytes.Repeat([]byte{3}, 16), now)
	if !res.Matched || !res.Done || m.Pending("fw", "t1") {
		t.Fatalf("terminal ack = %+v, pending %v; want the stream done", res, m.Pending("fw", "t1"))
	}
	// A duplicate ack after the end is ignored.
	if res, _ := m.Acknowledge("fw", "t1", bytes.Repeat([]byte{3}, 16), now); res.Matched {
		t.Error("duplicate terminal ack matched")
	}
	checkCheckpoint(t, path, []string{"U1", "U2", "U3", "A1", "A2", "A3"})
}

// checkCheckpoint compares a task.updates file with records written as
// "U<uuid byte>" and "A<uuid byte>".
func checkCheckpoint(t *testing.T, path string, want []string) {
	t.Helper()
	recs, err := readUpdateRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Update != nil {
			got = append(got, "U"+string('0'+r.Update.GetStatus().GetUuid()[0]))
		} else {
			got = append(got, "A"+string('0'+r.AckUUID[0]))
		}
	}
	if !equalStrings(got, want) {
		t.Errorf("checkpoint records %v, want %v", got, want)
	}
}

func TestUpdateManagerIgnoresDuplicateUpdates(t *testing.T) {
	var log sentLog
	m := newUpdateManager(log.send, false)
	path := filepath.Join(t.TempDir(), "task.updates")
	now := time.Unix(1000, 0)
	m.Update(testUpdate("t1", mesos.TaskState_TASK_RUNNING, 1), path, now)
	dup, err := m.Update(testUpdate("t1", mesos.TaskState_TASK_RUNNING, 1), path, now)
	if err != nil || !dup {
		t.Fatalf("second Update = %v, %v; want duplicate", dup, err)
	}
	if n := len(log.take()); n != 1 {
		t.Errorf("sent %d updates, want 1", n)
	}
	checkCheckpoint(t, path, []string{"U1"})
}

func TestUpdateManagerRetriesWithBackoffUntilAcknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sent []string // "<seconds since start> <state>"
		start := time.Now()
		m := newUpdateManager(func(u *protocol.AgentCall_Update) {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, fmt.Sprintf("%v %s", time.Since(start).Seconds(), u.GetStatus().GetState()))
		}, false)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go m.run(ctx, updateTickInterval)

		m.Update(testUpdate("t1", mesos.TaskState_TASK_RUNNING, 1), "", time.Now())
		m.Update(testUpdate("t1", mesos.TaskState_TASK_FINISHED, 2), "", time.Now())
		time.Sleep(1900 * time.Second)
		synctest.Wait()
		// 10 s doubling, capped at 10 min; the second update waits.
		want := []string{"0 TASK_RUNNING", "10 TASK_RUNNING", "30 TASK_RUNNING", "70 TASK_RUNNING",
			"150 TASK_RUNNING", "310 TASK_RUNNING", "630 TASK_RUNNING", "1230 TASK_RUNNING", "1830 TASK_RUNNING"}
		mu.Lock()
		if !equalStrings(sent, want) {
			t.Errorf("sent\n%v\nwant\n%v", sent, want)
		}
		sent = nil
		mu.Unlock()

		res, _ := m.Acknowledge("fw", "t1", bytes.Repeat([]byte{1}, 16), time.Now())
		if !res.Matched {
			t.Fatal("ack of the head did not match")
		}
		time.Sleep(15 * time.Second)
		synctest.Wait()
		// The next update goes at once, with a fresh 10 s backoff.
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"1900 TASK_FINISHED", "1910 TASK_FINISHED"}; !equalStrings(sent, want) {
			t.Errorf("after ack sent %v, want %v", sent, want)
		}
	})
}

func TestUpdateManagerResendsAllHeadsOnResubscription(t *testing.T) {
	var log sentLog
	m := newUpdateManager(log.send, false)
	now := time.Unix(1000, 0)
	m.Update(testUpdate("t1", mesos.TaskState_TASK_RUNNING, 1), "", now)
	m.Update(testUpdate("t1", mesos.TaskState_TASK_FINISHED, 2), "", now)
	m.Update(testUpdate("t2", mesos.TaskState_TASK_FAILED, 3), "", now)
	m.Update(testUpdate("t3", mesos.TaskState_TASK_RUNNING, 4), "", now)
	m.Acknowledge("fw", "t3", bytes.Repeat([]byte{4}, 16), now) // t3 has nothing pending
	log.take()

	later := now.Add(5 * time.Minute)
	m.ResendAll(later)
	got := states(log.take())
	sort.Strings(got)
	if want := []string{"t1:TASK_RUNNING", "t2:TASK_FAILED"}; !equalStrings(got, want) {
		t.Fatalf("resent %v, want %v", got, want)
	}
	// The backoff restarts at 10 s.
	m.Tick(later.Add(9 * time.Second))
	if n := len(log.take()); n != 0 {
		t.Errorf("%d re-sent before 10 s", n)
	}
	m.Tick(later.Add(10 * time.Second))
	if n := len(log.take()); n != 2 {
		t.Errorf("%d re-sent at 10 s, want 2", n)
	}
}

func TestUpdateManagerRefusesUpdatesWithoutUUID(t *testing.T) {
	m := newUpdateManager(func(*protocol.AgentCall_Update) {}, false)
	u := testUpdate("t1", mesos.TaskState_TASK_RUNNING, 1)
	u.Status.Uuid = nil
	if _, err := m.Update(u, "", time.Now()); err == nil {
		t.Error("update without uuid accepted")
	}
}

func TestReadUpdateRecordsToleratesATornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "task.updates")
	m := newUpdateManager(func(*protocol.AgentCall_Update) {}, true)
	m.Update(testUpdate("t1", mesos.TaskState_TASK_RUNNING, 1), path, time.Now())
	m.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("40\nU\x0a") // a record cut short by a crash
	f.Close()
	checkCheckpoint(t, path, []string{"U1"})
}

// BenchmarkCheckpointedUpdate is the checkpoint cost of one status update
// and its acknowledgement on a task's existing task.updates file, with and
// without fsync.
func BenchmarkCheckpointedUpdate(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			m := newUpdateManager(func(*protocol.AgentCall_Update) {}, sync)
			path := filepath.Join(b.TempDir(), "task.updates")
			now := time.Now()
			for i := 0; b.Loop(); i++ {
				u := testUpdate("t1", mesos.TaskState_TASK_RUNNING, 0)
				u.Status.Uuid = []byte(fmt.Sprintf("%016d", i))
				m.Update(u, path, now)
				m.Acknowledge("fw", "t1", u.GetStatus().GetUuid(), now)
			}
		})
	}
}

// TestRestoredStreamContinuesItsCheckpoint: a stream rebuilt from its
// checkpoint after a crash mid-write (a torn last record) has the
// unacknowledged updates in order, answers a replayed uuid as a
// duplicate, and appends framed records after the cut.
func TestRestoredStreamContinuesItsCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tasks", "t1", "task.updates")
	now := time.Unix(1000, 0)
	before := newUpdateManager(func(*protocol.AgentCall_Update) {}, false)
	for i, st := range []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
		if _, err := before.Update(testUpdate("t1", st, byte(i+1)), path, now); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := before.Acknowledge("fw", "t1", bytes.Repeat([]byte{1}, 16), now); err != nil || !res.Matched {
		t.Fatalf("ack: %+v, %v", res, err)
	}
	before.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.WriteString("57\nU\x0a\x04")
	must(t, err)
	f.Close()

	recs, complete, err := readUpdateCheckpoint(path)
	must(t, err)
	if fi, _ := os.Stat(path); len(recs) != 4 || complete >= fi.Size() {
		t.Fatalf("%d records, %d complete bytes of %d", len(recs), complete, fi.Size())
	}
	r := replayUpdateRecords(recs)
	if got := states(r.pending); !equalStrings(got, []string{"t1:TASK_RUNNING", "t1:TASK_FINISHED"}) || !r.terminal || r.done() {
		t.Fatalf("replayed pending %v terminal %v", got, r.terminal)
	}
	if r.latestState() != mesos.TaskState_TASK_FINISHED || len(r.all) != 3 {
		t.Errorf("latest %s of %d updates", r.latestState(), len(r.all))
	}
	cutTornRecord(path, complete)

	var log sentLog
	after := newUpdateManager(log.send, false)
	after.Restore("fw", "t1", path, r)
	if dup, err := after.Update(testUpdate("t1", mesos.TaskState_TASK_RUNNING, 2), path, now); err != nil || !dup {
		t.Errorf("replayed RUNNING: duplicate %v, %v", dup, err)
	}
	after.ResendAll(now)
	if got := states(log.take()); !equalStrings(got, []string{"t1:TASK_RUNNING"}) {
		t.Fatalf("after the restore sent %v, want the RUNNING head", got)
	}
	for _, b := range []byte{2, 3} {
		if res, err := after.Acknowledge("fw", "t1", bytes.Repeat([]byte{b}, 16), now); err != nil || !res.Matched {
			t.Fatalf("ack %d: %+v, %v", b, res, err)
		}
	}
	recs, err = readUpdateRecords(path)
	if err != nil || len(recs) != 6 || !replayUpdateRecords(recs).done() {
		t.Fatalf("checkpoint after the restore: %d records, %v (want 3 updates and 3 acks, all done)", len(recs), err)
	}
}

// TestCoalesceUpdatesMergesRunsInOrder: consecutive UPDATE calls become one
// call carrying them in order, other calls stay where they were, and a
// lone update is left as it is.
func TestCoalesceUpdatesMergesRunsInOrder(t *testing.T) {
	update := func(task string) *protocol.AgentCall {
		return &protocol.AgentCall{Type: protocol.AgentCall_UPDATE.Enum(), Update: &protocol.AgentCall_Update{
			Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: mesos.TaskState_TASK_RUNNING.Enum()}}}
	}
	exited := &protocol.AgentCall{Type: protocol.AgentCall_EXECUTOR_EXITED.Enum()}
	got := coalesceUpdates([]*protocol.AgentCall{update("a"), update("b"), update("c"), exited, update("d")})
	if len(got) != 3 {
		t.Fatalf("%d calls, want 3: %v", len(got), got)
	}
	var batched []string
	for _, u := range got[0].GetUpdates() {
		batched = append(batched, u.GetStatus().GetTaskId().GetValue())
	}
	if got[0].Update != nil || strings.Join(batched, ",") != "a,b,c" {
		t.Errorf("first call %v, want updates a,b,c", got[0])
	}
	if got[1] != exited || got[2].GetUpdate().GetStatus().GetTaskId().GetValue() != "d" || len(got[2].GetUpdates()) != 0 {
		t.Errorf("then %v and %v, want EXECUTOR_EXITED and the lone update d", got[1], got[2])
	}
	many := make([]*protocol.AgentCall, maxUpdatesPerCall+1)
	for i := range many {
		many[i] = update(strconv.Itoa(i))
	}
	if got := coalesceUpdates(many); len(got) != 2 || len(got[0].GetUpdates()) != maxUpdatesPerCall {
		t.Errorf("%d updates went as %d calls", len(many), len(got))
	}
}
