package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/client/scheduler"
	"github.com/agoraproject/agora/internal/schedtest"
)

// haCluster is three masters in one Raft group and agents that know all
// three.
type haCluster struct {
	masters []*masterProc
	agents  []*agentProc
}

type masterProc struct {
	name string
	addr string // HTTP host:port
	args []string
	proc *process
}

func (m *masterProc) url(path string) string { return "http://" + m.addr + path }

func startHACluster(t *testing.T, masterIPs []string, agentIPs []string) *haCluster {
	t.Helper()
	c := &haCluster{}
	var peers []string
	raftPorts := map[string]int{}
	for _, ip := range masterIPs {
		raftPorts[ip] = freePort(t, ip)
		peers = append(peers, net.JoinHostPort(ip, strconv.Itoa(raftPorts[ip])))
	}
	for i, ip := range masterIPs {
		port := freePort(t, ip)
		m := &masterProc{name: fmt.Sprintf("master%d", i+1), addr: net.JoinHostPort(ip, strconv.Itoa(port))}
		m.args = []string{"master", "--ip=" + ip, "--port=" + strconv.Itoa(port),
			"--raft_port=" + strconv.Itoa(raftPorts[ip]), "--peers=" + strings.Join(peers, ","),
			"--raft_timeout=300ms", "--work_dir=" + t.TempDir(), "--allocation_interval=100ms", "--apps_port=0",
			"--agent_ping_timeout=1secs"}
		m.proc = startAgora(t, m.name, m.args...)
		c.masters = append(c.masters, m)
	}
	c.waitLeader(t, nil)
	var addrs []string
	for _, m := range c.masters {
		addrs = append(addrs, m.addr)
	}
	for i, ip := range agentIPs {
		a := (&cluster{master: strings.Join(addrs, ",")}).startAgent(t, fmt.Sprintf("agent%d", i+1), ip, t.TempDir())
		c.agents = append(c.agents, a)
	}
	return c
}

// waitLeader waits until one master other than not leads (answers
// /master/state itself) and every live master redirects to it.
func (c *haCluster) waitLeader(t *testing.T, not *masterProc) *masterProc {
	t.Helper()
	var leader *masterProc
	waitUntil(t, "a new leading master", 30*time.Second, func() bool {
		leader = nil
		for _, m := range c.masters {
			if m == not {
				continue
			}
			if state, ok := getJSON(m.url("/master/state")); ok && state["leader"] == "master@"+m.addr {
				leader = m
			}
		}
		if leader == nil {
			return false
		}
		for _, m := range c.masters {
			if m != not && m != leader && redirectsTo(m) != leader.addr {
				return false
			}
		}
		return true
	})
	return leader
}

