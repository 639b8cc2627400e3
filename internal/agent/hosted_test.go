package agent

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer/hosted"
	"github.com/agoraproject/agora/internal/executor/host"
)

// hostedConfig is an agent whose command executors run in an executor
// host (testdata/testhost), killed with its tasks when the test ends.
func hostedConfig(t *testing.T, m *fakeMaster) Config {
	workDir := t.TempDir()
	t.Cleanup(func() { killHost(workDir) })
	return Config{Masters: []string{m.addr()}, WorkDir: workDir, ExecutorCommand: []string{testHostPath},
		Containers: ContainerConfig{ExecutorHost: true}}
}

// hostPids lists the executor hosts of the agent working in workDir.
func hostPids(workDir string) []int {
	return pidsWhere(func(pid int) bool {
		dir, ok := environValue(pid, []byte(hosted.EnvHost+"="))
		return ok && dir == workDir
	})
}

// pidsWhere lists the processes for which keep says true.
func pidsWhere(keep func(pid int) bool) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && keep(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killHost(workDir string) {
	for _, pid := range hostPids(workDir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// nextState waits for the update of task id to state, skipping (auto
// acknowledged) updates of other tasks and earlier states.
func nextState(t *testing.T, m *fakeMaster, id string, state mesos.TaskState) *mesos.TaskStatus {
	t.Helper()
	return nextStates(t, m, map[string]mesos.TaskState{id: state})[id]
}

// nextStates waits for an update to the given state of each given task,
// in any order.
func nextStates(t *testing.T, m *fakeMaster, want map[string]mesos.TaskState) map[string]*mesos.TaskStatus {
	t.Helper()
	got := make(map[string]*mesos.TaskStatus, len(want))
	deadline := time.Now().Add(wait)
	for len(got) < len(want) && time.Now().Before(deadline) {
		st := m.nextUpdate(time.Until(deadline)).GetStatus()
		id := st.GetTaskId().GetValue()
		state, ok := want[id]
		switch {
		case !ok || got[id] != nil:
		case st.GetState() == state:
			got[id] = st
		case st.GetState().IsTerminal():
			t.Fatalf("task %s ended %s (%s), want %s", id, st.GetState(), st.GetMessage(), state)
		}
	}
	if len(got) < len(want) {
		t.Fatalf("updates %v, want %v", got, want)
	}
	return got
}

// TestHostedExecutorsShareOneHost: two command tasks run under one
// executor host process, not under the agent; their output reaches their
// sandboxes, a kill reaches the task, and the task's whole session goes.
func TestHostedExecutorsShareOneHost(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a := startAgent(t, hostedConfig(t, m))
	m.nextSubscribe(wait)
	fw := testFramework("fw-1")
	m.send(runTaskEvent(fw, commandTask("t1", "echo hello from the host; sleep 100 & wait")))
	m.send(runTaskEvent(fw, commandTask("t2", "sleep 100")))
	running := nextStates(t, m, map[string]mesos.TaskState{"t1": mesos.TaskState_TASK_RUNNING, "t2": mesos.TaskState_TASK_RUNNING})

	hosts := hostPids(a.cfg.WorkDir)
	if len(hosts) != 1 {
		t.Fatalf("executor hosts: %v, want one", hosts)
	}
	for _, st := range running {
		if pid := int(st.GetContainerStatus().GetExecutorPid()); pid != hosts[0] {
			t.Errorf("task %s: executor pid %d, want the host's %d", st.GetTaskId().GetValue(), pid, hosts[0])
		}
	}
	ex := findExecutor(t, a, "fw-1", "t1")
	waitFor(t, "the task's output", func() bool {
		out, _ := os.ReadFile(filepath.Join(ex.directory, "stdout"))
		return strings.Contains(string(out), "hello from the host\n")
	})
	if log, _ := os.ReadFile(filepath.Join(ex.directory, "stderr")); !strings.Contains(string(log), `msg="launching task"`) {
		t.Errorf("the executor's log in its sandbox's stderr: %q", log)
	}
	// The host keeps no file of a sandbox open (its forks would close
	// them all), and its executors reach the agent over the Unix socket.
	if open := filesUnder(hosts[0], filepath.Join(a.cfg.WorkDir, "slaves")); len(open) > 0 {
		t.Errorf("the host holds files of the work directory open: %v", open)
	}
	if n := unixConnectionsTo(t, host.AgentSocketName(a.cfg.WorkDir)); n < 2 {
		t.Errorf("%d connections on the agent's executor socket, want the two executors' event streams", n)
	}
	// The shell echoes before it forks sleep: wait for both.
	waitFor(t, "usage of t1 to count a shell and sleep", func() bool {
		stats, err := a.cont.Usage(ex.containerID)
		return err == nil && stats.GetProcesses() >= 2
	})
	sid := sessionOf(t, a, "t1")

	m.send(killTaskEvent("fw-1", "t1"))
	killed := nextState(t, m, "t1", mesos.TaskState_TASK_KILLED)
	if killed.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %s, want the executor", killed.GetSource())
	}
	waitFor(t, "the killed task's session to be empty", func() bool { return len(sessionMembers(sid)) == 0 })
	if st, err := a.cont.Usage(findExecutor(t, a, "fw-1", "t2").containerID); err != nil || st.GetProcesses() == 0 {
		t.Errorf("t2 after t1's kill: %v, %v", st, err)
	}
}

// TestHostedExecutorSurvivesAgentRestart: a restarted agent adopts the
// host's executors; the executor re-subscribes and acts on a kill.
func TestHostedExecutorSurvivesAgentRestart(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	r := newRestartable(t, hostedConfig(t, m))
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "sleep 100")))
	nextState(t, m, "t1", mesos.TaskState_TASK_RUNNING)
	host := hostPids(r.cfg.WorkDir)

	r.restart(nil, nil)
	sub := m.nextSubscribe(wait).GetSubscribe()
	if task := subscribedTask(t, sub, "t1"); task.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("re-subscribed task %v", task)
	}
	after := findExecutor(t, r.a, "fw-1", "t1")
	waitFor(t, "the executor to re-subscribe", func() bool {
		r.a.mu.Lock()
		defer r.a.mu.Unlock()
		return after.state == executorRunning
	})
	if now := hostPids(r.cfg.WorkDir); len(now) != 1 || now[0] != host[0] {
		t.Errorf("hosts after the restart %v, want the same %v", now, host)
	}
	m.send(killTaskEvent("fw-1", "t1"))
	killed := nextState(t, m, "t1", mesos.TaskState_TASK_KILLED)
	if killed.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("TASK_KILLED from %s, want the re-subscribed executor", killed.GetSource())
	}
}

