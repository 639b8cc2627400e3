package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	agentpb "github.com/agoraproject/agora/api/v1/agent"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/version"
)

// operatorPost posts a call to the agent's /api/v1 in enc and decodes a
// 200 answer's body.
func operatorPost(t *testing.T, a *Agent, enc wire.Encoding, call *agentpb.Call) (int, *agentpb.Response, []byte) {
	t.Helper()
	body, err := enc.Marshal(call)
	must(t, err)
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/api/v1", bytes.NewReader(body))
	req.Header.Set("Content-Type", enc.ContentType())
	req.Header.Set("Accept", enc.ContentType())
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(raw) == 0 {
		return resp.StatusCode, nil, raw
	}
	if ct := resp.Header.Get("Content-Type"); ct != enc.ContentType() {
		t.Fatalf("%s answered Content-Type %q, want %q", call.GetType(), ct, enc.ContentType())
	}
	out := &agentpb.Response{}
	must(t, enc.Unmarshal(raw, out))
	return resp.StatusCode, out, raw
}

// operatorCall makes a call that must answer 200 with a body.
func operatorCall(t *testing.T, a *Agent, enc wire.Encoding, call *agentpb.Call) *agentpb.Response {
	t.Helper()
	code, resp, raw := operatorPost(t, a, enc, call)
	if code != http.StatusOK || resp == nil {
		t.Fatalf("%s: %d %s", call.GetType(), code, raw)
	}
	return resp
}

// callBoth makes a call in both encodings; the protobuf answer, rendered
// in JSON, must be the JSON answer. It returns the JSON.
func callBoth(t *testing.T, a *Agent, call *agentpb.Call) []byte {
	t.Helper()
	jsonResp := operatorCall(t, a, wire.JSON, call)
	protoResp := operatorCall(t, a, wire.Protobuf, call)
	fromJSON, err := mesosjson.Marshal(jsonResp)
	must(t, err)
	fromProto, err := mesosjson.Marshal(protoResp)
	must(t, err)
	if !bytes.Equal(normalizeVarying(fromJSON), normalizeVarying(fromProto)) {
		t.Errorf("%s: protobuf and JSON answers differ:\nprotobuf: %s\njson:     %s", call.GetType(), fromProto, fromJSON)
	}
	return fromJSON
}

// normalizeVarying hides what changes between two calls in a row
// (sample times).
var timestampField = regexp.MustCompile(`"timestamp":[0-9.e+]+`)

func normalizeVarying(b []byte) []byte {
	return timestampField.ReplaceAll(b, []byte(`"timestamp":0`))
}

func typedCall(t agentpb.Call_Type) *agentpb.Call { return &agentpb.Call{Type: t.Enum()} }

