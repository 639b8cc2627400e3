package agent

import (
	"time"

	"google.golang.org/protobuf/proto"

	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
)

// History caps (reference §8).
const (
	maxCompletedFrameworks = 50
	maxCompletedExecutors  = 150
	maxCompletedTasks      = 200
)

// framework is a framework with executors on this agent.
type framework struct {
	id   string
	info *mesos.FrameworkInfo

	executors          map[string]*executor
	completedExecutors []*executor
	// taskExecutor finds the executor of each live task (queued, launched,
	// or terminal with updates still unacknowledged).
	taskExecutor map[string]*executor
	// removed is set by SHUTDOWN_FRAMEWORK: its tasks' update streams are
	// dropped when their executors end.
	removed bool
}

func newFramework(info *mesos.FrameworkInfo) *framework {
	return &framework{
		id:           info.GetId().GetValue(),
		info:         info,
		executors:    make(map[string]*executor),
		taskExecutor: make(map[string]*executor),
	}
}

func (f *framework) partitionAware() bool {
	for _, c := range f.info.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_PARTITION_AWARE {
			return true
		}
	}
	return false
}

// executorState is an executor's lifecycle:
//
//	registering ──SUBSCRIBE──▶ running ──SHUTDOWN/kill──▶ terminating
//	     │                        │                           │
//	     └──── process exits ─────┴───────────────────────────┴──▶ terminated
type executorState int

const (
	executorRegistering executorState = iota
	executorRunning
	executorTerminating
	executorTerminated
)

func (s executorState) String() string {
	return [...]string{"REGISTERING", "RUNNING", "TERMINATING", "TERMINATED"}[s]
}

// termination says why the agent ended an executor; it picks the state and
// reason of the tasks that were still live.
type termination struct {
	state   mesos.TaskState
	reason  mesos.TaskStatus_Reason
	message string
}

// executor is one executor run (one container).
type executor struct {
	id          string
	fw          *framework
	info        *mesos.ExecutorInfo
	command     bool // generated for a command task
	containerID string
	directory   string // the sandbox
	metaRun     string // checkpoint directory of this run; "" = not checkpointed
	user        string
	state       executorState
	pid         int
	launchedAt  time.Time
	exitStatus  string

	queued         []*task          // waiting for SUBSCRIBE, in arrival order
	launched       map[string]*task // delivered (or terminal)
	completedTasks []*task

	conn *executorConn // nil when not subscribed or disconnected
	// recovering is set for an executor re-adopted after an agent restart
	// until it re-subscribes or ends (recovery.go).
	recovering bool
	// runEnded is set once forked.pid is emptied (markRunEnded).
	runEnded bool
	// cause is set when the agent decided to end the executor.
	cause         *termination
	regTimer      *time.Timer
	shutdownTimer *time.Timer
}

// task is a task on this agent.
type task struct {
	info     *mesos.TaskInfo
	group    *mesos.TaskGroupInfo // its LAUNCH_GROUP; nil for other tasks
	state    mesos.TaskState
	statuses []*mesos.TaskStatus
}

// updatesFile is a task's task.updates checkpoint ("" when the framework
// does not checkpoint).
func (e *executor) updatesFile(taskID string) string {
	if e.metaRun == "" {
		return ""
	}
	return taskUpdatesFile(e.metaRun, taskID)
}

func (e *executor) task(id string) (t *task, queued bool) {
	if t := e.launched[id]; t != nil {
		return t, false
	}
	for _, t := range e.queued {
		if t.info.GetTaskId().GetValue() == id {
			return t, true
		}
	}
	return nil, false
}

func (e *executor) dequeue(id string) {
	for i, t := range e.queued {
		if t.info.GetTaskId().GetValue() == id {
			e.queued = append(e.queued[:i], e.queued[i+1:]...)
			return
		}
	}
}

// liveTasks counts queued tasks and launched tasks not yet terminal.
func (e *executor) liveTasks() int {
	n := len(e.queued)
	for _, t := range e.launched {
		if !t.state.IsTerminal() {
			n++
		}
	}
	return n
}

// executorConn is a subscribed executor's event stream.
type executorConn struct {
	out *apihttp.Outbox[*executorpb.Event]
}

func (c *executorConn) send(ev *executorpb.Event) { c.out.Put(ev) }

// appendCapped appends v and drops the oldest entries beyond max. A full
// list shifts in place: a finished executor or task must not cost a copy of
// the whole history.
func appendCapped[T any](list []T, v T, max int) []T {
	if len(list) < max {
		return append(list, v)
	}
	n := copy(list, list[len(list)-max+1:])
	clear(list[n:])
	list = list[:n]
	return append(list, v)
}

// toTask is the mesos.v1.Task view of a task, for re-subscription.
func (t *task) toTask(fw *framework, ex *executor, agentID string) *mesos.Task {
	out := &mesos.Task{
		Name:        t.info.Name,
		TaskId:      t.info.TaskId,
		FrameworkId: fw.info.Id,
		AgentId:     &mesos.AgentID{Value: proto.String(agentID)},
		State:       t.state.Enum(),
		Resources:   t.info.Resources,
		Statuses:    t.statuses,
		Labels:      t.info.Labels,
		Discovery:   t.info.Discovery,
		Container:   t.info.Container,
		HealthCheck: t.info.HealthCheck,
		KillPolicy:  t.info.KillPolicy,
		Limits:      t.info.Limits,
	}
	if !ex.command {
		out.ExecutorId = ex.info.ExecutorId
	}
	if ex.user != "" {
		out.User = proto.String(ex.user)
	}
	return out
}
