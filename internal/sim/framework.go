package sim

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agoraproject/agora/api/wire"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/client/scheduler"
)

// Framework is a benchmark framework on client/scheduler: it launches
// tasks of a fixed size on every offer until it has launched its quota
// (relaunching finished ones when Replace is set), acknowledges every
// update, and records ACCEPT → TASK_RUNNING latencies.
type Framework struct {
	Name    string
	Target  int // tasks to have launched (running at once, with Replace)
	Replace bool
	CPUs    float64
	Mem     float64
	// MaxInFlight bounds the tasks launched and not yet running (0: no
	// bound): the latency of a paced launch rather than of one burst.
	MaxInFlight int
	// TaskDuration, when set, is how long the simulated agents run this
	// framework's tasks (else the agents' own TaskDuration).
	TaskDuration time.Duration

	client *scheduler.Client
	acks   chan *mesos.TaskStatus
	offers chan []*mesos.Offer

	mu        sync.Mutex
	next      int
	accepted  map[string]time.Time // task ID → when its ACCEPT was sent
	latencies []time.Duration
	live      int // launched and not ended

	offered, running, finished, lost atomic.Int64
	subscribed                       atomic.Int64
	suppressed                       atomic.Bool
	firstAccept, lastRunning         atomic.Int64 // unix nanos
}

// Start subscribes the framework and runs it until ctx ends.
func (f *Framework) Start(ctx context.Context, masters []string) error {
	info := &mesos.FrameworkInfo{User: proto.String("bench"), Name: proto.String(f.Name),
		FailoverTimeout: proto.Float64(3600), Checkpoint: proto.Bool(true)}
	c, err := scheduler.New(scheduler.Config{Masters: masters, Framework: info,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, Encoding: wire.Protobuf,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	f.client, f.accepted, f.acks = c, map[string]time.Time{}, make(chan *mesos.TaskStatus, 4096)
	f.offers = make(chan []*mesos.Offer, 1024)
	// Offers are used off the event goroutine, so that updates are seen
	// (and latencies measured) when they arrive, not after a burst of
	// offers has been answered.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case batch := <-f.offers:
				for _, o := range batch {
					f.useOffer(ctx, o)
				}
			}
		}
	}()
	for range 8 { // acknowledgements go out concurrently
		go func() {
			for st := range f.acks {
				c.Acknowledge(ctx, st)
			}
		}()
	}
	go func() {
		c.Run(ctx, f)
		close(f.acks)
	}()
	return nil
}

// Subscribed is closed once the framework is subscribed.
func (f *Framework) Subscribed() <-chan struct{} { return f.client.Subscribed() }

// HandleEvent implements scheduler.Handler.
func (f *Framework) HandleEvent(ctx context.Context, ev *sched.Event) {
	switch ev.GetType() {
	case sched.Event_SUBSCRIBED:
		f.subscribed.Add(1)
	case sched.Event_OFFERS:
		f.offered.Add(int64(len(ev.GetOffers().GetOffers())))
		f.offers <- ev.GetOffers().GetOffers()
	case sched.Event_UPDATE:
		f.update(ev.GetUpdate().GetStatus())
	}
}

func (f *Framework) useOffer(ctx context.Context, o *mesos.Offer) {
	var cpus, mem float64
	for _, r := range o.GetResources() {
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	now := time.Now()
	f.mu.Lock()
	var tasks []*mesos.TaskInfo
	for cpus >= f.CPUs-1e-9 && mem >= f.Mem && f.live < f.Target && (f.Replace || f.next < f.Target) &&
		(f.MaxInFlight == 0 || len(f.accepted) < f.MaxInFlight) {
		id := f.Name + "-" + strconv.Itoa(f.next)
		f.next++
		f.live++
		cpus, mem = cpus-f.CPUs, mem-f.Mem
		f.accepted[id] = now
		task := &mesos.TaskInfo{
			Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)}, AgentId: o.GetAgentId(),
			Resources: []*mesos.Resource{scalar("cpus", f.CPUs), scalar("mem", f.Mem)},
			Command:   &mesos.CommandInfo{Value: proto.String("true")},
		}
		if f.TaskDuration > 0 {
			task.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String(durationLabel), Value: proto.String(f.TaskDuration.String())}}}
		}
		tasks = append(tasks, task)
	}
	full := f.live >= f.Target && !f.Replace
	paced := f.MaxInFlight > 0 && len(f.accepted) >= f.MaxInFlight
	f.mu.Unlock()
	if len(tasks) == 0 && paced && !full {
		f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(1)})
		return
	}
	if len(tasks) == 0 {
		// As a well-behaved framework: refuse the agent for a while, and
		// stop offers altogether once nothing more is wanted.
		f.client.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(60)})
		if full && f.suppressed.CompareAndSwap(false, true) {
			f.client.Suppress(ctx)
		}
		return
	}
	f.firstAccept.CompareAndSwap(0, now.UnixNano())
	f.client.Launch(ctx, o.GetId(), tasks, &mesos.Filters{RefuseSeconds: proto.Float64(0)})
}

func (f *Framework) update(st *mesos.TaskStatus) {
	now := time.Now()
	id := st.GetTaskId().GetValue()
	f.mu.Lock()
	switch {
	case st.GetState() == mesos.TaskState_TASK_RUNNING:
		if t, ok := f.accepted[id]; ok {
			f.latencies = append(f.latencies, now.Sub(t))
			delete(f.accepted, id)
			f.running.Add(1)
			f.lastRunning.Store(now.UnixNano())
		}
	case st.GetState().IsTerminal():
		f.live--
		delete(f.accepted, id)
		if st.GetState() == mesos.TaskState_TASK_FINISHED {
			f.finished.Add(1)
		} else {
			f.lost.Add(1)
		}
	}
	f.mu.Unlock()
	if len(st.GetUuid()) > 0 {
		f.acks <- st
	}
}

// subscriptions counts SUBSCRIBED events (re-subscriptions included).
func (f *Framework) subscriptions() int64 { return f.subscribed.Load() }

// Latencies returns the ACCEPT → TASK_RUNNING latencies so far.
func (f *Framework) Latencies() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.latencies...)
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}