// goldenAgent is an agent on the fake containerizer with a framework that
// has a running command task (its executor subscribed, RUNNING
// acknowledged), a queued custom-executor task, a finished task whose
// executor retired, a checkpointed reservation and a sandbox file.
func goldenAgent(t *testing.T) (*Agent, *fakeMaster, []string) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a, fc := fakeAgent(t, m, func(c *Config) {
		c.Flags = map[string]string{"work_dir": "/var/lib/agora", "port": "5051"}
		c.Attributes = "rack:r1"
	})
	m.nextSubscribe(wait)
	m.send(checkpointEvent(reservedDisk(128, "ops")))
	fw := testFramework("fw-1")
	fw.User = proto.String("tester")
	api := executorAPI{t, "http://" + a.Addr() + "/api/v1/executor"}
	var containers []string
	for i, id := range []string{"done", "running"} {
		m.send(runTaskEvent(fw, commandTask(id, "sleep 1")))
		containers = append(containers, nextLaunch(t, fc).ContainerID)
		waitLaunched(t, a, "fw-1", id)
		api.call(wire.Protobuf, subscribeCall("fw-1", id))
		uuid := bytes.Repeat([]byte{byte(i + 1)}, 16)
		wantStatus(t, api.call(wire.Protobuf, updateCall("fw-1", id, id, mesos.TaskState_TASK_RUNNING, uuid)), 202, "")
		wantUpdate(t, m.nextUpdate(wait), id, mesos.TaskState_TASK_RUNNING)
	}
	finished := bytes.Repeat([]byte{9}, 16)
	wantStatus(t, api.call(wire.Protobuf, updateCall("fw-1", "done", "done", mesos.TaskState_TASK_FINISHED, finished)), 202, "")
	wantUpdate(t, m.nextUpdate(wait), "done", mesos.TaskState_TASK_FINISHED)
	must(t, fc.Exit(containers[0], 0))
	m.send(customExecutorTask(fw, "custom", "queued"))
	containers = append(containers, nextLaunch(t, fc).ContainerID)
	waitLaunched(t, a, "fw-1", "custom")
	waitFor(t, "RUNNING acknowledged", func() bool { return a.updates.Head("fw-1", "running") == nil })
	waitFor(t, "the finished executor retired", func() bool {
		s := a.state()
		return len(s.Frameworks) == 1 && len(s.Frameworks[0].CompletedExecutors) == 1 && len(s.Frameworks[0].Executors) == 2
	})
	must(t, os.WriteFile(filepath.Join(findExecutor(t, a, "fw-1", "running").directory, "stdout"), []byte("hello, operator\n"), 0o644))
	waitFor(t, "the reservation", func() bool {
		_, err := os.Stat(a.paths.resourcesStateFile())
		return err == nil
	})
	return a, m, containers
}

// normalizeOperator replaces run-specific values (paths, addresses,
// container IDs, times, owners) and indents.
func normalizeOperator(t *testing.T, a *Agent, m *fakeMaster, containers []string, body []byte) []byte {
	t.Helper()
	s := string(body)
	s = strings.ReplaceAll(s, a.cfg.WorkDir, "<work_dir>")
	s = strings.ReplaceAll(s, a.Addr(), "<agent_addr>")
	s = strings.ReplaceAll(s, m.addr(), "<master_addr>")
	for i, id := range containers {
		s = strings.ReplaceAll(s, id, "<container_"+string(rune('a'+i))+">")
	}
	var v any
	must(t, json.Unmarshal([]byte(s), &v))
	zeroKeys(v, map[string]bool{"timestamp": true, "mtime": true, "uid": true, "gid": true, "port": true})
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(v))
	return out.Bytes()
}

// TestOperatorAPIGolden records every read call's answer in
// testdata/operator/ (re-record with -update).
func TestOperatorAPIGolden(t *testing.T) {
	a, m, containers := goldenAgent(t)
	stdout := "/frameworks/fw-1/executors/running/runs/latest/stdout"
	calls := map[string]*agentpb.Call{
		"get_health":             typedCall(agentpb.Call_GET_HEALTH),
		"get_flags":              typedCall(agentpb.Call_GET_FLAGS),
		"get_state":              typedCall(agentpb.Call_GET_STATE),
		"get_frameworks":         typedCall(agentpb.Call_GET_FRAMEWORKS),
		"get_executors":          typedCall(agentpb.Call_GET_EXECUTORS),
		"get_tasks":              typedCall(agentpb.Call_GET_TASKS),
		"get_containers":         typedCall(agentpb.Call_GET_CONTAINERS),
		"get_agent":              typedCall(agentpb.Call_GET_AGENT),
		"get_logging_level":      typedCall(agentpb.Call_GET_LOGGING_LEVEL),
		"get_operations":         typedCall(agentpb.Call_GET_OPERATIONS),
		"get_resource_providers": typedCall(agentpb.Call_GET_RESOURCE_PROVIDERS),
		"list_files": {Type: agentpb.Call_LIST_FILES.Enum(),
			ListFiles: &agentpb.Call_ListFiles{Path: proto.String("/frameworks/fw-1/executors/running/runs/latest")}},
		"read_file": {Type: agentpb.Call_READ_FILE.Enum(),
			ReadFile: &agentpb.Call_ReadFile{Path: proto.String(stdout), Offset: proto.Uint64(7), Length: proto.Uint64(8)}},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			got := normalizeOperator(t, a, m, containers, callBoth(t, a, call))
			golden := filepath.Join("testdata", "operator", name+".json")
			if *update {
				must(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				must(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to record)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (re-record with -update if intended):\n%s", name, golden, got)
			}
		})
	}
}

