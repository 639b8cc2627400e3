package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
)

// Status-update retry bounds (reference §4, §10).
const (
	updateRetryMin = 10 * time.Second
	updateRetryMax = 10 * time.Minute
)

// Record tags in a task.updates file. Each record is RecordIO-framed: a tag
// byte, then for an update the protobuf AgentCall.Update, for an ack the
// status uuid.
const (
	recordUpdate byte = 'U'
	recordAck    byte = 'A'
)

// updateManager is the status update manager: one FIFO stream per task.
// Every update is appended to the stream's checkpoint file before Update
// returns (so before the executor is told ACKNOWLEDGED); only a stream's head
// is in flight to the master; it is re-sent with backoff (10 s doubling to
// 10 min) until the master acknowledges its uuid; then the next is sent.
//
// Time is an input: Update, Acknowledge, Tick and ResendAll take now. The
// manager has its own lock and never calls back into the agent; send must
// not block (the agent's send queues the call).
//
// Durability: records are written with one write(2) each and, unless
// syncWrites is set, not fsynced. They survive an agent crash or restart
// (the page cache outlives the process), which is what checkpointing is for;
// a host crash loses the tail, but a host crash also kills the executors,
// so the tasks are reported lost anyway. See docs/agent-protocol.md.
type updateManager struct {
	send       func(*protocol.AgentCall_Update)
	syncWrites bool

	mu      sync.Mutex
	streams map[streamKey]*updateStream
	buf     []byte
}

type streamKey struct{ framework, task string }

type updateStream struct {
	path     string // checkpoint file; "" means not checkpointed
	file     *os.File
	pending  []*protocol.AgentCall_Update // pending[0] is in flight
	received [][]byte                     // uuids seen, for duplicates (a few per task)
	terminal bool                         // a terminal update was received
	backoff  time.Duration
	retryAt  time.Time
}

func newUpdateManager(send func(*protocol.AgentCall_Update), syncWrites bool) *updateManager {
	return &updateManager{send: send, syncWrites: syncWrites, streams: make(map[streamKey]*updateStream)}
}

// Update takes a new status update for a task: checkpoints it to path ("" =
// none), queues it, and sends it at once if the stream was idle. A
// duplicate (a uuid the stream has seen) is ignored and reported.
func (m *updateManager) Update(u *protocol.AgentCall_Update, path string, now time.Time) (duplicate bool, err error) {
	key := streamKey{u.GetFrameworkId().GetValue(), u.GetStatus().GetTaskId().GetValue()}
	uuid := u.GetStatus().GetUuid()
	if len(uuid) == 0 {
		return false, errors.New("status update without uuid")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.streams[key]
	if s == nil {
		s = &updateStream{path: path}
		m.streams[key] = s
	}
	if slices.ContainsFunc(s.received, func(seen []byte) bool { return bytes.Equal(seen, uuid) }) {
		return true, nil
	}
	if err := m.appendRecord(s, recordUpdate, u); err != nil {
		return false, err
	}
	s.received = append(s.received, uuid)
	s.pending = append(s.pending, u)
	if u.GetStatus().GetState().IsTerminal() {
		s.terminal = true
	}
	if len(s.pending) == 1 {
		m.sendHead(s, now, updateRetryMin)
	}
	return false, nil
}

// ackResult says what an acknowledgement did.
type ackResult struct {
	Matched bool // it acknowledged the stream's head
	// Done means the stream has seen a terminal update and every update is
	// now acknowledged: the stream is finished and removed.
	Done bool
	// Acked is the acknowledged update, when Matched.
	Acked *protocol.AgentCall_Update
}

// Acknowledge handles the master's ACKNOWLEDGE for a task's update. An ack
// whose uuid is not the head's (stale, duplicate, unknown) is ignored.
func (m *updateManager) Acknowledge(framework, task string, uuid []byte, now time.Time) (ackResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := streamKey{framework, task}
	s := m.streams[key]
	if s == nil || len(s.pending) == 0 || !bytes.Equal(s.pending[0].GetStatus().GetUuid(), uuid) {
		return ackResult{}, nil
	}
	if err := m.appendRawRecord(s, recordAck, uuid); err != nil {
		return ackResult{}, err
	}
	acked := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) > 0 {
		m.sendHead(s, now, updateRetryMin)
		return ackResult{Matched: true, Acked: acked}, nil
	}
	m.closeFile(s)
	done := s.terminal
	if done {
		delete(m.streams, key)
	}
	return ackResult{Matched: true, Done: done, Acked: acked}, nil
}

