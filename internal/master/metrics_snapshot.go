package master

import (
	"net/http"
	"sort"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/hostinfo"
)

// serveMetricsSnapshot is /metrics/snapshot: a flat object of Mesos metric
// names (reference §7.1) to numbers.
func (m *Master) serveMetricsSnapshot(w http.ResponseWriter, r *http.Request) {
	s, err := m.MetricsSnapshot(r.Context())
	if err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	writeJSON(w, r, metricsOf(s, m.clock.Now()))
}

// metricsOf computes the master's metrics from a snapshot: gauges from the
// state, counters from the loop's counters.
func metricsOf(s *Snapshot, now time.Time) map[string]float64 {
	elected := 0.0
	if s.Leading {
		elected = 1
	}
	out := map[string]float64{
		"master/elected":     elected,
		"master/uptime_secs": now.Sub(s.StartTime).Seconds(),
	}
	addResourceMetrics(out, s)
	addAgentMetrics(out, s)
	addFrameworkMetrics(out, s)
	addTaskMetrics(out, s)
	addMessageMetrics(out, &s.Counters)
	out["master/outstanding_offers"] = float64(s.Offers)
	out["master/event_queue_messages"] = float64(s.InboxLen)
	out["master/event_queue_dispatches"] = float64(s.InboxLen)
	out["master/dropped_messages"] = 0 // nothing is dropped: outboxes grow
	addTimer(out, "registrar/state_store_ms", s.Counters.registryStores)
	out["registrar/state_fetch_ms"] = float64(s.Counters.registryFetch.Microseconds()) / 1000
	recovered := 0.0
	if s.Leading {
		recovered = 1
	}
	out["registrar/log/recovered"] = recovered
	out["registrar/log/ensemble_size"] = float64(s.RegistryServers)
	out["allocator/mesos/allocation_runs"] = float64(s.Counters.allocationRuns)
	addTimer(out, "allocator/mesos/allocation_run_ms", s.Counters.allocationRunTimes)
	addTimer(out, "allocator/mesos/allocation_run_latency_ms", s.Counters.allocationLatencies)
	addAllocatorMetrics(out, s)
	out["master/offers_sent"] = float64(s.Counters.offersSentTotal)
	for k, v := range hostinfo.SystemMetrics() {
		out[k] = v
	}
	for k, v := range hostinfo.ProcessMetrics() {
		out[k] = v
	}
	return out
}

func addResourceMetrics(out map[string]float64, s *Snapshot) {
	for _, name := range []string{"cpus", "mem", "disk", "gpus"} {
		var total, used float64
		for i := range s.Agents {
			a := &s.Agents[i]
			if a.Unreachable {
				continue
			}
			total += a.Total.Scalar(name).Float()
			used += a.Used.Scalar(name).Float()
		}
		out["master/"+name+"_total"] = total
		out["master/"+name+"_used"] = used
		out["master/"+name+"_percent"] = percent(used, total)
		out["master/"+name+"_revocable_total"] = 0
		out["master/"+name+"_revocable_used"] = 0
		out["master/"+name+"_revocable_percent"] = 0

	}
}

func percent(part, total float64) float64 {
	if total == 0 {
		return 0
	}
	return part / total
}

func addAgentMetrics(out map[string]float64, s *Snapshot) {
	var active, inactive, connected, disconnected, unreachable float64
	for i := range s.Agents {
		a := &s.Agents[i]
		switch {
		case a.Unreachable:
			unreachable++
			continue
		case a.Active():
			active++
		default:
			inactive++
		}
		if a.Connected {
			connected++
		} else {
			disconnected++
		}
	}
	out["master/slaves_active"] = active
	out["master/slaves_inactive"] = inactive
	out["master/slaves_connected"] = connected
	out["master/slaves_disconnected"] = disconnected
	out["master/slaves_unreachable"] = unreachable
	c := &s.Counters
	out["master/slave_registrations"] = float64(c.slaveRegistrations)
	out["master/slave_reregistrations"] = float64(c.slaveReregistrations)
	out["master/slave_removals"] = float64(c.slaveRemovals)
	out["master/slave_unreachable_completed"] = float64(c.slaveUnreachable)
}

func addFrameworkMetrics(out map[string]float64, s *Snapshot) {
	var connected, disconnected float64
	for i := range s.Frameworks {
		if s.Frameworks[i].Connected {
			connected++
		} else {
			disconnected++
		}
	}
	out["master/frameworks_active"] = connected
	out["master/frameworks_inactive"] = disconnected
	out["master/frameworks_connected"] = connected
	out["master/frameworks_disconnected"] = disconnected
}

