package agent

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/containerizer"
)

var update = flag.Bool("update", false, "re-record golden files in testdata")

// TestStateShape checks /state against testdata/state.golden.json with the
// run-specific values (times, ports, paths, container IDs) replaced.
func TestStateShape(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a, fc := fakeAgent(t, m, func(c *Config) {
		c.Resources = "cpus:4;mem:4096;disk(ops):2048;ports:[31000-32000]"
		c.Attributes = "rack:r1;zone:2"
	})
	m.nextSubscribe(wait)
	fw := testFramework("fw-1")
	fw.User = proto.String("tester")
	m.send(runTaskEvent(fw, commandTask("queued", "sleep 1")))
	nextLaunch(t, fc)
	m.send(runTaskEvent(fw, commandTask("running", "sleep 2")))
	nextLaunch(t, fc)
	waitLaunched(t, a, "fw-1", "running")
	api := executorAPI{t, "http://" + a.Addr() + "/api/v1/executor"}
	resp := api.call(wire.Protobuf, subscribeCall("fw-1", "running"))
	if resp.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE = %d", resp.StatusCode)
	}
	uuid := bytes.Repeat([]byte{1}, 16)
	wantStatus(t, api.call(wire.Protobuf, updateCall("fw-1", "running", "running", mesos.TaskState_TASK_RUNNING, uuid)), 202, "")
	wantUpdate(t, m.nextUpdate(wait), "running", mesos.TaskState_TASK_RUNNING)

	body := getBody(t, "http://"+a.Addr()+"/slave(1)/state")
	got := normalizeState(t, body, a, m, fc.Specs())
	golden := filepath.Join("testdata", "state.golden.json")
	if *update {
		must(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to record)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("/state differs from %s (re-record with -update if intended):\n%s", golden, got)
	}
	if plain := getBody(t, "http://"+a.Addr()+"/state"); !bytes.Equal(normalizeState(t, plain, a, m, fc.Specs()), got) {
		t.Error("/state and /slave(1)/state differ")
	}
}

func getBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s = %d %q: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// normalizeState replaces run-specific values and re-indents.
func normalizeState(t *testing.T, body []byte, a *Agent, m *fakeMaster, specs []containerizer.LaunchSpec) []byte {
	t.Helper()
	s := string(body)
	s = strings.ReplaceAll(s, a.cfg.WorkDir, "<work_dir>")
	s = strings.ReplaceAll(s, a.Addr(), "<agent_addr>")
	s = strings.ReplaceAll(s, m.addr(), "<master_addr>")
	for i, spec := range specs {
		s = strings.ReplaceAll(s, spec.ContainerID, "<container_"+string(rune('a'+i))+">")
	}
	var v any
	must(t, json.Unmarshal([]byte(s), &v))
	zeroKeys(v, map[string]bool{"start_time": true, "timestamp": true, "port": true, "git_sha": true})
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(v))
	return out.Bytes()
}

func zeroKeys(v any, keys map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if keys[k] {
				x[k] = "<varies>"
				continue
			}
			zeroKeys(e, keys)
		}
	case []any:
		for _, e := range x {
			zeroKeys(e, keys)
		}
	}
}

func TestMetricsSnapshotNames(t *testing.T) {
	m := newFakeMaster(t)
	a, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	nextLaunch(t, fc)
	waitFor(t, "a staging task", func() bool { return a.metricsSnapshot()["slave/tasks_staging"] == 1 })
	var snap map[string]float64
	must(t, json.Unmarshal(getBody(t, "http://"+a.Addr()+"/metrics/snapshot"), &snap))
	for name, want := range map[string]float64{
		"slave/registered": 1, "slave/cpus_total": 4, "slave/mem_total": 4096, "slave/cpus_used": 0.6,
		"slave/mem_used": 96, "slave/cpus_percent": 0.15, "slave/tasks_staging": 1, "slave/tasks_running": 0,
		"slave/executors_registering": 1, "slave/frameworks_active": 1, "slave/tasks_finished": 0,
	} {
		if got, ok := snap[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"slave/uptime_secs", "slave/valid_status_updates", "system/cpus_total", "slave/gpus_percent"} {
		if _, ok := snap[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestProfilingEndpointsOnlyWhenEnabled(t *testing.T) {
	m := newFakeMaster(t)
	for _, on := range []bool{false, true} {
		a, _ := fakeAgent(t, m, func(c *Config) { c.Profiling = on })
		resp, err := http.Get("http://" + a.Addr() + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; resp.StatusCode != want {
			t.Errorf("Profiling=%v: /debug/pprof/ answers %d, want %d", on, resp.StatusCode, want)
		}
	}
}

// waitLaunched waits until the agent has recorded the executor's pid (the
// fake containerizer reports a launch before Launch returns it).
func waitLaunched(t *testing.T, a *Agent, fid, eid string) *executor {
	t.Helper()
	ex := findExecutor(t, a, fid, eid)
	waitFor(t, "the pid of executor "+eid, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return ex.pid != 0
	})
	return ex
}
