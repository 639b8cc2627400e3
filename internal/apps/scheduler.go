package apps

import (
	"context"
	"net"
	"strconv"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/client/scheduler"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// onEvent receives the scheduler stream on the client's goroutine and
// hands each event to the loop, in order.
func (f *Framework) onEvent(ctx context.Context, ev *sched.Event) {
	switch ev.GetType() {
	case sched.Event_SUBSCRIBED:
		f.post(func() { f.onSubscribed(ctx, ev.GetSubscribed()) })
	case sched.Event_OFFERS:
		f.post(func() { f.onOffers(ev.GetOffers().GetOffers()) })
	case sched.Event_UPDATE:
		f.post(func() { f.onUpdate(ev.GetUpdate().GetStatus()) })
	case sched.Event_MESSAGE:
		m := ev.GetMessage()
		f.post(func() {
			h := f.hdr(marathon.EventFrameworkMessage)
			f.publish(h.EventType, map[string]any{"eventType": h.EventType, "timestamp": h.Timestamp,
				"executorId": m.GetExecutorId().GetValue(), "slaveId": m.GetAgentId().GetValue(), "message": string(m.GetData())})
		})
	case sched.Event_ERROR:
		f.log.Error("master sent ERROR", "message", ev.GetError().GetMessage())
		f.post(func() {
			f.subscribed = false
			f.publish(marathon.EventSchedulerDisconnected, marathon.SchedulerEvent{EventHeader: f.hdr(marathon.EventSchedulerDisconnected)})
		})
	}
}

// onSubscribed persists a new framework ID, then reconciles: explicitly
// for every known task, then implicitly for the ones the master has and
// the framework does not (reference §4.10).
func (f *Framework) onSubscribed(ctx context.Context, s *sched.Event_Subscribed) {
	id := s.GetFrameworkId().GetValue()
	first := f.frameworkID == ""
	if id != f.frameworkID {
		if err := f.cfg.Store.Put(ctx, nsFramework, "id", []byte(id)); err != nil {
			f.log.Error("storing the framework id failed", "error", err)
		}
		f.frameworkID = id
	}
	if mi := s.GetMasterInfo(); mi != nil {
		f.master = net.JoinHostPort(mi.GetAddress().GetIp(), strconv.Itoa(int(mi.GetAddress().GetPort())))
	}
	f.subscribed, f.suppressed, f.wantOffers = true, true, false
	f.log.Info("subscribed", "framework_id", id, "master", f.master)
	typ := marathon.EventSchedulerReregistered
	if first {
		typ = marathon.EventSchedulerRegistered
	}
	f.publish(typ, marathon.SchedulerEvent{EventHeader: f.hdr(typ), FrameworkID: id, Master: f.master})
	f.reconcile()
	f.nextReconcile = f.now().Add(f.cfg.ReconciliationInterval)
}

// reconcile asks for the state of every known task, then of all tasks.
func (f *Framework) reconcile() {
	var tasks []*sched.Call_Reconcile_Task
	for _, in := range f.instances {
		if in.TaskID == "" || in.scheduled() {
			continue
		}
		t := &sched.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: ptr(in.TaskID)}}
		if in.AgentID != "" {
			t.AgentId = &mesos.AgentID{Value: ptr(in.AgentID)}
		}
		tasks = append(tasks, t)
	}
	if len(tasks) > 0 {
		f.enqueue(call{name: "RECONCILE explicit", do: func(ctx context.Context, c *scheduler.Client) error {
			return c.Reconcile(ctx, tasks)
		}})
	}
	f.enqueue(call{name: "RECONCILE implicit", do: func(ctx context.Context, c *scheduler.Client) error {
		return c.Reconcile(ctx, nil)
	}})
}

// kill sends a KILL for the instance's task with the app's grace period.
func (f *Framework) kill(in *instance) {
	if in.TaskID == "" || in.scheduled() {
		return
	}
	taskID := &mesos.TaskID{Value: ptr(in.TaskID)}
	var agentID *mesos.AgentID
	if in.AgentID != "" {
		agentID = &mesos.AgentID{Value: ptr(in.AgentID)}
	}
	var policy *mesos.KillPolicy
	if a := f.apps[in.AppID]; a != nil && a.def.TaskKillGracePeriodSeconds != nil {
		policy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: ptr(*a.def.TaskKillGracePeriodSeconds * 1e9)}}
	}
	in.KillSentAt = f.now()
	f.markDirty(in)
	f.enqueue(call{name: "KILL " + in.TaskID, do: func(ctx context.Context, c *scheduler.Client) error {
		return c.Kill(ctx, taskID, agentID, policy)
	}})
}

// killUnknown kills a task no instance owns.
func (f *Framework) killUnknown(st *mesos.TaskStatus) {
	taskID, agentID := st.GetTaskId(), st.GetAgentId()
	f.enqueue(call{name: "KILL unknown " + taskID.GetValue(), do: func(ctx context.Context, c *scheduler.Client) error {
		return c.Kill(ctx, taskID, agentID, nil)
	}})
}

func (f *Framework) acknowledge(st *mesos.TaskStatus) {
	if len(st.GetUuid()) == 0 {
		return
	}
	f.enqueue(call{name: "ACKNOWLEDGE " + st.GetTaskId().GetValue(), do: func(ctx context.Context, c *scheduler.Client) error {
		return c.Acknowledge(ctx, st)
	}})
}

// hdr is the header of an event published now.
func (f *Framework) hdr(eventType string) marathon.EventHeader {
	return marathon.EventHeader{EventType: eventType, Timestamp: spec.FormatTime(f.now())}
}

// publish sends an event; payload embeds its header (see hdr).
func (f *Framework) publish(eventType string, payload any) { f.bus.Publish(eventType, payload) }
