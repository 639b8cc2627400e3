package cluster

import (
	"fmt"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/master"
)

// defaultSettle bounds how long stabilize waits for the cluster to settle.
const defaultSettle = 10 * time.Minute

// stabilize ends every fault (drops, cuts, delays, partitions, decline
// storms) and runs until the cluster has settled: one leader, every agent
// and framework subscribed, every update acknowledged, and every launched
// task either ended for its framework or running on its agent and known
// to the leader. A cluster that does not settle within limit breaks the
// "settled" invariant: something was lost.
func (s *Sim) stabilize(limit time.Duration) {
	s.net.faults = faults{}
	s.net.heal()
	for _, f := range s.frameworks {
		f.storm = false
	}
	s.hist.record("stabilize")
	deadline := s.step + s.steps(limit)
	for s.failure == nil {
		s.runFor(time.Second)
		problem := s.unsettled()
		if problem == "" {
			return
		}
		if s.step >= deadline {
			s.violate("settled", "not settled %s after the faults ended: %s", limit, problem)
		}
	}
}

// unsettled says why the cluster has not settled, or "".
func (s *Sim) unsettled() string {
	if s.leader == nil || !s.leader.m.IsLeading() {
		return "no leading master"
	}
	if p := s.clientsUnsettled(); p != "" {
		return p
	}
	view := s.leader.m.View()
	for _, rec := range s.oracle.order {
		if p := s.taskUnsettled(view, rec); p != "" {
			return p
		}
	}
	for _, a := range s.agents {
		if p := s.agentTasksUnsettled(view, a); p != "" {
			return p
		}
	}
	return ""
}

func (s *Sim) clientsUnsettled() string {
	for _, a := range s.agents {
		switch {
		case a.shutdown:
		case !a.subscribed():
			return a.name + " is not subscribed"
		case a.unacknowledged() > 0:
			return fmt.Sprintf("%s has %d unacknowledged updates", a.name, a.unacknowledged())
		}
	}
	for _, f := range s.frameworks {
		if f.removed {
			continue
		}
		if !f.subscribed() {
			return f.name + " is not subscribed"
		}
		for _, t := range f.order {
			if !t.ended && t.state != mesos.TaskState_TASK_RUNNING {
				return fmt.Sprintf("%s sees task %s %s", f.name, t.id, t.state)
			}
		}
	}
	return ""
}

// taskUnsettled: a task its framework has not seen end must run on its
// agent, and the leader must know it running there.
func (s *Sim) taskUnsettled(view *master.Snapshot, rec *taskRecord) string {
	if rec.ended {
		return ""
	}
	if f := s.frameworkNamed(rec.framework); f == nil || f.removed {
		return ""
	}
	state, agentID, known := taskState(view, rec.id)
	switch {
	case !known:
		return fmt.Sprintf("task %s of %s vanished: its framework has not seen it end, the leader does not know it", rec.id, rec.framework)
	case state != mesos.TaskState_TASK_RUNNING:
		return fmt.Sprintf("task %s of %s is %s at the leader", rec.id, rec.framework, state)
	}
	if a := s.agentByID(agentID); a == nil || !a.running(rec.id) {
		return fmt.Sprintf("task %s of %s is RUNNING at the leader on %s, which does not run it", rec.id, rec.framework, agentID)
	}
	return ""
}

// agentTasksUnsettled: a task an agent runs has not ended for its
// framework, and the leader knows it there.
func (s *Sim) agentTasksUnsettled(view *master.Snapshot, a *simAgent) string {
	if a.shutdown {
		return ""
	}
	for _, t := range a.sortedTasks() {
		id := t.info.GetTaskId().GetValue()
		if t.phantom || t.state.IsTerminal() {
			continue
		}
		if rec := s.oracle.tasks[id]; rec != nil && rec.ended {
			return fmt.Sprintf("%s runs task %s, which ended %s for %s", a.name, id, rec.endState, rec.framework)
		}
		if _, agentID, known := taskState(view, id); !known || agentID != a.id {
			return fmt.Sprintf("%s runs task %s, which the leader does not know there", a.name, id)
		}
	}
	return ""
}