// TestOperatorAPIVersionAndMetrics: answers that change with the build or
// the machine are checked by shape.
func TestOperatorAPIVersionAndMetrics(t *testing.T) {
	m := newFakeMaster(t)
	a, _ := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	if v := callBoth(t, a, typedCall(agentpb.Call_GET_VERSION)); !strings.Contains(string(v), `"version":"`+version.Mesos+`"`) {
		t.Errorf("GET_VERSION: %s", v)
	}
	resp := operatorCall(t, a, wire.Protobuf, typedCall(agentpb.Call_GET_METRICS))
	names := map[string]bool{}
	for _, mt := range resp.GetGetMetrics().GetMetrics() {
		names[mt.GetName()] = true
	}
	for _, want := range []string{"slave/registered", "slave/uptime_secs", "slave/recovery_errors",
		"gc/path_removals_succeeded", "gc/path_removals_failed", "gc/path_removals_pending"} {
		if !names[want] {
			t.Errorf("GET_METRICS lacks %s", want)
		}
	}
}

// TestOperatorAPIErrors: the request ladder and each call's refusals.
func TestOperatorAPIErrors(t *testing.T) {
	m := newFakeMaster(t)
	a, _ := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	post := func(contentType, accept, body string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr()+"/api/v1", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		name              string
		contentType, body string
		accept            string
		want              int
	}{
		{"charset is not the media type", "application/json; charset=utf-8", `{"type":"GET_HEALTH"}`, "", 415},
		{"unacceptable Accept", "application/json", `{"type":"GET_HEALTH"}`, "text/html", 406},
		{"no type", "application/json", `{}`, "", 400},
		{"not JSON", "application/json", `{`, "", 400},
		{"not implemented", "application/json", `{"type":"LAUNCH_CONTAINER"}`, "", 501},
		{"no such file", "application/json", `{"type":"LIST_FILES","list_files":{"path":"/nowhere"}}`, "", 404},
		{"escape", "application/json", `{"type":"READ_FILE","read_file":{"path":"/frameworks/../etc/passwd","offset":0}}`, "", 403},
		{"unknown container", "application/json", `{"type":"KILL_CONTAINER","kill_container":{"container_id":{"value":"nope"}}}`, "", 404},
		{"nested without parent", "application/json",
			`{"type":"KILL_NESTED_CONTAINER","kill_nested_container":{"container_id":{"value":"nope"}}}`, "", 400},
		{"nested", "application/json",
			`{"type":"KILL_NESTED_CONTAINER","kill_nested_container":{"container_id":{"value":"c","parent":{"value":"p"}}}}`, "", 404},
		{"set level without duration", "application/json", `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1}}`, "", 400},
	} {
		if got := post(tc.contentType, tc.accept, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+a.Addr()+"/api/v1", nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v1 = %d, want 405", resp.StatusCode)
	}
}

// TestSetLoggingLevelLastsItsDuration: the level changes, then returns to
// the starting level.
func TestSetLoggingLevelLastsItsDuration(t *testing.T) {
	m := newFakeMaster(t)
	a, _ := fakeAgent(t, m, nil)
	level := func() uint32 {
		return operatorCall(t, a, wire.JSON, typedCall(agentpb.Call_GET_LOGGING_LEVEL)).GetGetLoggingLevel().GetLevel()
	}
	set := &agentpb.Call{Type: agentpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &agentpb.Call_SetLoggingLevel{
		Level: proto.Uint32(2), Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(200 * time.Millisecond))}}}
	if code, _, body := operatorPost(t, a, wire.Protobuf, set); code != http.StatusOK || len(body) != 0 {
		t.Fatalf("SET_LOGGING_LEVEL: %d %q, want 200 without a body", code, body)
	}
	if got := level(); got != 2 {
		t.Fatalf("level after SET_LOGGING_LEVEL = %d", got)
	}
	waitFor(t, "the level to come back", func() bool { return level() == 0 })
}