// TestHostDeathEndsItsTasks: when the host dies, its tasks' sessions are
// killed, their tasks fail, and the next launch starts a new host.
func TestHostDeathEndsItsTasks(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a := startAgent(t, hostedConfig(t, m))
	m.nextSubscribe(wait)
	fw := testFramework("fw-1")
	m.send(runTaskEvent(fw, commandTask("t1", "sleep 100 & wait")))
	nextState(t, m, "t1", mesos.TaskState_TASK_RUNNING)
	sid := sessionOf(t, a, "t1")
	hosts := hostPids(a.cfg.WorkDir)

	syscall.Kill(hosts[0], syscall.SIGKILL)
	failed := nextState(t, m, "t1", mesos.TaskState_TASK_FAILED)
	if failed.GetSource() != mesos.TaskStatus_SOURCE_AGENT || !strings.Contains(failed.GetMessage(), "executor host exited") {
		t.Errorf("after the host died: %v", failed)
	}
	waitFor(t, "the dead host's task session to be empty", func() bool { return len(sessionMembers(sid)) == 0 })

	m.send(runTaskEvent(fw, commandTask("t2", "true")))
	nextState(t, m, "t2", mesos.TaskState_TASK_FINISHED)
	if now := hostPids(a.cfg.WorkDir); len(now) != 1 || now[0] == hosts[0] {
		t.Errorf("hosts after the relaunch %v (the dead one was %d)", now, hosts[0])
	}
}

