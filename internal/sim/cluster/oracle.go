package cluster

import (
	"encoding/hex"
	"maps"
	"slices"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// oracle keeps what the simulated clients saw, to check the invariants
// that are about deliveries: no offer delivered twice, a task started at
// most once and ended at most once, acknowledged updates never new again.
type oracle struct {
	s      *Sim
	tasks  map[string]*taskRecord // by task ID (unique across frameworks)
	order  []*taskRecord          // launch order
	offers map[string]string      // offer ID → the framework it went to
}

// taskRecord is one launched task as its framework and its agent saw it.
type taskRecord struct {
	id, framework string
	agent         string // the agent that started it
	ended         bool
	endState      mesos.TaskState
	// uuids maps each status update's uuid to its state; acked holds the
	// uuids the framework acknowledged.
	uuids map[string]mesos.TaskState
	acked map[string]bool
}

func newOracle(s *Sim) *oracle {
	return &oracle{s: s, tasks: map[string]*taskRecord{}, offers: map[string]string{}}
}

// offersDelivered: a framework received offers.
func (o *oracle) offersDelivered(framework string, offers []*mesos.Offer) {
	for _, offer := range offers {
		id := offer.GetId().GetValue()
		if prev, seen := o.offers[id]; seen {
			o.s.violate("offers", "offer %s delivered to %s was already delivered to %s", id, framework, prev)
			continue
		}
		o.offers[id] = framework
		o.s.stats.Offers++
	}
}

// taskLaunched: a framework put a task in an ACCEPT.
func (o *oracle) taskLaunched(framework, id string) {
	rec := &taskRecord{id: id, framework: framework, uuids: map[string]mesos.TaskState{}, acked: map[string]bool{}}
	o.tasks[id] = rec
	o.order = append(o.order, rec)
}

// taskStarted: an agent received RUN_TASK.
func (o *oracle) taskStarted(agent, id string) {
	rec := o.tasks[id]
	switch {
	case rec == nil:
		o.s.violate("tasks", "%s was asked to run task %s, which no framework launched", agent, id)
	case rec.agent != "":
		o.s.violate("tasks", "task %s was started twice: on %s, then on %s", id, rec.agent, agent)
	default:
		rec.agent = agent
	}
}

// updateDelivered checks a status update as its framework receives it.
func (o *oracle) updateDelivered(framework string, status *mesos.TaskStatus) {
	id, state := status.GetTaskId().GetValue(), status.GetState()
	rec := o.tasks[id]
	if rec == nil {
		return // not launched by a simulated framework
	}
	if rec.framework != framework {
		o.s.violate("tasks", "%s got an update for task %s of %s", framework, id, rec.framework)
		return
	}
	if uuid := status.GetUuid(); len(uuid) > 0 {
		o.checkUUID(rec, hex.EncodeToString(uuid), state)
	}
	if state == mesos.TaskState_TASK_UNREACHABLE {
		o.s.stats.Unreachable++
	}
	if state == mesos.TaskState_TASK_LOST {
		o.s.stats.TaskLost++
	}
	switch {
	case rec.ended && state != rec.endState && !unknownToMaster(status):
		o.s.violate("tasks", "task %s of %s ended %s, then was reported %s (%s: %s)",
			id, framework, rec.endState, state, status.GetReason(), status.GetMessage())
	case !rec.ended && state.IsTerminal():
		rec.ended, rec.endState = true, state
	}
}

// unknownToMaster is a reconciliation answer saying the master does not
// know the task (any more): it may race the task's terminal update, which
// the master forgets once sent (reference §4), so it does not end the task
// a second time.
func unknownToMaster(status *mesos.TaskStatus) bool {
	state := status.GetState()
	return status.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION &&
		(state == mesos.TaskState_TASK_UNKNOWN || state == mesos.TaskState_TASK_GONE ||
			state == mesos.TaskState_TASK_GONE_BY_OPERATOR || state == mesos.TaskState_TASK_LOST)
}

// checkUUID: a uuid names one update; an acknowledged update may come
// again only as itself.
func (o *oracle) checkUUID(rec *taskRecord, uuid string, state mesos.TaskState) {
	if prev, seen := rec.uuids[uuid]; seen {
		if prev != state {
			o.s.violate("acks", "task %s: update %s came as %s, then as %s", rec.id, uuid[:8], prev, state)
		}
		o.s.stats.Duplicates++
		if rec.acked[uuid] {
			o.s.stats.AckedDuplicates++
		}
		return
	}
	for _, u := range slices.Sorted(maps.Keys(rec.uuids)) {
		if rec.uuids[u] == state && rec.acked[u] {
			o.s.violate("acks", "task %s: %s was acknowledged (update %s) and delivered again as new (update %s)",
				rec.id, state, u[:8], uuid[:8])
			return
		}
	}
	rec.uuids[uuid] = state
}

// acknowledged: a framework acknowledged an update.
func (o *oracle) acknowledged(status *mesos.TaskStatus) {
	if rec := o.tasks[status.GetTaskId().GetValue()]; rec != nil {
		rec.acked[hex.EncodeToString(status.GetUuid())] = true
	}
}

// counts summarises the records for `expect`.
func (o *oracle) count(framework string, pred func(*taskRecord) bool) int {
	n := 0
	for _, rec := range o.order {
		if (framework == "" || rec.framework == framework) && pred(rec) {
			n++
		}
	}
	return n
}
