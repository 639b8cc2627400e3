package cluster

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

// Status update retries (docs/agent-protocol.md): the head of a task's
// stream is re-sent after 10 s, 20 s, 40 s ... at most 10 min apart.
const (
	updateRetryMin = 10 * time.Second
	updateRetryMax = 10 * time.Minute
)

// simAgent is a simulated agent with a fake containerizer: a task runs as
// soon as RUN_TASK arrives and finishes after the time its command sleeps
// ("sleep 30"; "sleep infinity" never ends). Its tasks, their unacknowledged
// updates and its agent ID are its checkpoint: they survive a restart.
type simAgent struct {
	process
	hostname  string
	ip        string
	resources []*mesos.Resource
	id        string
	shutdown  bool // the master told it to stop for good

	frameworks map[string]*mesos.FrameworkInfo
	tasks      map[string]*agentTask // by framework ID + "/" + task ID
}

// agentTask is a task on an agent and its status update stream.
type agentTask struct {
	key         string
	frameworkID string
	info        *mesos.TaskInfo
	state       mesos.TaskState // latest
	phantom     bool            // the answer to a kill of an unknown task
	queue       []*mesos.TaskStatus
	retry       *Timer
	backoff     time.Duration
	finish      *Timer
}

func (s *Sim) addAgents(n int, res string) error {
	parsed, err := resources.Parse(res, "*")
	if err != nil {
		return fmt.Errorf("cluster: agent resources %q: %w", res, err)
	}
	for range n {
		i := len(s.agents) + 1
		a := &simAgent{
			hostname:   fmt.Sprintf("agent-%d", i),
			ip:         fmt.Sprintf("10.1.%d.%d", i/250, i%250+1),
			resources:  parsed.ToProto(resources.Endpoint),
			frameworks: map[string]*mesos.FrameworkInfo{},
			tasks:      map[string]*agentTask{},
		}
		a.init(s, a.hostname, agentPingInterval)
		a.subscribe, a.connected = a.sendSubscribe, a.resendHeads
		s.agents = append(s.agents, a)
		a.start()
	}
	return nil
}

func (a *simAgent) sendSubscribe(to string, attempt int) {
	call := a.subscribeCall()
	inc := a.inc
	a.s.net.send(a.name, to, "SUBSCRIBE", call, func() {
		a.s.subscribeAt(to, &a.process, inc, attempt, true, func(mn *masterNode, st *stream) error {
			return mn.m.AgentSubscribe(call, a.ip, st.agentConn, st.id)
		})
	})
}

// subscribeCall is SUBSCRIBE with everything the agent still runs.
func (a *simAgent) subscribeCall() *protocol.AgentCall {
	info := &mesos.AgentInfo{Hostname: proto.String(a.hostname), Port: proto.Int32(5051), Resources: a.resources}
	if a.id != "" {
		info.Id = &mesos.AgentID{Value: proto.String(a.id)}
	}
	sub := &protocol.AgentCall_Subscribe{
		AgentInfo: info,
		Address:   &mesos.Address{Ip: proto.String(a.ip), Port: proto.Int32(5051)},
	}
	withTasks := map[string]bool{}
	for _, t := range a.sortedTasks() {
		if t.phantom {
			continue
		}
		withTasks[t.frameworkID] = true
		sub.Tasks = append(sub.Tasks, a.taskProto(t))
	}
	for _, fid := range slices.Sorted(maps.Keys(withTasks)) {
		sub.Frameworks = append(sub.Frameworks, a.frameworks[fid])
	}
	return &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: sub}
}

func (a *simAgent) taskProto(t *agentTask) *mesos.Task {
	task := &mesos.Task{
		Name:        t.info.Name,
		TaskId:      t.info.TaskId,
		FrameworkId: &mesos.FrameworkID{Value: proto.String(t.frameworkID)},
		AgentId:     &mesos.AgentID{Value: proto.String(a.id)},
		State:       t.state.Enum(),
		Resources:   t.info.Resources,
	}
	if len(t.queue) > 0 {
		task.StatusUpdateState = t.queue[0].State
		task.StatusUpdateUuid = t.queue[0].Uuid
		task.Statuses = []*mesos.TaskStatus{t.queue[len(t.queue)-1]}
	}
	return task
}

func (a *simAgent) sortedTasks() []*agentTask {
	keys := slices.Sorted(maps.Keys(a.tasks))
	out := make([]*agentTask, len(keys))
	for i, k := range keys {
		out[i] = a.tasks[k]
	}
	return out
}

