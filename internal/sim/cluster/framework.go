package cluster

import (
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/resources"
)

// killRetry is how often a framework repeats a KILL that has not ended
// its task yet.
const killRetry = 10 * time.Second

// frameworkOptions shape one simulated framework (the `frameworks` verb).
type frameworkOptions struct {
	tasks           int           // tasks to keep running, or to finish
	cpus, mem       float64       // each task's resources
	duration        time.Duration // how long a task runs; 0: until killed
	role            string
	refuse          time.Duration // refuse_seconds when declining
	ackDelay        time.Duration // wait before acknowledging an update
	failoverTimeout time.Duration
	reconcile       time.Duration // explicit reconciliation period
}

func defaultFrameworkOptions() frameworkOptions {
	return frameworkOptions{cpus: 0.5, mem: 128, role: "*", refuse: 5 * time.Second,
		failoverTimeout: 7 * 24 * time.Hour, reconcile: 30 * time.Second}
}

// simFramework is a simulated scheduler. It wants opts.tasks tasks: it
// launches them on offers, replaces those that end other than FINISHED,
// declines what it does not need, acknowledges every update, reconciles
// its unfinished tasks periodically, and re-subscribes with its ID after a
// failover. Its tasks are its persistent store: they survive a failover.
type simFramework struct {
	process
	opts    frameworkOptions
	taskRes []*mesos.Resource
	id      string
	removed bool // the master refused it for good
	wanted  int
	next    int
	tasks   map[string]*fwTask
	order   []*fwTask // launch order
	storm   bool      // decline everything at once, refuse_seconds 0
	idle    bool      // declined with nothing to launch: revive when need returns
}

type fwTask struct {
	id, agentID string
	state       mesos.TaskState
	ended       bool
	killing     bool
}

func (s *Sim) addFrameworks(n int, opts frameworkOptions) error {
	res, err := resources.Parse(fmt.Sprintf("cpus:%g;mem:%g", opts.cpus, opts.mem), "*")
	if err != nil {
		return fmt.Errorf("cluster: task resources: %w", err)
	}
	for range n {
		f := &simFramework{opts: opts, taskRes: res.ToProto(resources.PreRefinement), wanted: opts.tasks, tasks: map[string]*fwTask{}}
		f.init(s, fmt.Sprintf("fw-%d", len(s.frameworks)+1), heartbeatInterval)
		f.subscribe, f.connected = f.sendSubscribe, f.reconcileNow
		s.frameworks = append(s.frameworks, f)
		f.run()
	}
	return nil
}

// run starts the framework process and its periodic work.
func (f *simFramework) run() {
	f.start()
	f.after(f.opts.reconcile, f.reconcileLoop)
	f.after(killRetry, f.killLoop)
}

func (f *simFramework) info() *mesos.FrameworkInfo {
	info := &mesos.FrameworkInfo{
		User:            proto.String("sim"),
		Name:            proto.String(f.name),
		FailoverTimeout: proto.Float64(f.opts.failoverTimeout.Seconds()),
		Checkpoint:      proto.Bool(true),
		Role:            proto.String(f.opts.role),
		Capabilities: []*mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
		},
	}
	if f.id != "" {
		info.Id = &mesos.FrameworkID{Value: proto.String(f.id)}
	}
	return info
}

func (f *simFramework) sendSubscribe(to string, attempt int) {
	info := f.info()
	call := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE.Enum(), FrameworkId: info.Id,
		Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: info}}
	inc := f.inc
	f.s.net.send(f.name, to, "SUBSCRIBE", call, func() {
		f.s.subscribeAt(to, &f.process, inc, attempt, false, func(mn *masterNode, st *stream) error {
			return mn.m.Subscribe(call, st.fwConn, st.id)
		})
	})
}

// call sends a call on the current stream; without one it is lost, as a
// POST to a master that is gone would be.
func (f *simFramework) call(call *scheduler.Call) {
	if !f.subscribed() {
		return
	}
	call.FrameworkId = &mesos.FrameworkID{Value: proto.String(f.id)}
	to, streamID, inc := f.master, f.stream.id, f.inc
	planted := f.s.opts.KeepAcceptedOffers && call.GetType() == scheduler.Call_ACCEPT
	f.s.net.send(f.name, to, call.GetType().String(), call, func() {
		f.s.callAt(to, &f.process, inc, streamID, func(mn *masterNode) error {
			if planted {
				_, err := mn.m.AcceptKeepingOffers(call, streamID)
				return err
			}
			_, err := mn.m.Call(call, streamID)
			return err
		})
	})
}

func (f *simFramework) onEvent(_ *stream, ev *scheduler.Event) {
	f.heard(false)
	switch ev.GetType() {
	case scheduler.Event_SUBSCRIBED:
		f.id = ev.GetSubscribed().GetFrameworkId().GetValue()
		f.heard(true)
	case scheduler.Event_OFFERS:
		offers := ev.GetOffers().GetOffers()
		f.s.oracle.offersDelivered(f.name, offers)
		for _, o := range offers {
			f.useOffer(o)
		}
	case scheduler.Event_UPDATE:
		f.onUpdate(ev.GetUpdate().GetStatus())
	case scheduler.Event_ERROR:
		if strings.Contains(ev.GetError().GetMessage(), "removed") {
			f.s.hist.record(f.name + " removed by the master")
			f.removed = true
			f.stop()
			return
		}
		f.drop()
	}
}

// needed is how many more tasks to launch.
func (f *simFramework) needed() int {
	n := f.wanted
	for _, t := range f.order {
		if !t.ended || t.state == mesos.TaskState_TASK_FINISHED {
			n--
		}
	}
	return max(n, 0)
}

