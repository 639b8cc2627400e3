package executor

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer/image"
	"github.com/agoraproject/agora/internal/testenv"
)

// flakyServer answers 200 to the first `good` requests and 500 after.
func flakyServer(t *testing.T, good int32) (port uint32, hits *atomic.Int32) {
	t.Helper()
	hits = &atomic.Int32{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > good {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return uint32(ln.Addr().(*net.TCPAddr).Port), hits
}

func fastHealthCheck(hc *mesos.HealthCheck, grace time.Duration) *mesos.HealthCheck {
	hc.DelaySeconds = proto.Float64(0)
	hc.IntervalSeconds = proto.Float64(0.05)
	hc.TimeoutSeconds = proto.Float64(2)
	hc.GracePeriodSeconds = proto.Float64(grace.Seconds())
	hc.ConsecutiveFailures = proto.Uint32(3)
	return hc
}

// TestHTTPHealthCheckKillsTheTaskAfterConsecutiveFailures: healthy while
// the server answers 200, then a healthy=false update per failure, and
// after three the task is killed: TASK_KILLED, healthy=false.
func TestHTTPHealthCheckKillsTheTaskAfterConsecutiveFailures(t *testing.T) {
	port, _ := flakyServer(t, 2)
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	task := shellTask("web", "sleep 600")
	task.HealthCheck = fastHealthCheck(&mesos.HealthCheck{
		Type: mesos.HealthCheck_HTTP.Enum(),
		Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(port), Path: proto.String("/health")},
	}, 0)
	a.launch(task)
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	healthy := a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	if !healthy.GetHealthy() || healthy.GetReason() != mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
		t.Fatalf("first health update: healthy=%v reason=%v", healthy.Healthy, healthy.GetReason())
	}
	for i := range 3 {
		s := a.expectUpdate(mesos.TaskState_TASK_RUNNING)
		if s.Healthy == nil || s.GetHealthy() {
			t.Fatalf("failure %d: healthy=%v, want false", i+1, s.Healthy)
		}
	}
	killed := a.expectUpdate(mesos.TaskState_TASK_KILLED)
	if killed.Healthy == nil || killed.GetHealthy() || killed.GetReason() != mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED {
		t.Fatalf("terminal update: healthy=%v reason=%v message %q", killed.Healthy, killed.GetReason(), killed.GetMessage())
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestHealthFailuresInTheGracePeriodAreIgnored: a check that always fails
// says nothing until the grace period is over.
func TestHealthFailuresInTheGracePeriodAreIgnored(t *testing.T) {
	a := newFakeAgent(t)
	startExecutor(t, a, nil)
	a.nextSubscribe()
	task := shellTask("t", "sleep 600")
	const grace = 500 * time.Millisecond
	task.HealthCheck = fastHealthCheck(&mesos.HealthCheck{
		Type:    mesos.HealthCheck_COMMAND.Enum(),
		Command: &mesos.CommandInfo{Value: proto.String("exit 1")},
	}, grace)
	a.launch(task)
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	running := recv(t, a.updates, "RUNNING")
	unhealthy := recv(t, a.updates, "health update")
	status := unhealthy.call.GetUpdate().GetStatus()
	if status.Healthy == nil || status.GetHealthy() {
		t.Fatalf("update %s healthy=%v, want healthy=false", status.GetState(), status.Healthy)
	}
	if d := unhealthy.at.Sub(running.at); d < grace-100*time.Millisecond {
		t.Fatalf("first unhealthy update %v after RUNNING, within the %v grace period", d, grace)
	}
}

// TestTCPAndCommandChecksReportCheckStatus: general checks report results
// in check_status and never kill.
func TestTCPAndCommandChecksReportCheckStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	cases := []struct {
		name  string
		check *mesos.CheckInfo
		ok    func(*mesos.CheckStatusInfo) bool
	}{
		{"tcp", &mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(port)}},
			func(s *mesos.CheckStatusInfo) bool { return s.GetTcp().GetSucceeded() }},
		{"command", &mesos.CheckInfo{Type: mesos.CheckInfo_COMMAND.Enum(),
			Command: &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{Value: proto.String("exit 7")}}},
			func(s *mesos.CheckStatusInfo) bool { return s.GetCommand().GetExitCode() == 7 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newFakeAgent(t)
			startExecutor(t, a, nil)
			a.nextSubscribe()
			task := shellTask("t", "sleep 600")
			c.check.DelaySeconds, c.check.IntervalSeconds = proto.Float64(0), proto.Float64(0.05)
			task.Check = c.check
			a.launch(task)
			a.expectUpdate(mesos.TaskState_TASK_STARTING)
			running := a.expectUpdate(mesos.TaskState_TASK_RUNNING)
			if running.GetCheckStatus().GetType() != c.check.GetType() {
				t.Fatalf("RUNNING check_status = %v, want an empty one of type %s", running.GetCheckStatus(), c.check.GetType())
			}
			s := a.expectUpdate(mesos.TaskState_TASK_RUNNING)
			if s.GetReason() != mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED || !c.ok(s.GetCheckStatus()) {
				t.Fatalf("check update: reason %v, check_status %v", s.GetReason(), s.GetCheckStatus())
			}
		})
	}
}