// onEvent handles an event on the agent's current stream.
func (a *simAgent) onEvent(_ *stream, ev *protocol.AgentEvent) {
	a.heard(false)
	switch ev.GetType() {
	case protocol.AgentEvent_SUBSCRIBED:
		a.id = ev.GetSubscribed().GetAgentId().GetValue()
		a.heard(true)
	case protocol.AgentEvent_RUN_TASK:
		a.runTask(ev.GetRunTask())
	case protocol.AgentEvent_KILL_TASK:
		k := ev.GetKillTask()
		a.killTask(k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue())
	case protocol.AgentEvent_ACKNOWLEDGE:
		a.acknowledge(ev.GetAcknowledge())
	case protocol.AgentEvent_SHUTDOWN_FRAMEWORK:
		a.killFramework(ev.GetShutdownFramework().GetFrameworkId().GetValue())
	case protocol.AgentEvent_SHUTDOWN_EXECUTOR:
		// Command executors are named after their task.
		se := ev.GetShutdownExecutor()
		a.killTask(se.GetFrameworkId().GetValue(), se.GetExecutorId().GetValue())
	case protocol.AgentEvent_UPDATE_FRAMEWORK:
		info := ev.GetUpdateFramework().GetFrameworkInfo()
		a.frameworks[info.GetId().GetValue()] = info
	case protocol.AgentEvent_PING:
		a.call("PONG", &protocol.AgentCall{Type: protocol.AgentCall_PONG.Enum(),
			Pong: &protocol.AgentCall_Pong{Sequence: ev.GetPing().Sequence}})
	case protocol.AgentEvent_SHUTDOWN:
		a.s.hist.record(a.name + " shut down by the master")
		a.shutdown = true
		a.stop()
	case protocol.AgentEvent_ERROR:
		a.drop()
	}
}

// call sends a non-SUBSCRIBE call on the current stream; without one it is
// dropped (updates are re-sent after the next SUBSCRIBED).
func (a *simAgent) call(what string, call *protocol.AgentCall) {
	if !a.subscribed() {
		return
	}
	call.AgentId = &mesos.AgentID{Value: proto.String(a.id)}
	to, streamID, inc := a.master, a.stream.id, a.inc
	a.s.net.send(a.name, to, what, call, func() {
		a.s.callAt(to, &a.process, inc, streamID, func(mn *masterNode) error {
			return mn.m.AgentCall(call, streamID)
		})
	})
}

func (a *simAgent) runTask(rt *protocol.AgentEvent_RunTask) {
	fid, info := rt.GetFramework().GetId().GetValue(), rt.GetTask()
	key := fid + "/" + info.GetTaskId().GetValue()
	a.s.oracle.taskStarted(a.name, info.GetTaskId().GetValue())
	if a.tasks[key] != nil {
		return
	}
	a.frameworks[fid] = rt.GetFramework()
	t := &agentTask{key: key, frameworkID: fid, info: info, backoff: updateRetryMin}
	a.tasks[key] = t
	a.update(t, mesos.TaskState_TASK_RUNNING, mesos.TaskStatus_SOURCE_EXECUTOR, nil, "")
	if d, ok := sleepDuration(info.GetCommand().GetValue()); ok {
		// The executor's timer: it runs on whether or not the agent does.
		t.finish = a.s.clock.After(d, func() {
			if a.tasks[key] == t && !t.state.IsTerminal() && !a.shutdown {
				a.update(t, mesos.TaskState_TASK_FINISHED, mesos.TaskStatus_SOURCE_EXECUTOR, nil, "")
			}
		})
	}
}