// Tick re-sends every head whose retry time has come, doubling its backoff.
func (m *updateManager) Tick(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams {
		if len(s.pending) > 0 && !now.Before(s.retryAt) {
			m.sendHead(s, now, min(2*s.backoff, updateRetryMax))
		}
	}
}

// ResendAll sends every stream's head now, with a fresh backoff: the agent
// calls it after each (re-)subscription.
func (m *updateManager) ResendAll(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams {
		if len(s.pending) > 0 {
			m.sendHead(s, now, updateRetryMin)
		}
	}
}

// Head returns a task's oldest unacknowledged update, or nil.
func (m *updateManager) Head(framework, task string) *protocol.AgentCall_Update {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.streams[streamKey{framework, task}]; s != nil && len(s.pending) > 0 {
		return s.pending[0]
	}
	return nil
}

// Pending reports whether the task has a stream that is not finished.
func (m *updateManager) Pending(framework, task string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.streams[streamKey{framework, task}]
	return ok
}

// Forget drops a task's stream without sending anything more (its
// framework is gone).
func (m *updateManager) Forget(framework, task string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := streamKey{framework, task}
	if s := m.streams[key]; s != nil {
		m.closeFile(s)
		delete(m.streams, key)
	}
}

// Close closes every open checkpoint file.
func (m *updateManager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.streams {
		m.closeFile(s)
	}
}

// Restore installs a stream recovered from its checkpoint (path) after an
// agent restart: its unacknowledged updates, in order, and every uuid it
// has seen, so that an executor replaying an update is answered as a
// duplicate. It sends nothing: ResendAll does, once subscribed. A finished
// stream (terminal and fully acknowledged) is not installed.
func (m *updateManager) Restore(framework, task, path string, r replayedStream) {
	if r.done() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.streams[streamKey{framework, task}] = &updateStream{
		path:     path,
		pending:  slices.Clone(r.pending),
		received: slices.Clone(r.received),
		terminal: r.terminal,
		backoff:  updateRetryMin,
	}
}

// replayedStream is a task's update stream as its checkpoint tells it.
type replayedStream struct {
	all      []*protocol.AgentCall_Update // every update, in order
	pending  []*protocol.AgentCall_Update // unacknowledged; pending[0] is the head
	received [][]byte                     // every uuid
	terminal bool
}

// done reports whether the stream is finished: a terminal update was
// received and every update is acknowledged.
func (r replayedStream) done() bool { return r.terminal && len(r.pending) == 0 }

// latestState is the state of the newest update (STAGING without any).
func (r replayedStream) latestState() mesos.TaskState {
	if len(r.all) == 0 {
		return mesos.TaskState_TASK_STAGING
	}
	return r.all[len(r.all)-1].GetStatus().GetState()
}

// replayUpdateRecords rebuilds a stream from its checkpoint records the
// way the manager built it: a duplicate uuid is ignored, an ack removes
// the head when it names the head's uuid.
func replayUpdateRecords(recs []updateRecord) replayedStream {
	var r replayedStream
	for _, rec := range recs {
		if rec.Update == nil {
			if len(r.pending) > 0 && bytes.Equal(r.pending[0].GetStatus().GetUuid(), rec.AckUUID) {
				r.pending = r.pending[1:]
			}
			continue
		}
		uuid := rec.Update.GetStatus().GetUuid()
		if slices.ContainsFunc(r.received, func(seen []byte) bool { return bytes.Equal(seen, uuid) }) {
			continue
		}
		r.received = append(r.received, uuid)
		r.all = append(r.all, rec.Update)
		r.pending = append(r.pending, rec.Update)
		r.terminal = r.terminal || rec.Update.GetStatus().GetState().IsTerminal()
	}
	return r
}