// redirectsTo is where a master's /master/redirect points ("" if nowhere).
func redirectsTo(m *masterProc) string {
	client := &http.Client{Timeout: 2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(m.url("/master/redirect"))
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return strings.TrimPrefix(resp.Header.Get("Location"), "//")
}

func getJSON(url string) (map[string]any, bool) {
	client := &http.Client{Timeout: 2 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var out map[string]any
	return out, json.NewDecoder(resp.Body).Decode(&out) == nil
}

// failoverFramework launches `sleep 600` tasks continuously and records
// what it sees, acknowledging every update.
type failoverFramework struct {
	c      *scheduler.Client
	target int

	mu         sync.Mutex
	launched   map[string]bool
	states     map[string]mesos.TaskState
	uuidsSeen  map[string]bool
	subscribed int
}

func (f *failoverFramework) HandleEvent(ctx context.Context, ev *sched.Event) {
	switch ev.GetType() {
	case sched.Event_SUBSCRIBED:
		f.mu.Lock()
		f.subscribed++
		f.mu.Unlock()
	case sched.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			f.launchSome(ctx, o)
		}
	case sched.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		f.mu.Lock()
		f.states[st.GetTaskId().GetValue()] = st.GetState()
		if len(st.GetUuid()) > 0 {
			f.uuidsSeen[string(st.GetUuid())] = true
		}
		f.mu.Unlock()
		f.c.Acknowledge(ctx, st)
	}
}

func (f *failoverFramework) launchSome(ctx context.Context, o *mesos.Offer) {
	f.mu.Lock()
	var tasks []*mesos.TaskInfo
	for len(tasks) < min(2, fits(o)) && len(f.launched) < f.target {
		id := "ft-" + strconv.Itoa(len(f.launched))
		f.launched[id] = true
		tasks = append(tasks, shortTask(id, o, "sleep 600"))
	}
	f.mu.Unlock()
	if len(tasks) == 0 {
		f.c.Decline(ctx, []*mesos.OfferID{o.GetId()}, &mesos.Filters{RefuseSeconds: proto.Float64(3600)})
		return
	}
	f.c.Launch(ctx, o.GetId(), tasks, &mesos.Filters{RefuseSeconds: proto.Float64(0)})
}

// TestLeaderFailover kills the leading master with SIGKILL, round after
// round, while a framework launches tasks: each time a new leader serves,
// the framework is back under the same ID, the agents re-register, and no
// task is lost or runs twice. AGORA_FAILOVER_ROUNDS runs more rounds (the
// issue's long run is 50).
func TestLeaderFailover(t *testing.T) {
	rounds := 5
	if n, err := strconv.Atoi(os.Getenv("AGORA_FAILOVER_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	c := startHACluster(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, []string{"127.0.0.4", "127.0.0.5"})
	var addrs []string
	for _, m := range c.masters {
		addrs = append(addrs, m.addr)
	}
	info := schedtest.FrameworkInfo("failover")
	info.FailoverTimeout = proto.Float64(3600)
	info.Checkpoint = proto.Bool(true)
	fw := &failoverFramework{target: 12 * (rounds + 1), launched: map[string]bool{},
		states: map[string]mesos.TaskState{}, uuidsSeen: map[string]bool{}}
	client, err := scheduler.New(scheduler.Config{Masters: addrs, Framework: info, Encoding: wire.Protobuf,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fw.c = client
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- client.Run(ctx, fw) }()
	t.Cleanup(func() { cancel(); <-done })
	<-client.Subscribed()
	frameworkID := client.FrameworkID()

	leader := c.waitLeader(t, nil)
	for round := 1; round <= rounds; round++ {
		// Let some tasks start under this leader.
		want := 12 * round
		waitUntil(t, fmt.Sprintf("round %d: %d tasks running", round, want), 60*time.Second, func() bool {
			return fw.count(mesos.TaskState_TASK_RUNNING) >= want
		})
		fw.mu.Lock()
		subsBefore := fw.subscribed
		fw.mu.Unlock()

		leader.proc.stop(syscall.SIGKILL, 0)
		killed := leader
		leader = c.waitLeader(t, killed)
		waitUntil(t, "the framework re-subscribed", 30*time.Second, func() bool {
			fw.mu.Lock()
			defer fw.mu.Unlock()
			return fw.subscribed > subsBefore
		})
		if client.FrameworkID() != frameworkID {
			t.Fatalf("round %d: framework re-subscribed as %s, want %s", round, client.FrameworkID(), frameworkID)
		}
		waitUntil(t, "both agents re-registered", 30*time.Second, func() bool {
			return activeAgents(leader) == len(c.agents)
		})
		// Bring the killed master back so the group keeps three members.
		killed.proc = startAgora(t, fmt.Sprintf("%s-round%d", killed.name, round), killed.args...)
		c.checkNoTaskLostOrDoubled(t, fw, leader, round)
	}
}

func (f *failoverFramework) count(state mesos.TaskState) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.states {
		if s == state {
			n++
		}
	}
	return n
}

func activeAgents(m *masterProc) int {
	state, ok := getJSON(m.url("/master/slaves"))
	if !ok {
		return 0
	}
	n := 0
	for _, s := range state["slaves"].([]any) {
		if s.(map[string]any)["active"] == true {
			n++
		}
	}
	return n
}

// checkNoTaskLostOrDoubled: every task the framework launched and saw
// running is still running in the leader's view, and no task runs as two
// processes on the agents.
func (c *haCluster) checkNoTaskLostOrDoubled(t *testing.T, fw *failoverFramework, leader *masterProc, round int) {
	t.Helper()
	waitUntil(t, "the leader knows every running task", 30*time.Second, func() bool {
		tasks := leaderTaskStates(leader)
		fw.mu.Lock()
		defer fw.mu.Unlock()
		for id, s := range fw.states {
			if s == mesos.TaskState_TASK_RUNNING && tasks[id] != "TASK_RUNNING" {
				return false
			}
		}
		return true
	})
	// A task is one process group (its shell and children share it).
	groups := map[string]map[int]bool{}
	for _, a := range c.agents {
		for _, pid := range leftoverExecutors(a.workDir) {
			if id := taskIDOf(pid); id != "" {
				if groups[id] == nil {
					groups[id] = map[int]bool{}
				}
				groups[id][processGroup(pid)] = true
			}
		}
	}
	for id, g := range groups {
		if len(g) > 1 {
			t.Fatalf("round %d: task %s runs twice (process groups %v)", round, id, g)
		}
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for id, s := range fw.states {
		if s != mesos.TaskState_TASK_RUNNING && s != mesos.TaskState_TASK_STARTING && s != mesos.TaskState_TASK_STAGING {
			t.Errorf("round %d: task %s ended %v", round, id, s)
		}
	}
}

func leaderTaskStates(m *masterProc) map[string]string {
	out := map[string]string{}
	state, ok := getJSON(m.url("/master/tasks?limit=100000"))
	if !ok {
		return out
	}
	for _, task := range state["tasks"].([]any) {
		tm := task.(map[string]any)
		out[tm["id"].(string)] = tm["state"].(string)
	}
	return out
}

// processGroup reads a process's group ID from /proc/<pid>/stat.
func processGroup(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	pgid, _ := strconv.Atoi(fields[2])
	return pgid
}

// taskIDOf reads MESOS_TASK_ID from a process's environment: the task
// command's, not its executor's (which has none).
func taskIDOf(pid int) string {
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return ""
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, "MESOS_TASK_ID="); ok {
			return v
		}
	}
	return ""
}