func addTaskMetrics(out map[string]float64, s *Snapshot) {
	gauges := map[mesos.TaskState]float64{}
	for i := range s.Frameworks {
		for state, n := range s.Frameworks[i].TaskStates {
			gauges[state] += float64(n)
		}
	}
	for _, st := range []mesos.TaskState{mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING,
		mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_UNREACHABLE} {
		out["master/"+metricTaskName(st)] = gauges[st]
	}
	for _, st := range []mesos.TaskState{mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED,
		mesos.TaskState_TASK_KILLED, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR,
		mesos.TaskState_TASK_DROPPED, mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR} {
		out["master/"+metricTaskName(st)] = float64(s.Counters.tasksByTerminalState[st])
	}
}

// metricTaskName turns TASK_RUNNING into tasks_running.
func metricTaskName(st mesos.TaskState) string {
	name := st.String()[len("TASK_"):]
	b := []byte("tasks_")
	for _, c := range []byte(name) {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

func addMessageMetrics(out map[string]float64, c *counters) {
	out["master/messages_launch_tasks"] = float64(c.acceptCalls)
	out["master/messages_decline_offers"] = float64(c.declines)
	out["master/messages_revive_offers"] = float64(c.revives)
	out["master/messages_suppress_offers"] = float64(c.suppresses)
	out["master/messages_kill_task"] = float64(c.kills)
	out["master/messages_status_update"] = float64(c.statusUpdates)
	out["master/messages_status_update_acknowledgement"] = float64(c.statusUpdateAcks)
	out["master/messages_reconcile_tasks"] = float64(c.reconcileTasks)
	out["master/messages_framework_to_executor"] = float64(c.frameworkToExecutor)
	out["master/valid_status_updates"] = float64(c.validStatusUpdates)
	out["master/invalid_status_updates"] = float64(c.invalidStatusUpdates)
	out["master/valid_framework_to_executor_messages"] = float64(c.frameworkToExecutor)
	out["master/task_launches"] = float64(c.launchTasks)
	for t, n := range c.callsByType {
		out["master/calls/"+lower(t)] = float64(n)
	}
}

func lower(t scheduler.Call_Type) string {
	b := []byte(t.String())
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// addTimer writes a Mesos timer metric: the last value under its name, and
// count, min, max and percentiles of the recent window.
func addTimer(out map[string]float64, name string, t timings) {
	out[name+"/count"] = float64(t.count)
	if len(t.recent) == 0 {
		return
	}
	ms := make([]float64, len(t.recent))
	for i, d := range t.recent {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	last := (t.next + len(ms) - 1) % len(ms)
	out[name] = ms[last]
	sort.Float64s(ms)
	out[name+"/min"], out[name+"/max"] = ms[0], ms[len(ms)-1]
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.5}, {"p90", 0.9}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}, {"p9999", 0.9999}} {
		out[name+"/"+p.name] = ms[min(len(ms)-1, int(p.q*float64(len(ms))))]
	}
}

// addAllocatorMetrics writes the allocator's per-resource, per-role and
// quota metrics under Mesos' names.
func addAllocatorMetrics(out map[string]float64, s *Snapshot) {
	a := &s.Allocator
	out["allocator/mesos/offer_filters/active"] = float64(a.ActiveFilters)
	for _, name := range a.Total.Names() {
		out["allocator/mesos/resources/"+name+"/total"] = a.Total.Get(name).Float()
		out["allocator/mesos/resources/"+name+"/offered_or_allocated"] = a.OfferedOrAllocated.Get(name).Float()
	}
	for _, r := range a.Roles {
		out["allocator/mesos/roles/"+r.Name+"/shares/dominant"] = r.DominantShare
		out["allocator/mesos/offer_filters/roles/"+r.Name+"/active"] = float64(r.ActiveFilters)
		out["allocator/mesos/roles/"+r.Name+"/offers_made"] = float64(r.OffersMade)
	}
	allocated := map[string]map[string]float64{}
	for _, r := range a.Roles {
		allocated[r.Name] = quantitiesMap(r.Allocated)
	}
	for _, q := range s.Quotas {
		prefix := "allocator/mesos/quota/roles/" + q.GetRole() + "/resources/"
		for name, v := range q.GetGuarantees() {
			out[prefix+name+"/guarantee"] = v.GetValue()
		}
		for name, v := range q.GetLimits() {
			out[prefix+name+"/limit"] = v.GetValue()
		}
		for name, v := range allocated[q.GetRole()] {
			out[prefix+name+"/offered_or_allocated"] = v
		}
	}
}