// useOffer launches what is needed and fits, or declines.
func (f *simFramework) useOffer(o *mesos.Offer) {
	if f.storm {
		f.decline(o, 0)
		return
	}
	n := min(f.needed(), f.fits(o))
	if n == 0 {
		f.idle = f.needed() == 0
		f.decline(o, f.opts.refuse)
		return
	}
	var infos []*mesos.TaskInfo
	for range n {
		infos = append(infos, f.newTask(o.GetAgentId()))
	}
	f.call(&scheduler.Call{Type: scheduler.Call_ACCEPT.Enum(), Accept: &scheduler.Call_Accept{
		OfferIds: []*mesos.OfferID{o.GetId()},
		Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesos.Offer_Operation_Launch{TaskInfos: infos}}},
	}})
}

// fits is how many of the framework's tasks fit in an offer.
func (f *simFramework) fits(o *mesos.Offer) int {
	var cpus, mem float64
	for _, r := range o.GetResources() {
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	return int(math.Floor(min(cpus/f.opts.cpus, mem/f.opts.mem) + 1e-9))
}

func (f *simFramework) newTask(agentID *mesos.AgentID) *mesos.TaskInfo {
	id := fmt.Sprintf("%s-t%d", f.name, f.next)
	f.next++
	t := &fwTask{id: id, agentID: agentID.GetValue(), state: mesos.TaskState_TASK_STAGING}
	f.tasks[id] = t
	f.order = append(f.order, t)
	f.s.oracle.taskLaunched(f.name, id)
	cmd := "sleep infinity"
	if f.opts.duration > 0 {
		cmd = fmt.Sprintf("sleep %g", f.opts.duration.Seconds())
	}
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   agentID,
		Resources: f.taskRes,
		Command:   &mesos.CommandInfo{Shell: proto.Bool(true), Value: proto.String(cmd)},
	}
}

func (f *simFramework) decline(o *mesos.Offer, refuse time.Duration) {
	f.s.stats.Declines++
	f.call(&scheduler.Call{Type: scheduler.Call_DECLINE.Enum(), Decline: &scheduler.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()},
		Filters:  &mesos.Filters{RefuseSeconds: proto.Float64(refuse.Seconds())},
	}})
}

func (f *simFramework) onUpdate(status *mesos.TaskStatus) {
	f.s.oracle.updateDelivered(f.name, status)
	if t := f.tasks[status.GetTaskId().GetValue()]; t != nil && !t.ended {
		t.state = status.GetState()
		t.ended = t.state.IsTerminal()
		if id := status.GetAgentId().GetValue(); id != "" {
			t.agentID = id
		}
	}
	if uuid := status.GetUuid(); len(uuid) > 0 {
		if f.opts.ackDelay > 0 {
			f.after(f.opts.ackDelay, func() { f.acknowledge(status) })
		} else {
			f.acknowledge(status)
		}
	}
	if f.idle && f.needed() > 0 {
		f.idle = false
		f.call(&scheduler.Call{Type: scheduler.Call_REVIVE.Enum()})
	}
}

func (f *simFramework) acknowledge(status *mesos.TaskStatus) {
	if !f.subscribed() {
		return // the agent will send it again
	}
	f.s.oracle.acknowledged(status)
	f.call(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE.Enum(), Acknowledge: &scheduler.Call_Acknowledge{
		AgentId: status.GetAgentId(),
		TaskId:  status.GetTaskId(),
		Uuid:    status.GetUuid(),
	}})
}

// reconcileNow asks about every task not known to have ended.
func (f *simFramework) reconcileNow() {
	var tasks []*scheduler.Call_Reconcile_Task
	for _, t := range f.order {
		if t.ended {
			continue
		}
		rt := &scheduler.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(t.id)}}
		if t.agentID != "" {
			rt.AgentId = &mesos.AgentID{Value: proto.String(t.agentID)}
		}
		tasks = append(tasks, rt)
	}
	if len(tasks) > 0 {
		f.call(&scheduler.Call{Type: scheduler.Call_RECONCILE.Enum(), Reconcile: &scheduler.Call_Reconcile{Tasks: tasks}})
	}
}

func (f *simFramework) reconcileLoop() {
	f.reconcileNow()
	f.after(f.opts.reconcile, f.reconcileLoop)
}

// kill asks the master to kill n of the framework's running tasks; the
// framework then wants n fewer.
func (f *simFramework) kill(n int) {
	for _, t := range f.order {
		if n == 0 {
			return
		}
		if !t.ended && !t.killing && t.state == mesos.TaskState_TASK_RUNNING {
			t.killing = true
			f.wanted--
			n--
			f.sendKill(t)
		}
	}
}

func (f *simFramework) sendKill(t *fwTask) {
	f.call(&scheduler.Call{Type: scheduler.Call_KILL.Enum(), Kill: &scheduler.Call_Kill{
		TaskId:  &mesos.TaskID{Value: proto.String(t.id)},
		AgentId: &mesos.AgentID{Value: proto.String(t.agentID)},
	}})
}

func (f *simFramework) killLoop() {
	for _, t := range f.order {
		if t.killing && !t.ended {
			f.sendKill(t)
		}
	}
	f.after(killRetry, f.killLoop)
}

// failover restarts the scheduler process: it re-subscribes with its ID
// after down, keeping what it persisted (its ID and tasks).
func (f *simFramework) failover(down time.Duration) {
	if f.removed {
		return
	}
	if f.up {
		f.stop()
	}
	f.s.clock.After(down, func() {
		if !f.up && !f.removed {
			f.run()
		}
	})
}

// count reports how many of the framework's tasks the framework believes
// are in state.
func (f *simFramework) count(state mesos.TaskState) int {
	n := 0
	for _, t := range f.order {
		if t.state == state {
			n++
		}
	}
	return n
}