// TestKillContainerDestroysTheExecutor: KILL_CONTAINER (SIGKILL by
// default) destroys an executor's container; its task fails.
func TestKillContainerDestroysTheExecutor(t *testing.T) {
	m := newFakeMaster(t)
	a, fc := fakeAgent(t, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	spec := nextLaunch(t, fc)
	waitLaunched(t, a, "fw", "t1")
	kill := &agentpb.Call{Type: agentpb.Call_KILL_CONTAINER.Enum(), KillContainer: &agentpb.Call_KillContainer{
		ContainerId: &mesos.ContainerID{Value: proto.String(spec.ContainerID)}}}
	if code, _, body := operatorPost(t, a, wire.JSON, kill); code != http.StatusOK {
		t.Fatalf("KILL_CONTAINER: %d %s", code, body)
	}
	failed := m.nextUpdate(wait)
	wantUpdate(t, failed, "t1", mesos.TaskState_TASK_FAILED)
	if !strings.Contains(failed.GetStatus().GetMessage(), "KILL_CONTAINER") {
		t.Errorf("message %q", failed.GetStatus().GetMessage())
	}
	if fc.Running(spec.ContainerID) {
		t.Error("container still running")
	}
}

// TestKillContainerWithASignal: another signal goes to the container's
// first process, a real executor here, which dies of it.
func TestKillContainerWithASignal(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a := realAgent(t, m)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "run")))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_STARTING)
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_RUNNING)
	ex := findExecutor(t, a, "fw", "t1")
	kill := &agentpb.Call{Type: agentpb.Call_KILL_CONTAINER.Enum(), KillContainer: &agentpb.Call_KillContainer{
		ContainerId: &mesos.ContainerID{Value: proto.String(ex.containerID)}, Signal: proto.Int32(int32(syscall.SIGTERM))}}
	if code, _, body := operatorPost(t, a, wire.Protobuf, kill); code != http.StatusOK {
		t.Fatalf("KILL_CONTAINER: %d %s", code, body)
	}
	failed := m.nextUpdate(wait)
	wantUpdate(t, failed, "t1", mesos.TaskState_TASK_FAILED)
	if !strings.Contains(failed.GetStatus().GetMessage(), "signal terminated") {
		t.Errorf("message %q, want the executor killed by SIGTERM", failed.GetStatus().GetMessage())
	}
}

// TestFilesEndpointsAllowOtherOrigins: the sandbox file endpoints answer
// any origin, and their CORS preflight.
func TestFilesEndpointsAllowOtherOrigins(t *testing.T) {
	m := newFakeMaster(t)
	a, _ := fakeAgent(t, m, nil)
	for _, path := range []string{"/files/browse", "/files/read", "/files/download", "/files/read.json"} {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+a.Addr()+path, nil)
		req.Header.Set("Origin", "http://ui.example:5050")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Access-Control-Request-Headers", "x-requested-with")
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
			h.Get("Access-Control-Allow-Headers") != "x-requested-with" {
			t.Errorf("OPTIONS %s: %d %v", path, resp.StatusCode, h)
		}
		get, err := http.Get("http://" + a.Addr() + path + "?path=/nowhere")
		must(t, err)
		get.Body.Close()
		if get.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s (%d) lacks Access-Control-Allow-Origin: %v", path, get.StatusCode, get.Header)
		}
	}
	resp, err := http.Post("http://"+a.Addr()+"/files/read?path=/x", "text/plain", nil)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /files/read = %d, want 405", resp.StatusCode)
	}
}