// sessionOf is the session of the task process of task id: the only
// session led by a child of the host whose MESOS_TASK_ID is id.
func sessionOf(t *testing.T, a *Agent, id string) int {
	t.Helper()
	var sid int
	waitFor(t, "task "+id+"'s process", func() bool {
		for _, pid := range sessionLeaders() {
			if v, ok := environValue(pid, []byte("MESOS_TASK_ID=")); ok && v == id && hostedTask(pid) {
				sid = pid
				return true
			}
		}
		return false
	})
	return sid
}

func sessionLeaders() []int {
	return pidsWhere(func(pid int) bool {
		s, err := unix.Getsid(pid)
		return err == nil && s == pid
	})
}

// sessionMembers lists the live (not zombie) processes of session sid.
func sessionMembers(sid int) []int {
	return pidsWhere(func(pid int) bool {
		if s, err := unix.Getsid(pid); err != nil || s != sid {
			return false
		}
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		i := strings.LastIndexByte(string(stat), ')')
		return i > 0 && len(stat) > i+2 && stat[i+2] != 'Z'
	})
}

// filesUnder lists the files under dir that process pid holds open.
func filesUnder(pid int, dir string) []string {
	fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(target, dir+"/") {
			open = append(open, target)
		}
	}
	return open
}

// unixConnectionsTo counts the connected sockets accepted on the abstract
// Unix socket name, from /proc/net/unix (an accepted socket shows its
// listener's name; St 03 is connected).
func unixConnectionsTo(t *testing.T, name string) int {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && f[5] == "03" && f[7] == name {
			n++
		}
	}
	return n
}

// TestAgentServesOnlyTheExecutorAPIOnItsSocket: the Unix socket for the
// host's executors answers the executor API (here: a call without a
// type) and nothing else.
func TestAgentServesOnlyTheExecutorAPIOnItsSocket(t *testing.T) {
	m := newFakeMaster(t)
	a := startAgent(t, hostedConfig(t, m))
	m.nextSubscribe(wait)
	socket := host.AgentSocketName(a.cfg.WorkDir)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/api/v1/executor", http.StatusBadRequest},
		{http.MethodGet, "/state", http.StatusNotFound},
		{http.MethodPost, "/api/v1", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(c.method, "http://agent"+c.path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s on %s: %v", c.method, c.path, socket, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s on the executor socket: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}

// TestNoSwitchUserRunsTasksAsTheAgent: with --switch_user=false a task
// whose framework and command name another user runs as the agent's user,
// as in Mesos; its sandbox stays the agent's.
func TestNoSwitchUserRunsTasksAsTheAgent(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	cfg := hostedConfig(t, m)
	cfg.NoSwitchUser = true
	a := startAgent(t, cfg)
	m.nextSubscribe(wait)
	fw := testFramework("fw-1")
	fw.User = proto.String("nobody")
	task := commandTask("t1", "id -u")
	task.Command.User = proto.String("nobody")
	m.send(runTaskEvent(fw, task))
	nextState(t, m, "t1", mesos.TaskState_TASK_FINISHED)
	// The executor may be retired already: its sandbox stays.
	sandboxes, _ := filepath.Glob(filepath.Join(a.cfg.WorkDir, "slaves", "*", "frameworks", "fw-1", "executors", "t1", "runs", "latest"))
	if len(sandboxes) != 1 {
		t.Fatalf("sandboxes of t1: %v", sandboxes)
	}
	out, _ := os.ReadFile(filepath.Join(sandboxes[0], "stdout"))
	if want := strconv.Itoa(os.Getuid()) + "\n"; string(out) != want {
		t.Errorf("the task ran as uid %q, want the agent's %q", out, want)
	}
	fi, err := os.Stat(sandboxes[0])
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
		t.Errorf("sandbox owned by %d, want the agent's user", uid)
	}
}
