package master

import (
	"strings"
	"testing"

	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
)

// expandNames expands the reference's brace notation: "a/{x,y}_z" →
// "a/x_z", "a/y_z".
func expandNames(pattern string) []string {
	i := strings.IndexByte(pattern, '{')
	if i < 0 {
		return []string{pattern}
	}
	j := strings.IndexByte(pattern[i:], '}') + i
	var out []string
	for _, alt := range strings.Split(pattern[i+1:j], ",") {
		out = append(out, expandNames(pattern[:i]+alt+pattern[j+1:])...)
	}
	return out
}

// masterMetricNames are the master metrics of reference §7.1 (per-framework
// and per-role families aside), in its notation.
var masterMetricNames = []string{
	"master/elected", "master/uptime_secs",
	"master/{cpus,mem,disk,gpus}_{total,used,percent}",
	"master/{cpus,mem,disk,gpus}_revocable_{total,used,percent}",
	"master/slaves_{active,inactive,connected,disconnected,unreachable}",
	"master/slave_{registrations,reregistrations,removals}",
	"master/frameworks_{active,inactive,connected,disconnected}",
	"master/outstanding_offers",
	"master/tasks_{staging,starting,running,killing,unreachable}",
	"master/tasks_{finished,failed,killed,lost,error,dropped,gone,gone_by_operator}",
	"master/messages_{launch_tasks,decline_offers,revive_offers,kill_task,status_update,status_update_acknowledgement,reconcile_tasks}",
	"master/{valid,invalid}_status_updates", "master/dropped_messages",
	"master/event_queue_{messages,dispatches}",
	"registrar/state_{fetch,store}_ms", "registrar/log/{recovered,ensemble_size}",
	"allocator/mesos/{allocation_runs,allocation_run_ms}",
	"allocator/mesos/resources/{cpus,mem,disk}/{total,offered_or_allocated}",
	"system/{cpus_total,load_1min,load_5min,load_15min,mem_free_bytes,mem_total_bytes}",
}

// TestMetricNamesFromReference: every master metric name the reference
// lists is in /metrics/snapshot.
func TestMetricNamesFromReference(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "a1", "cpus:2;mem:1024;disk:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("names"))
	s.Next(sched.Event_OFFERS)
	var snap map[string]float64
	getJSON(t, m, "/metrics/snapshot", &snap)
	for _, p := range masterMetricNames {
		for _, name := range expandNames(p) {
			if _, ok := snap[name]; !ok {
				t.Errorf("/metrics/snapshot lacks %s", name)
			}
		}
	}
}
