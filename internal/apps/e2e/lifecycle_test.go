package e2e

import (
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agoraproject/agora/api/marathon"
)

// webApp is a testapp definition with a Marathon-side HTTP health check.
func webApp(id string, instances int, mode string) map[string]any {
	return map[string]any{
		"id": id, "cmd": testappBin + " " + mode, "instances": instances, "cpus": 0.1, "mem": 32,
		"healthChecks": []map[string]any{{"protocol": "HTTP", "path": "/health", "portIndex": 0,
			"gracePeriodSeconds": 5, "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2}},
	}
}

func healthyTasks(a marathon.AppInfo) int {
	n := 0
	for _, t := range a.Tasks {
		if t.State == "TASK_RUNNING" && len(t.HealthCheckResults) > 0 && t.HealthCheckResults[0].Alive {
			n++
		}
	}
	return n
}

// TestAppLifecycle is the main end-to-end list on one agent:
// deploy 3 → running and healthy; scale to 5; change the command → a
// rolling restart that never goes below minimumHealthCapacity; kill a
// task → replaced; delete → all killed, 404 after; and the events.
func TestAppLifecycle(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	s := startApps(t, c, memStore(), nil)
	events := s.subscribe()

	def := webApp("/web", 3, "serve")
	def["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 0.8, "maximumOverCapacity": 0.2}
	if code := s.call("POST", "/v2/apps", def, nil); code != http.StatusCreated {
		t.Fatalf("POST /v2/apps: %d", code)
	}
	waitFor(t, "3 healthy tasks", 60*time.Second, func() bool {
		a := s.app("/web")
		return a.TasksRunning == 3 && a.TasksHealthy == 3
	})
	s.deployed(30 * time.Second)

	var res marathon.DeploymentResult
	if code := s.call("PUT", "/v2/apps/web", map[string]any{"instances": 5}, &res); code != http.StatusOK || res.DeploymentID == "" {
		t.Fatalf("scale to 5: %d %+v", code, res)
	}
	waitFor(t, "5 healthy tasks", 60*time.Second, func() bool { return s.app("/web").TasksHealthy == 5 })
	s.deployed(30 * time.Second)
	before := taskIDs(s.app("/web"))

	// Rolling restart: minHealthy = ceil(5 × 0.8) = 4, maxCapacity = 6.
	var lowest, highest atomic.Int64
	lowest.Store(math.MaxInt64)
	stop := watchRestart(s, "/web", &lowest, &highest)
	if code := s.call("PUT", "/v2/apps/web", map[string]any{"cmd": testappBin + " serve  "}, &res); code != http.StatusOK {
		t.Fatalf("change cmd: %d", code)
	}
	waitFor(t, "the restart to finish", 90*time.Second, func() bool {
		a := s.app("/web")
		return len(a.Deployments) == 0 && a.TasksHealthy == 5 && disjoint(taskIDs(a), before)
	})
	stop()
	if lowest.Load() < 4 {
		t.Errorf("rolling restart went down to %d healthy tasks, minimumHealthCapacity allows 4", lowest.Load())
	}
	if highest.Load() > 6 {
		t.Errorf("rolling restart ran %d tasks, maximumOverCapacity allows 6", highest.Load())
	}

	// Kill one task (no scale): it is replaced.
	victim := s.app("/web").Tasks[0].ID
	var killed marathon.TaskResponse
	if code := s.call("DELETE", "/v2/apps/web/tasks/"+victim, nil, &killed); code != http.StatusOK || killed.Task.ID != victim {
		t.Fatalf("kill task: %d %+v", code, killed)
	}
	waitFor(t, "the killed task to be replaced", 60*time.Second, func() bool {
		a := s.app("/web")
		return a.TasksHealthy == 5 && !slices.Contains(taskIDs(a), victim)
	})

	// Delete: all killed, 404 afterwards.
	if code := s.call("DELETE", "/v2/apps/web", nil, &res); code != http.StatusOK {
		t.Fatalf("DELETE: %d", code)
	}
	s.deployed(60 * time.Second)
	if code := s.call("GET", "/v2/apps/web", nil, nil); code != http.StatusNotFound {
		t.Errorf("GET after delete: %d, want 404", code)
	}
	var tasks marathon.TasksResponse
	s.call("GET", "/v2/tasks", nil, &tasks)
	if len(tasks.Tasks) != 0 {
		t.Errorf("tasks left after delete: %+v", tasks.Tasks)
	}

	for _, typ := range []string{marathon.EventAPIPost, marathon.EventDeploymentInfo, marathon.EventDeploymentStepSuccess,
		marathon.EventDeploymentSuccess, marathon.EventStatusUpdate, marathon.EventHealthStatusChanged,
		marathon.EventInstanceChanged, marathon.EventAppTerminated} {
		if len(events.of(typ)) == 0 {
			t.Errorf("no %s event", typ)
		}
	}
	checkEventFields(t, events)
}

// watchRestart samples the app while it restarts and records the lowest
// healthy count and the highest number of live tasks.
func watchRestart(s *appsServer, id string, lowest, highest *atomic.Int64) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			a := s.app(id)
			h, live := int64(healthyTasks(a)), int64(len(a.Tasks))
			if h < lowest.Load() {
				lowest.Store(h)
			}
			if live > highest.Load() {
				highest.Store(live)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func taskIDs(a marathon.AppInfo) []string {
	var out []string
	for _, t := range a.Tasks {
		out = append(out, t.ID)
	}
	sort.Strings(out)
	return out
}

func disjoint(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// checkEventFields checks each event carries the reference fields.
func checkEventFields(t *testing.T, events *eventLog) {
	t.Helper()
	want := map[string][]string{
		marathon.EventAPIPost:               {"eventType", "timestamp", "clientIp", "uri", "appDefinition"},
		marathon.EventStatusUpdate:          {"eventType", "timestamp", "slaveId", "taskId", "taskStatus", "message", "appId", "host", "ipAddresses", "ports", "version"},
		marathon.EventHealthStatusChanged:   {"eventType", "timestamp", "appId", "instanceId", "version", "alive"},
		marathon.EventDeploymentInfo:        {"eventType", "timestamp", "plan", "currentStep"},
		marathon.EventDeploymentStepSuccess: {"eventType", "timestamp", "plan", "currentStep"},
		marathon.EventDeploymentSuccess:     {"eventType", "timestamp", "id", "plan"},
		marathon.EventInstanceChanged:       {"eventType", "timestamp", "instanceId", "condition", "runSpecId", "agentId", "host", "runSpecVersion"},
	}
	for typ, fields := range want {
		evs := events.of(typ)
		if len(evs) == 0 {
			continue
		}
		for _, f := range fields {
			if _, ok := evs[0].Data[f]; !ok {
				t.Errorf("%s lacks %q: %v", typ, f, evs[0].Data)
			}
		}
		if evs[0].Data["eventType"] != typ {
			t.Errorf("%s has eventType %v", typ, evs[0].Data["eventType"])
		}
	}
	if plan, ok := events.of(marathon.EventDeploymentInfo)[0].Data["plan"].(map[string]any); !ok || plan["id"] == nil || plan["steps"] == nil {
		t.Errorf("deployment_info plan: %v", plan)
	}
}

// TestFailingHealthCheckKillsAndReplaces: a task that never passes its
// health check is killed after maxConsecutiveFailures and relaunched.
func TestFailingHealthCheckKillsAndReplaces(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	s := startApps(t, c, memStore(), nil)
	events := s.subscribe()
	def := webApp("/sick", 1, "unhealthy")
	def["healthChecks"].([]map[string]any)[0]["gracePeriodSeconds"] = 0
	if code := s.call("POST", "/v2/apps", def, nil); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	var first string
	waitFor(t, "a running task", 60*time.Second, func() bool {
		a := s.app("/sick")
		if a.TasksRunning == 1 {
			first = a.Tasks[0].ID
		}
		return first != ""
	})
	waitFor(t, "the unhealthy task to be killed and replaced", 60*time.Second, func() bool {
		a := s.app("/sick")
		return len(events.of(marathon.EventUnhealthyInstanceKill)) > 0 && len(a.Tasks) == 1 && a.Tasks[0].ID != first
	})
	kill := events.of(marathon.EventUnhealthyInstanceKill)[0].Data
	if kill["taskId"] != first || kill["appId"] != "/sick" {
		t.Errorf("unhealthy_instance_kill_event %v, want task %s", kill, first)
	}
	if len(events.of(marathon.EventFailedHealthCheck)) < 3 {
		t.Errorf("%d failed_health_check_event, want ≥ 3 (kill on the failure after maxConsecutiveFailures=2)",
			len(events.of(marathon.EventFailedHealthCheck)))
	}
}

// TestCrashLoopBacksOff: a command that exits at once is relaunched with
// delays growing by backoffFactor: 1 s, 2 s, 4 s.
func TestCrashLoopBacksOff(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	s := startApps(t, c, memStore(), nil)
	events := s.subscribe()
	def := map[string]any{"id": "/crash", "cmd": "exit 3", "cpus": 0.1, "mem": 16,
		"backoffSeconds": 1, "backoffFactor": 2, "maxLaunchDelaySeconds": 60}
	if code := s.call("POST", "/v2/apps", def, nil); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	waitFor(t, "4 failures", 60*time.Second, func() bool { return len(events.of(marathon.EventStatusUpdate)) > 0 && failures(events) >= 4 })
	var failedAt, stagedAt []time.Time
	for _, e := range events.of(marathon.EventStatusUpdate) {
		ts, _ := time.Parse(time.RFC3339Nano, e.Data["timestamp"].(string))
		switch e.Data["taskStatus"] {
		case "TASK_FAILED":
			failedAt = append(failedAt, ts)
		case "TASK_STARTING", "TASK_RUNNING":
			if len(stagedAt) < len(failedAt)+1 {
				stagedAt = append(stagedAt, ts)
			}
		}
	}
	// The launch after failure n waits delay(n) = 2^(n-1) s.
	checked := 0
	for n := 1; n < len(failedAt) && n < len(stagedAt); n++ {
		checked++
		gap := stagedAt[n].Sub(failedAt[n-1])
		want := time.Duration(1<<(n-1)) * time.Second
		if gap < want-50*time.Millisecond || gap > want+3*time.Second {
			t.Errorf("relaunch %d came %s after failure %d, want ≈ %s", n, gap, n, want)
		}
	}
	if checked < 3 {
		t.Errorf("only %d relaunch gaps seen (failures at %v, launches at %v)", checked, failedAt, stagedAt)
	}
	// The delay is visible in the queue and can be reset.
	waitFor(t, "the app to wait in the queue with a delay", 30*time.Second, func() bool {
		var q marathon.QueueResponse
		s.call("GET", "/v2/queue", nil, &q)
		return len(q.Queue) == 1 && q.Queue[0].Delay.TimeLeftSeconds > 0 && !q.Queue[0].Delay.Overdue
	})
	if code := s.call("DELETE", "/v2/queue/crash/delay", nil, nil); code != http.StatusNoContent {
		t.Errorf("DELETE /v2/queue/crash/delay: %d, want 204", code)
	}
}

func failures(events *eventLog) int {
	n := 0
	for _, e := range events.of(marathon.EventStatusUpdate) {
		if e.Data["taskStatus"] == "TASK_FAILED" {
			n++
		}
	}
	return n
}

// TestUniqueHostnamePlacesOnePerAgent: three agents, UNIQUE hostname:
// three instances land one per agent; a fourth cannot be placed.
func TestUniqueHostnamePlacesOnePerAgent(t *testing.T) {
	c := startCluster(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	s := startApps(t, c, memStore(), nil)
	def := map[string]any{"id": "/uniq", "cmd": "sleep 1000", "instances": 3, "cpus": 0.1, "mem": 16,
		"constraints": [][]string{{"hostname", "UNIQUE"}}}
	if code := s.call("POST", "/v2/apps", def, nil); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	waitFor(t, "3 running", 60*time.Second, func() bool { return s.app("/uniq").TasksRunning == 3 })
	hosts := map[string]bool{}
	for _, task := range s.app("/uniq").Tasks {
		hosts[task.Host] = true
	}
	if len(hosts) != 3 {
		t.Fatalf("3 instances on hosts %v, want one per agent", hosts)
	}
	s.call("PUT", "/v2/apps/uniq", map[string]any{"instances": 4}, nil)
	waitFor(t, "the 4th instance to be refused by the constraint", 30*time.Second, func() bool {
		var q marathon.QueueResponse
		s.call("GET", "/v2/queue", nil, &q)
		if len(q.Queue) != 1 || q.Queue[0].Count != 1 {
			return false
		}
		for _, r := range q.Queue[0].ProcessedOffersSummary.RejectSummaryLastOffers {
			if r.Reason == marathon.ReasonUnfulfilledConstraint && r.Declined > 0 {
				return true
			}
		}
		return false
	})
	if a := s.app("/uniq"); a.TasksRunning != 3 {
		t.Errorf("%d running with UNIQUE over 3 agents", a.TasksRunning)
	}
}
