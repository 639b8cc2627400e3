package apps

import (
	"time"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apps/launch"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// condition maps a task state to an instance condition; TASK_LOST is
// mapped by its reason (reference §3.4).
func condition(st *mesos.TaskStatus) string {
	switch st.GetState() {
	case mesos.TaskState_TASK_STAGING:
		return condStaging
	case mesos.TaskState_TASK_STARTING:
		return condStarting
	case mesos.TaskState_TASK_RUNNING:
		return condRunning
	case mesos.TaskState_TASK_KILLING:
		return condKilling
	case mesos.TaskState_TASK_FINISHED:
		return condFinished
	case mesos.TaskState_TASK_FAILED:
		return condFailed
	case mesos.TaskState_TASK_KILLED:
		return condKilled
	case mesos.TaskState_TASK_ERROR:
		return condError
	case mesos.TaskState_TASK_DROPPED:
		return condDropped
	case mesos.TaskState_TASK_UNREACHABLE:
		return condUnreachable
	case mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return condGone
	case mesos.TaskState_TASK_LOST:
		switch st.GetReason() {
		case mesos.TaskStatus_REASON_AGENT_DISCONNECTED, mesos.TaskStatus_REASON_MASTER_DISCONNECTED:
			return condUnreachable
		case mesos.TaskStatus_REASON_RECONCILIATION:
			return condUnknown
		}
		return condGone
	}
	return condUnknown
}

// failureCondition reports conditions that grow the backoff.
func failureCondition(c string) bool {
	switch c {
	case condFailed, condError, condFinished, condDropped, condGone:
		return true
	}
	return false
}

// onUpdate handles one status update (always acknowledged).
func (f *Framework) onUpdate(st *mesos.TaskStatus) {
	f.acknowledge(st)
	f.metrics.statusUpdates++
	cond := condition(st)
	parsed, err := launch.ParseTaskID(st.GetTaskId().GetValue())
	in := f.instances[parsed.InstanceID]
	if err != nil || in == nil || in.TaskID != st.GetTaskId().GetValue() {
		if !terminal(cond) {
			f.log.Info("killing a task no instance owns", "task", st.GetTaskId().GetValue(), "state", st.GetState())
			f.killUnknown(st)
			f.publish(marathon.EventUnknownInstanceTerminated, marathon.UnknownInstanceTerminatedEvent{
				EventHeader: f.hdr(marathon.EventUnknownInstanceTerminated), InstanceID: parsed.InstanceID,
				RunSpecID: parsed.AppID, Condition: cond})
		}
		return
	}
	f.applyStatus(in, st, cond, f.now())
}

func (f *Framework) applyStatus(in *instance, st *mesos.TaskStatus, cond string, now time.Time) {
	f.publishStatus(in, st)
	key := backoffKey{in.AppID, in.ConfigVersion}
	if a := f.apps[in.AppID]; a != nil {
		switch {
		case failureCondition(cond):
			f.delays[key] = f.delays[key].Failed(backoffPolicy(a.def), now)
		case cond == condStaging || cond == condStarting || cond == condRunning:
			f.delays[key] = f.delays[key].Alive(now)
		}
	}
	changed := in.Condition != cond
	if terminal(cond) {
		f.recordFailure(in, st, cond, now)
		in.Condition = cond
		f.publishInstanceChanged(in)
		f.afterTerminal(in, now)
		return
	}
	f.applyLive(in, st, cond, now)
	if changed {
		f.publishInstanceChanged(in)
	}
	f.markDirty(in)
}

// applyLive records a non-terminal state.
func (f *Framework) applyLive(in *instance, st *mesos.TaskStatus, cond string, now time.Time) {
	switch cond {
	case condUnreachable:
		if in.Condition != condUnreachable && in.Condition != condUnreachableInactive {
			in.UnreachableSince = now
			in.Condition = condUnreachable
		}
		f.checkUnreachable(in, now)
		return
	case condRunning:
		if in.StartedAt.IsZero() {
			in.StartedAt = now
		}
		in.UnreachableSince = time.Time{}
	}
	in.Condition = cond
	if st.Healthy != nil {
		was := in.MesosHealthy
		in.MesosHealthy = ptr(st.GetHealthy())
		if was == nil || *was != st.GetHealthy() {
			f.publishHealthFlip(in, st.GetHealthy())
		}
	}
	if ips := taskIPs(st); len(ips) > 0 {
		in.IPAddresses = ips
	}
}

func taskIPs(st *mesos.TaskStatus) []marathon.IPAddress {
	var out []marathon.IPAddress
	for _, ni := range st.GetContainerStatus().GetNetworkInfos() {
		for _, ip := range ni.GetIpAddresses() {
			proto := "IPv4"
			if ip.GetProtocol() == mesos.NetworkInfo_IPv6 {
				proto = "IPv6"
			}
			out = append(out, marathon.IPAddress{IPAddress: ip.GetIpAddress(), Protocol: proto})
		}
	}
	return out
}

// afterTerminal relaunches an instance whose goal is still Running
// (Scheduled again, next incarnation on launch) and expunges the others.
func (f *Framework) afterTerminal(in *instance, now time.Time) {
	a := f.apps[in.AppID]
	if in.Goal != goalRunning || a == nil {
		f.expunge(in)
		return
	}
	f.reschedule(in, a.def, now)
}

// reschedule puts an instance back in the launch queue with the app's
// current definition.
func (f *Framework) reschedule(in *instance, def *marathon.App, now time.Time) {
	*in = instance{
		ID: in.ID, AppID: in.AppID, Goal: goalRunning, Condition: condScheduled, Incarnation: in.Incarnation,
		Version: def.Version, ConfigVersion: def.VersionInfo.LastConfigChangeAt, ScheduledAt: now,
	}
	f.markDirty(in)
}

func (f *Framework) recordFailure(in *instance, st *mesos.TaskStatus, cond string, now time.Time) {
	if cond == condKilled {
		return
	}
	f.lastFailure[in.AppID] = &marathon.TaskFailure{
		AppID: in.AppID, Host: in.Host, Message: st.GetMessage(), State: st.GetState().String(),
		TaskID: in.TaskID, Timestamp: spec.FormatTime(now), Version: in.Version, SlaveID: in.AgentID,
	}
}

// checkUnreachable applies the app's unreachableStrategy: inactive after
// inactiveAfterSeconds (a replacement is launched), expunged after
// expungeAfterSeconds (killed should it return). {0, 0} acts at once.
func (f *Framework) checkUnreachable(in *instance, now time.Time) {
	a := f.apps[in.AppID]
	if a == nil || a.def.UnreachableStrategy == nil || a.def.UnreachableStrategy.Disabled {
		return
	}
	us := a.def.UnreachableStrategy
	since := now.Sub(in.UnreachableSince)
	if in.Condition == condUnreachable && since >= time.Duration(us.InactiveAfterSeconds)*time.Second {
		in.Condition = condUnreachableInactive
		f.markDirty(in)
		f.publishInstanceChanged(in)
		f.healIfUnlocked(in.AppID, now)
	}
	if in.Condition == condUnreachableInactive && since >= time.Duration(us.ExpungeAfterSeconds)*time.Second {
		f.kill(in)
		in.Goal = goalDecommissioned
		f.expunge(in)
		f.healIfUnlocked(in.AppID, now)
	}
}

func (f *Framework) publishStatus(in *instance, st *mesos.TaskStatus) {
	ips := in.IPAddresses
	if got := taskIPs(st); len(got) > 0 {
		ips = got
	}
	if ips == nil {
		ips = []marathon.IPAddress{}
	}
	ports := in.HostPorts
	if ports == nil {
		ports = []int{}
	}
	f.publish(marathon.EventStatusUpdate, marathon.StatusUpdateEvent{
		EventHeader: f.hdr(marathon.EventStatusUpdate), SlaveID: st.GetAgentId().GetValue(), TaskID: in.TaskID,
		TaskStatus: st.GetState().String(), Message: st.GetMessage(), AppID: in.AppID, Host: in.Host,
		IPAddresses: ips, Ports: ports, Version: in.Version,
	})
}

func (f *Framework) publishInstanceChanged(in *instance) {
	f.publish(marathon.EventInstanceChanged, marathon.InstanceChangedEvent{
		EventHeader: f.hdr(marathon.EventInstanceChanged), InstanceID: in.ID, Condition: in.Condition,
		RunSpecID: in.AppID, AgentID: in.AgentID, Host: in.Host, RunSpecVersion: in.Version,
	})
}

func (f *Framework) publishHealthFlip(in *instance, alive bool) {
	f.publish(marathon.EventHealthStatusChanged, marathon.HealthStatusChangedEvent{
		EventHeader: f.hdr(marathon.EventHealthStatusChanged), AppID: in.AppID, InstanceID: in.ID,
		TaskID: in.TaskID, Version: in.Version, Alive: alive,
	})
	var healthy *bool
	if a := f.apps[in.AppID]; a != nil {
		healthy = ptr(f.healthy(in, a.def))
	}
	f.publish(marathon.EventInstanceHealthChanged, marathon.InstanceHealthChangedEvent{
		EventHeader: f.hdr(marathon.EventInstanceHealthChanged), InstanceID: in.ID, RunSpecID: in.AppID,
		RunSpecVersion: in.Version, Healthy: healthy,
	})
}
