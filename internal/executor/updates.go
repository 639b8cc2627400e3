package executor

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// pendingUpdate is a status update the agent has not acknowledged yet.
type pendingUpdate struct {
	update *executorv1.Call_Update
	// deliveredOn is the connection the update was last given to the agent
	// on (in SUBSCRIBE or as an UPDATE call); 0 for none yet.
	deliveredOn int
	// taken: the agent has it (its UPDATE call was answered 202, or the
	// SUBSCRIBE that carried it was answered); its ack is due.
	taken bool
}

func (p *pendingUpdate) uuid() []byte { return p.update.GetStatus().GetUuid() }

// pendingUpdates are the unacknowledged updates, oldest first: the order in
// which they are replayed in a re-SUBSCRIBE.
type pendingUpdates struct {
	list []*pendingUpdate
}

func (p *pendingUpdates) add(status *mesos.TaskStatus) *pendingUpdate {
	u := &pendingUpdate{update: &executorv1.Call_Update{Status: status}}
	p.list = append(p.list, u)
	return u
}

// ack removes the update with the given uuid, reporting whether there was
// one. Duplicate acknowledgements find nothing.
func (p *pendingUpdates) ack(uuid []byte) bool {
	for i, u := range p.list {
		if bytes.Equal(u.uuid(), uuid) {
			p.list = append(p.list[:i], p.list[i+1:]...)
			return true
		}
	}
	return false
}

// find returns the pending update with the given uuid, or nil.
func (p *pendingUpdates) find(uuid []byte) *pendingUpdate {
	for _, u := range p.list {
		if bytes.Equal(u.uuid(), uuid) {
			return u
		}
	}
	return nil
}

// updates returns the pending updates as SUBSCRIBE's unacknowledged_updates.
func (p *pendingUpdates) updates() []*executorv1.Call_Update {
	out := make([]*executorv1.Call_Update, len(p.list))
	for i, u := range p.list {
		out[i] = u.update
	}
	return out
}

// markDelivered records that every pending update went out on conn.
func (p *pendingUpdates) markDelivered(conn int) {
	for _, u := range p.list {
		u.deliveredOn = conn
	}
}

// undelivered lists, oldest first, the updates not yet given to the agent on
// conn.
func (p *pendingUpdates) undelivered(conn int) []*pendingUpdate {
	var out []*pendingUpdate
	for _, u := range p.list {
		if u.deliveredOn != conn {
			out = append(out, u)
		}
	}
	return out
}

// newUUID returns a random (version 4) UUID as the 16 raw bytes a status
// update carries.
func newUUID() []byte {
	u := make([]byte, 16)
	rand.Read(u)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// newUUIDText returns a random UUID and its canonical text form.
func newUUIDText() ([]byte, string) {
	u := newUUID()
	return u, fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// epochSeconds is t as TaskStatus.timestamp: seconds since the epoch.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / float64(time.Second)
}

// statusTemplate is what every update of this executor carries.
type statusTemplate struct {
	executorID *mesos.ExecutorID
	agentID    *mesos.AgentID
}

// status returns a new update for a task with a fresh uuid.
func (s statusTemplate) status(taskID *mesos.TaskID, state mesos.TaskState, now time.Time) *mesos.TaskStatus {
	return &mesos.TaskStatus{
		TaskId:     taskID,
		State:      state.Enum(),
		Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		ExecutorId: s.executorID,
		AgentId:    s.agentID,
		Timestamp:  proto.Float64(epochSeconds(now)),
		Uuid:       newUUID(),
	}
}