func (a *fakeAgent) launchGroup(tasks ...*mesos.TaskInfo) {
	a.send(&executorv1.Event{
		Type:        executorv1.Event_LAUNCH_GROUP.Enum(),
		LaunchGroup: &executorv1.Event_LaunchGroup{TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks}},
	})
}

// updatesByTask collects n updates and groups their states by task.
func updatesByTask(t *testing.T, a *fakeAgent, n int) map[string][]*mesos.TaskStatus {
	t.Helper()
	out := map[string][]*mesos.TaskStatus{}
	for range n {
		s := a.nextUpdate()
		out[s.GetTaskId().GetValue()] = append(out[s.GetTaskId().GetValue()], s)
	}
	return out
}

func states(list []*mesos.TaskStatus) []mesos.TaskState {
	var out []mesos.TaskState
	for _, s := range list {
		out = append(out, s.GetState())
	}
	return out
}

// TestTaskGroupRunsEachTaskInItsNestedSandbox: two tasks of one group run
// side by side, each with its own status stream and nested sandbox, and
// the executor leaves once both are over.
func TestTaskGroupRunsEachTaskInItsNestedSandbox(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launchGroup(shellTask("first", `echo "first in $MESOS_SANDBOX"`), shellTask("second", "sleep 0.2; echo second"))
	byTask := updatesByTask(t, a, 6)
	want := []mesos.TaskState{mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED}
	for _, id := range []string{"first", "second"} {
		if got := states(byTask[id]); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("%s states %v, want %v", id, got, want)
		}
		cid := byTask[id][1].GetContainerStatus().GetContainerId()
		if cid.GetParent().GetValue() != testContainerID || cid.GetValue() == "" {
			t.Errorf("%s container id %v, want a child of %s", id, cid, testContainerID)
		}
		out, err := os.ReadFile(filepath.Join(e.dir, "tasks", id, "stdout"))
		if err != nil {
			t.Fatalf("%s stdout: %v", id, err)
		}
		if len(out) == 0 {
			t.Errorf("%s wrote nothing to its nested stdout", id)
		}
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestTaskGroupTaskOfAnotherUserOwnsItsSandbox: an executor running as root
// (as in an executor host) gives a group task's nested sandbox to the
// task's user, who can then write there.
func TestTaskGroupTaskOfAnotherUserOwnsItsSandbox(t *testing.T) {
	a := newFakeAgent(t)
	e, _ := executorAsRootForNobody(t, a)
	a.nextSubscribe()
	task := shellTask("writer", "echo written > here && cat here")
	task.Command.User = proto.String("nobody")
	a.launchGroup(task)
	byTask := updatesByTask(t, a, 3)
	if got := states(byTask["writer"]); len(got) != 3 || got[2] != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("writer states %v (%s), want it FINISHED", got, byTask["writer"][len(got)-1].GetMessage())
	}
	if out, _ := os.ReadFile(filepath.Join(e.dir, "tasks", "writer", "stdout")); string(out) != "written\n" {
		t.Errorf("writer stdout %q", out)
	}
}

