package master

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/schedtest"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// normalize replaces what differs between runs (IDs, ports, times, uuids)
// with placeholders, so the golden files hold the exact wire bytes.
func normalize(m *Master, agentID string, b []byte) []byte {
	s := string(b)
	_, port, _ := strings.Cut(m.Addr(), ":")
	s = strings.ReplaceAll(s, m.ID(), "MASTER-ID")
	s = regexp.MustCompile(`"port":`+port+`\b`).ReplaceAllString(s, `"port":0`)
	s = strings.ReplaceAll(s, ":"+port, ":MASTER-PORT")
	s = regexp.MustCompile(`"ip":\d{5,}`).ReplaceAllString(s, `"ip":0`)
	s = regexp.MustCompile(`"(start_time|elected_time|registered_time|reregistered_time|unregistered_time|timestamp)":[0-9.e+-]+`).ReplaceAllString(s, `"$1":0`)
	s = regexp.MustCompile(`"(\w*uuid)":"[A-Za-z0-9+/=]{24}"`).ReplaceAllString(s, `"$1":"UUID"`)
	s = regexp.MustCompile(`"master/uptime_secs":[0-9.e+-]+`).ReplaceAllString(s, `"master/uptime_secs":0`)
	return []byte(s)
}

// checkGolden compares got with testdata/<name>, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to record)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking the change):\ngot:  %s\nwant: %s", name, got, want)
	}
}

// indent pretty-prints JSON for readable golden files without changing
// any value's text.
func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return append(out.Bytes(), '\n')
}

// TestGoldenSchedulerEvents records the JSON of SUBSCRIBED, OFFERS and
// UPDATE as a framework receives them, and /master/state with a running
// task.
func TestGoldenSchedulerEvents(t *testing.T) {
	m := startMaster(t, func(c *Config) { c.Cluster = "golden" })
	agent := startFakeAgent(t, m, "agent.example", "cpus:2;mem:1024;disk:2048;ports:[31000-31009]")
	info := frameworkInfo("golden")
	info.FailoverTimeout = proto.Float64(3600)
	info.Checkpoint = proto.Bool(true)
	info.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_TASK_KILLING_STATE.Enum()}}
	s := schedtest.Open(t, m.Addr(), wire.JSON, info)
	sub := s.Next(sched.Event_SUBSCRIBED)
	s.FrameworkID = sub.GetSubscribed().GetFrameworkId().GetValue()
	checkGolden(t, "subscribed.json", indent(t, normalize(m, agent.id, sub.Raw)))

	offers := s.Next(sched.Event_OFFERS)
	checkGolden(t, "offers.json", indent(t, normalize(m, agent.id, offers.Raw)))

	offer := offers.GetOffers().GetOffers()[0]
	s.Launch(offer, commandTask("golden-task", offer, "sleep 600"))
	agent.next(protocol.AgentEvent_RUN_TASK)
	agent.update(s.FrameworkID, "golden-task", mesos.TaskState_TASK_RUNNING)
	upd := s.Next(sched.Event_UPDATE)
	checkGolden(t, "update.json", indent(t, normalize(m, agent.id, upd.Raw)))
	s.Ack(upd.GetUpdate().GetStatus())
	agent.next(protocol.AgentEvent_ACKNOWLEDGE)

	resp, err := http.Get(m.url("/master/state"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/master/state Content-Type %q", resp.Header.Get("Content-Type"))
	}
	checkGolden(t, "state.json", indent(t, normalize(m, agent.id, body)))
}

// TestStateEndpointShapes checks the keys existing tools read.
func TestStateEndpointShapes(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "a1", "cpus:2;mem:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("shapes"))
	s.Next(sched.Event_OFFERS)
	get := func(path string) map[string]any {
		t.Helper()
		resp, err := http.Get(m.url(path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return out
	}
	state := get("/master/state")
	if state["leader"] != "master@"+m.Addr() || !strings.HasPrefix(state["pid"].(string), "master@") {
		t.Errorf("leader %v pid %v", state["leader"], state["pid"])
	}
	fw := state["frameworks"].([]any)[0].(map[string]any)
	if _, ok := fw["pid"]; ok {
		t.Errorf("HTTP framework has a pid key")
	}
	slave := state["slaves"].([]any)[0].(map[string]any)
	if !strings.HasPrefix(slave["pid"].(string), "slave(1)@") {
		t.Errorf("agent pid %v", slave["pid"])
	}
	for _, path := range []string{"/state", "/state.json", "/master/state.json"} {
		if got := get(path); got["id"] != state["id"] {
			t.Errorf("%s is not the state", path)
		}
	}
	if fws := get("/master/frameworks/")["frameworks"].([]any); len(fws) != 1 {
		t.Errorf("/master/frameworks/ lists %d frameworks", len(fws))
	}
	slaves := get("/master/slaves")["slaves"].([]any)
	if _, ok := slaves[0].(map[string]any)["unreserved_resources_full"]; !ok {
		t.Errorf("/master/slaves lacks unreserved_resources_full")
	}
	summary := get("/master/state-summary")
	if _, ok := summary["slaves"].([]any)[0].(map[string]any)["TASK_RUNNING"]; !ok {
		t.Errorf("state-summary agents lack task counts")
	}
	metrics := get("/metrics/snapshot")
	for _, name := range []string{"master/elected", "master/cpus_total", "master/slaves_active", "master/frameworks_active",
		"master/tasks_running", "master/tasks_finished", "master/outstanding_offers", "allocator/mesos/allocation_runs",
		"system/cpus_total"} {
		if _, ok := metrics[name]; !ok {
			t.Errorf("/metrics/snapshot lacks %s", name)
		}
	}
	if metrics["master/cpus_total"] != 2.0 {
		t.Errorf("master/cpus_total = %v", metrics["master/cpus_total"])
	}

	resp, err := http.Get(m.url("/master/redirect"))
	if err == nil {
		resp.Body.Close()
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(m.url("/master/redirect"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//"+m.Addr() {
		t.Errorf("/master/redirect: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = noFollow.Get(m.url("/master/state?jsonp=cb"))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "cb(") || resp.Header.Get("Content-Type") != "text/javascript" {
		t.Errorf("jsonp: %q %q", body[:10], resp.Header.Get("Content-Type"))
	}
}
