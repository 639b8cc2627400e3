package master

import (
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
)

// counters are the master's monotonic counters, owned by the loop and
// copied into each snapshot. Gauges (tasks running, agents connected, ...)
// are computed from the snapshot instead of counted.
type counters struct {
	slaveRegistrations, slaveReregistrations, slaveRemovals, slaveUnreachable uint64
	slaveDisconnections                                                       uint64
	frameworkSubscriptions, frameworkDisconnections, frameworkRemovals        uint64

	// Terminal task counts by state.
	tasksByTerminalState map[mesos.TaskState]uint64

	launchTasks, declines, revives, suppresses, kills                    uint64
	statusUpdates, statusUpdateAcks, reconcileTasks, frameworkToExecutor uint64
	acceptCalls, validStatusUpdates, invalidStatusUpdates                uint64
	taskErrors                                                           uint64
	callsByType                                                          map[scheduler.Call_Type]uint64

	offersSentTotal uint64
	allocationRuns  uint64
	// The most recent allocation run times and latencies (from the request
	// for an allocation to its run), for the timer metrics.
	allocationRunTimes  timings
	allocationLatencies timings
	// registryStores times registry writes; registryFetch is how long the
	// last recovery took to load the registry.
	registryStores timings
	registryFetch  time.Duration
}

// timings keeps the last few hundred durations of a timer metric.
type timings struct {
	recent []time.Duration
	next   int
	count  uint64
}

const timingWindow = 512

func (t *timings) add(d time.Duration) {
	t.count++
	if len(t.recent) < timingWindow {
		t.recent = append(t.recent, d)
		return
	}
	t.recent[t.next] = d
	t.next = (t.next + 1) % timingWindow
}

func (t timings) clone() timings {
	t.recent = append([]time.Duration(nil), t.recent...)
	return t
}

func (c *counters) frameworkSubscribed()   { c.frameworkSubscriptions++ }
func (c *counters) frameworkDisconnected() { c.frameworkDisconnections++ }
func (c *counters) frameworkRemoved()      { c.frameworkRemovals++ }

func (c *counters) agentRegistered(reregistered bool) {
	if reregistered {
		c.slaveReregistrations++
	} else {
		c.slaveRegistrations++
	}
}
func (c *counters) agentDisconnected() { c.slaveDisconnections++ }
func (c *counters) agentUnreachable()  { c.slaveUnreachable++ }

func (c *counters) taskAdopted(state mesos.TaskState) {}

// taskTransition counts tasks reaching terminal states.
func (c *counters) taskTransition(from, to mesos.TaskState) {
	if !to.IsTerminal() || from.IsTerminal() {
		return
	}
	if c.tasksByTerminalState == nil {
		c.tasksByTerminalState = map[mesos.TaskState]uint64{}
	}
	c.tasksByTerminalState[to]++
}

func (c *counters) statusUpdate(valid bool) {
	c.statusUpdates++
	if valid {
		c.validStatusUpdates++
	} else {
		c.invalidStatusUpdates++
	}
}
func (c *counters) acknowledgement()  { c.statusUpdateAcks++ }
func (c *counters) killTask()         { c.kills++ }
func (c *counters) reconcile()        { c.reconcileTasks++ }
func (c *counters) frameworkMessage() { c.frameworkToExecutor++ }
func (c *counters) acceptCall()       { c.acceptCalls++ }
func (c *counters) launchTask()       { c.launchTasks++ }
func (c *counters) taskError()        { c.taskErrors++ }
func (c *counters) declineOffers()    { c.declines++ }
func (c *counters) reviveOffers()     { c.revives++ }
func (c *counters) suppressOffers()   { c.suppresses++ }
func (c *counters) offersSent(n int)  { c.offersSentTotal += uint64(n) }

func (c *counters) frameworkCall(t scheduler.Call_Type) {
	if c.callsByType == nil {
		c.callsByType = map[scheduler.Call_Type]uint64{}
	}
	c.callsByType[t]++
}

func (c *counters) allocationRun(d, latency time.Duration) {
	c.allocationRuns++
	c.allocationRunTimes.add(d)
	c.allocationLatencies.add(latency)
}

// clone copies the counters for a snapshot.
func (c counters) clone() counters {
	out := c
	out.tasksByTerminalState = make(map[mesos.TaskState]uint64, len(c.tasksByTerminalState))
	for k, v := range c.tasksByTerminalState {
		out.tasksByTerminalState[k] = v
	}
	out.allocationRunTimes = c.allocationRunTimes.clone()
	out.allocationLatencies = c.allocationLatencies.clone()
	out.registryStores = c.registryStores.clone()
	out.callsByType = make(map[scheduler.Call_Type]uint64, len(c.callsByType))
	for k, v := range c.callsByType {
		out.callsByType[k] = v
	}
	return out
}