// run calls Tick every interval until ctx ends.
func (m *updateManager) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.Tick(now)
		}
	}
}

// sendHead sends the head with latest_state set to the newest state the
// stream knows, and schedules its retry.
func (m *updateManager) sendHead(s *updateStream, now time.Time, backoff time.Duration) {
	head := s.pending[0]
	latest := s.pending[len(s.pending)-1].GetStatus().GetState()
	s.backoff = backoff
	s.retryAt = now.Add(backoff)
	m.send(&protocol.AgentCall_Update{
		FrameworkId: head.FrameworkId,
		Status:      head.Status,
		LatestState: latest.Enum(),
	})
}

func (m *updateManager) appendRecord(s *updateStream, tag byte, u *protocol.AgentCall_Update) error {
	if s.path == "" {
		return nil
	}
	payload, err := proto.MarshalOptions{}.MarshalAppend([]byte{tag}, &protocol.AgentCall_Update{
		FrameworkId: u.FrameworkId, Status: u.Status,
	})
	if err != nil {
		return fmt.Errorf("encoding status update: %w", err)
	}
	return m.write(s, payload)
}

func (m *updateManager) appendRawRecord(s *updateStream, tag byte, data []byte) error {
	if s.path == "" {
		return nil
	}
	return m.write(s, append([]byte{tag}, data...))
}

// write appends one framed record to the stream's file, opening it (and
// its directory) on first use.
func (m *updateManager) write(s *updateStream, payload []byte) error {
	if s.file == nil {
		f, err := openAppend(s.path)
		if err != nil {
			return fmt.Errorf("checkpointing status update: %w", err)
		}
		s.file = f
	}
	m.buf = recordio.Append(m.buf[:0], payload)
	if _, err := s.file.Write(m.buf); err != nil {
		return fmt.Errorf("checkpointing status update to %s: %w", s.path, err)
	}
	if m.syncWrites {
		if err := s.file.Sync(); err != nil {
			return fmt.Errorf("syncing %s: %w", s.path, err)
		}
	}
	return nil
}

func (m *updateManager) closeFile(s *updateStream) {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

func openAppend(path string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_APPEND | os.O_CREATE
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(path, flags, 0o600)
	}
	return f, err
}

// updateRecord is one record of a task.updates file.
type updateRecord struct {
	Update  *protocol.AgentCall_Update // set for an update record
	AckUUID []byte                     // set for an ack record
}

// readUpdateRecords reads a task.updates checkpoint. A torn final record
// (the agent died mid-write) ends the list without an error.
func readUpdateRecords(path string) ([]updateRecord, error) {
	recs, _, err := readUpdateCheckpoint(path)
	return recs, err
}

// readUpdateCheckpoint reads a task.updates checkpoint and also returns
// the length of its complete records: a torn final record must be cut off
// before the file is appended to again.
func readUpdateCheckpoint(path string) (out []updateRecord, complete int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := recordio.NewReader(f, 0)
	for {
		rec, err := r.ReadRecord()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return out, complete, nil
		}
		if err != nil {
			return out, complete, fmt.Errorf("reading %s: %w", path, err)
		}
		complete += int64(len(strconv.Itoa(len(rec)))+1) + int64(len(rec))
		switch rec[0] {
		case recordUpdate:
			u := &protocol.AgentCall_Update{}
			if err := proto.Unmarshal(rec[1:], u); err != nil {
				return out, complete, fmt.Errorf("reading %s: bad update record: %w", path, err)
			}
			out = append(out, updateRecord{Update: u})
		case recordAck:
			out = append(out, updateRecord{AckUUID: rec[1:]})
		default:
			return out, complete, fmt.Errorf("reading %s: unknown record tag %q", path, rec[0])
		}
	}
}