// sleepDuration reads the fake command "sleep N" (seconds); "sleep
// infinity" and anything else run forever.
func sleepDuration(cmd string) (time.Duration, bool) {
	arg, ok := strings.CutPrefix(cmd, "sleep ")
	if !ok {
		return 0, false
	}
	secs, err := strconv.ParseFloat(arg, 64)
	if err != nil || secs < 0 || math.IsInf(secs, 0) {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

func (a *simAgent) killTask(fid, tid string) {
	key := fid + "/" + tid
	t := a.tasks[key]
	if t == nil {
		t = &agentTask{key: key, frameworkID: fid, phantom: true, backoff: updateRetryMin,
			info: &mesos.TaskInfo{TaskId: &mesos.TaskID{Value: proto.String(tid)}}}
		a.tasks[key] = t
		state := mesos.TaskState_TASK_LOST
		if partitionAware(a.frameworks[fid]) {
			state = mesos.TaskState_TASK_DROPPED
		}
		a.update(t, state, mesos.TaskStatus_SOURCE_AGENT, nil, "Attempted to kill an unknown task")
		return
	}
	if t.state.IsTerminal() {
		return
	}
	t.finish.Stop()
	a.update(t, mesos.TaskState_TASK_KILLED, mesos.TaskStatus_SOURCE_EXECUTOR, nil, "")
}

func partitionAware(info *mesos.FrameworkInfo) bool {
	for _, c := range info.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_PARTITION_AWARE {
			return true
		}
	}
	return false
}

func (a *simAgent) killFramework(fid string) {
	for _, t := range a.sortedTasks() {
		if t.frameworkID == fid && !t.state.IsTerminal() {
			t.finish.Stop()
			reason := mesos.TaskStatus_REASON_FRAMEWORK_REMOVED
			a.update(t, mesos.TaskState_TASK_KILLED, mesos.TaskStatus_SOURCE_AGENT, &reason, "")
		}
	}
}

// update appends a status update to the task's stream; it goes out at once
// if nothing is waiting ahead of it.
func (a *simAgent) update(t *agentTask, state mesos.TaskState, source mesos.TaskStatus_Source, reason *mesos.TaskStatus_Reason, msg string) {
	status := &mesos.TaskStatus{
		TaskId:    t.info.TaskId,
		State:     state.Enum(),
		Source:    source.Enum(),
		Reason:    reason,
		Uuid:      a.s.newUUID(),
		Timestamp: proto.Float64(float64(a.s.clock.Now().UnixNano()) / 1e9),
	}
	if a.id != "" {
		status.AgentId = &mesos.AgentID{Value: proto.String(a.id)}
	}
	if msg != "" {
		status.Message = proto.String(msg)
	}
	t.state = state
	t.queue = append(t.queue, status)
	if len(t.queue) == 1 {
		a.sendHead(t)
	}
}

// sendHead sends the oldest unacknowledged update and arms its retry.
func (a *simAgent) sendHead(t *agentTask) {
	t.retry.Stop()
	if len(t.queue) == 0 || !a.subscribed() {
		return
	}
	a.call("UPDATE", &protocol.AgentCall{Type: protocol.AgentCall_UPDATE.Enum(), Update: &protocol.AgentCall_Update{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(t.frameworkID)},
		Status:      t.queue[0],
		LatestState: t.state.Enum(),
	}})
	wait := t.backoff
	t.backoff = min(2*t.backoff, updateRetryMax)
	t.retry = a.after(wait, func() { a.sendHead(t) })
}

func (a *simAgent) acknowledge(ack *protocol.AgentEvent_Acknowledge) {
	t := a.tasks[ack.GetFrameworkId().GetValue()+"/"+ack.GetTaskId().GetValue()]
	if t == nil || len(t.queue) == 0 || !bytes.Equal(t.queue[0].GetUuid(), ack.GetUuid()) {
		return // stale or duplicate
	}
	head := t.queue[0]
	t.queue = t.queue[1:]
	t.retry.Stop()
	t.backoff = updateRetryMin
	if head.GetState().IsTerminal() && len(t.queue) == 0 {
		delete(a.tasks, t.key)
		return
	}
	a.sendHead(t)
}

// resendHeads runs on SUBSCRIBED: every stream's head goes out again.
func (a *simAgent) resendHeads() {
	for _, t := range a.sortedTasks() {
		t.backoff = updateRetryMin
		a.sendHead(t)
	}
}

// restart stops the agent process and starts it again after down; its
// tasks keep running meanwhile.
func (a *simAgent) restart(down time.Duration) {
	if a.shutdown {
		return
	}
	if a.up {
		a.stop()
	}
	a.s.clock.After(down, func() {
		if !a.up && !a.shutdown {
			a.start()
		}
	})
}

// unacknowledged counts updates waiting for acknowledgement.
func (a *simAgent) unacknowledged() int {
	n := 0
	for _, t := range a.tasks {
		n += len(t.queue)
	}
	return n
}

// running reports whether the agent runs task tid.
func (a *simAgent) running(tid string) bool {
	for _, t := range a.tasks {
		if t.info.GetTaskId().GetValue() == tid && !t.phantom && !t.state.IsTerminal() {
			return true
		}
	}
	return false
}