// TestTaskGroupSandboxIsMadeAsTheSandboxUser: an executor running as root
// makes a group task's nested sandbox as the user whose sandbox it is;
// a symlink that user's tasks left there leads nowhere the user could not
// write, and the task fails instead.
func TestTaskGroupSandboxIsMadeAsTheSandboxUser(t *testing.T) {
	a := newFakeAgent(t)
	var nobody *user.User
	e := startExecutor(t, a, func(cfg *Config) {
		nobody, cfg.TaskUser = testenv.Nobody(t, "switching users"), "nobody"
	})
	uid, _ := strconv.Atoi(nobody.Uid)
	rootOnly := filepath.Join(filepath.Dir(e.dir), "root-only")
	err := errors.Join(os.Chmod(filepath.Dir(e.dir), 0o755), os.Chown(e.dir, uid, -1), os.Chmod(e.dir, 0o755),
		os.Mkdir(rootOnly, 0o755), os.Symlink(rootOnly, filepath.Join(e.dir, "containers")))
	if err != nil {
		t.Fatal(err)
	}
	a.nextSubscribe()
	a.launchGroup(shellTask("planted", "true"))
	failed := a.expectUpdate(mesos.TaskState_TASK_FAILED)
	if !strings.Contains(failed.GetMessage(), "permission denied") {
		t.Errorf("FAILED %q, want the permission error", failed.GetMessage())
	}
	if entries, _ := os.ReadDir(rootOnly); len(entries) != 0 {
		t.Errorf("root's directory got %d entries through the user's symlink", len(entries))
	}
}

// TestTaskGroupMemberFailureKillsTheGroup: when one task fails, the rest of
// its group is killed.
func TestTaskGroupMemberFailureKillsTheGroup(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launchGroup(shellTask("fails", "sleep 0.2; exit 2"), shellTask("sleeps", "sleep 600"))
	byTask := updatesByTask(t, a, 6)
	if got := states(byTask["fails"]); got[len(got)-1] != mesos.TaskState_TASK_FAILED {
		t.Fatalf("fails: %v", got)
	}
	if got := states(byTask["sleeps"]); got[len(got)-1] != mesos.TaskState_TASK_KILLED {
		t.Fatalf("sleeps: %v", got)
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestCommandExecutorRefusesTaskGroupsAfterALaunch(t *testing.T) {
	a := newFakeAgent(t)
	startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("one", "sleep 600"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.launchGroup(shellTask("two", "true"))
	s := a.expectUpdate(mesos.TaskState_TASK_FAILED)
	if s.GetTaskId().GetValue() != "two" {
		t.Fatalf("FAILED for %s, want two", s.GetTaskId().GetValue())
	}
}

// TestImageArgv is Mesos' table of how an image's entrypoint and cmd meet
// a command without a value.
func TestImageArgv(t *testing.T) {
	cases := []struct {
		entry, cmd, args, want []string
	}{
		{nil, []string{"c0", "c1"}, nil, []string{"c0", "c1"}},
		{nil, []string{"c0", "c1"}, []string{"a"}, []string{"c0", "a"}},
		{[]string{"e0", "e1"}, nil, nil, []string{"e0", "e1"}},
		{[]string{"e0"}, []string{"c0"}, nil, []string{"e0", "c0"}},
		{[]string{"e0"}, []string{"c0"}, []string{"a"}, []string{"e0", "a"}},
	}
	for _, c := range cases {
		path, argv, lerr := imageArgv(&image.RuntimeConfig{Entrypoint: c.entry, Cmd: c.cmd}, c.args)
		if lerr != nil || path != c.want[0] || strconv.Quote(join(argv)) != strconv.Quote(join(c.want)) {
			t.Errorf("entry %v cmd %v args %v: %s %v (%v), want %v", c.entry, c.cmd, c.args, path, argv, lerr, c.want)
		}
	}
	if _, _, lerr := imageArgv(&image.RuntimeConfig{}, nil); lerr == nil {
		t.Errorf("an image with neither entrypoint nor cmd was accepted")
	}
}

func join(s []string) string {
	out := ""
	for _, v := range s {
		out += v + "\x00"
	}
	return out
}
