package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/agent"
	"github.com/agoraproject/agora/internal/containerizer/fake"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/schedtest"
)

// operatorCluster is an in-process master and one agent with the fake
// containerizer (tasks stay STAGING: no executor ever subscribes).
type operatorCluster struct {
	master string
	agent  *agent.Agent
}

func startOperatorCluster(t *testing.T) *operatorCluster {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := registry.Open(registry.Config{BindAddr: "127.0.0.1:0", DataDir: t.TempDir(), Bootstrap: true, Logger: quiet,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond, LeaderLeaseTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	m, err := master.New(master.Config{ListenAddr: "127.0.0.1:0", AllocationInterval: 50 * time.Millisecond, Registry: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{WorkDir: t.TempDir(), Masters: []string{m.Addr()}, ListenAddr: "127.0.0.1:0",
		Hostname: "cli.example", Resources: "cpus:2;mem:1024;disk:1024;ports:[31000-31010]", Containerizer: fake.New(),
		RegistrationBackoff: 10 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx) })
	wg.Go(func() { a.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for a.ID() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the agent did not register")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return &operatorCluster{master: m.Addr(), agent: a}
}

// operatorRoot is a command tree with only the operator commands.
func operatorRoot() *cobra.Command {
	root := &cobra.Command{Use: "agora", SilenceUsage: true, SilenceErrors: true}
	addOperatorCommands(root)
	return root
}

// agora runs an operator command against the cluster's master.
func (c *operatorCluster) agora(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return run(t, operatorRoot(), stdin, append(args, "--master", c.master)...)
}

func (c *operatorCluster) mustAgora(t *testing.T, want string, args ...string) string {
	t.Helper()
	out, err := c.agora(t, "", args...)
	if err != nil || !strings.Contains(out, want) {
		t.Fatalf("agora %s: %v\n%s\n(want %q in it)", strings.Join(args, " "), err, out, want)
	}
	return out
}

// sandbox finds the directory of an executor's sandbox from the agent's
// /state.
func (c *operatorCluster) sandbox(t *testing.T, executorID string) string {
	t.Helper()
	resp, err := http.Get("http://" + c.agent.Addr() + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct {
		Frameworks []struct {
			Executors []struct {
				ID        string `json:"id"`
				Directory string `json:"directory"`
			} `json:"executors"`
		} `json:"frameworks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	for _, f := range state.Frameworks {
		for _, e := range f.Executors {
			if e.ID == executorID {
				return e.Directory
			}
		}
	}
	t.Fatalf("no sandbox of executor %s in the agent's state", executorID)
	return ""
}

func TestOperatorCommands(t *testing.T) {
	c := startOperatorCluster(t)
	agentID := c.agent.ID()
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("cli-fw"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := schedtest.CommandTask("cli-task", offer, "echo hello")
	s.MustCall(&sched.Call{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{
		OfferIds: []*mesos.OfferID{offer.GetId()},
		Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(),
			Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{task}}}},
		Filters: &mesos.Filters{RefuseSeconds: proto.Float64(3600)}}})

	c.mustAgora(t, "1 active, 0 deactivated", "cluster", "status")
	var status clusterStatus
	out := c.mustAgora(t, `"frameworks": 1`, "cluster", "status", "-o", "json")
	if err := json.Unmarshal([]byte(out), &status); err != nil || status.Total["cpus"] != 2 || status.Tasks["STAGING"] != 1 {
		t.Fatalf("cluster status -o json: %v %+v", err, status)
	}
	c.mustAgora(t, "cli.example", "agent", "show", agentID)
	c.mustAgora(t, "cli-task", "agent", "show", agentID)
	c.mustAgora(t, `"hostname": "cli.example"`, "agent", "show", agentID, "-o", "json")
	c.mustAgora(t, "cli-fw", "framework", "show", s.FrameworkID)
	c.mustAgora(t, "TASK_STAGING", "task", "show", "cli-task")
	if _, err := c.agora(t, "", "task", "show", "no-such-task"); err == nil {
		t.Error("task show of an unknown task succeeded")
	}
	if _, err := c.agora(t, "", "task", "kill", "cli-task"); err == nil || !strings.Contains(err.Error(), "no container") {
		t.Errorf("task kill of a task without a container: %v", err)
	}

	c.mustAgora(t, "weights of 1 role(s) set", "weights", "set", "eng=2.5")
	c.mustAgora(t, "2.5", "weights")
	c.mustAgora(t, "quota of role eng set", "quota", "set", "eng", "--limit", "cpus=1,mem=512")
	c.mustAgora(t, "cpus=1,mem=512", "quota")
	c.mustAgora(t, "removed", "quota", "remove", "eng")
	if out := c.mustAgora(t, "ROLE", "quota"); strings.Contains(out, "eng") {
		t.Errorf("quota after remove:\n%s", out)
	}

	c.mustAgora(t, "1 machine(s) scheduled", "maintenance", "add", "other.example/10.1.2.3", "--duration", "2h")
	c.mustAgora(t, "other.example/10.1.2.3", "maintenance", "schedule")
	c.mustAgora(t, "DRAINING", "maintenance", "status")
	c.mustAgora(t, "1 machine(s) down", "maintenance", "down", "other.example/10.1.2.3")
	c.mustAgora(t, "DOWN", "maintenance", "status")
	c.mustAgora(t, "1 machine(s) up", "maintenance", "up", "other.example/10.1.2.3")
	if out, err := c.agora(t, `{"windows":[]}`, "maintenance", "schedule", "set", "-"); err != nil || !strings.Contains(out, "0 window") {
		t.Fatalf("maintenance schedule set: %v\n%s", err, out)
	}

	c.testTaskLogs(t)

	c.mustAgora(t, "deactivated", "agent", "deactivate", agentID)
	c.mustAgora(t, "deactivated", "agent", "show", agentID)
	c.mustAgora(t, "reactivated", "agent", "reactivate", agentID)
	c.mustAgora(t, "torn down", "framework", "teardown", s.FrameworkID)
	c.mustAgora(t, "completed", "framework", "show", s.FrameworkID)
	c.mustAgora(t, "is draining", "agent", "drain", agentID, "--max-grace-period", "1s")
	c.mustAgora(t, "drain", "agent", "show", agentID)
}

// testTaskLogs writes to the task's sandbox stdout and reads it back with
// `task logs`, then follows it while more is appended.
func (c *operatorCluster) testTaskLogs(t *testing.T) {
	stdout := filepath.Join(c.sandbox(t, "cli-task"), "stdout")
	if err := os.WriteFile(stdout, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustAgora(t, "hello", "task", "logs", "cli-task")
	if out := c.mustAgora(t, "llo", "task", "logs", "cli-task", "--tail", "4"); strings.Contains(out, "he") {
		t.Errorf("--tail 4 printed %q", out)
	}

	pr, pw := io.Pipe()
	root := operatorRoot()
	root.SetOut(pw)
	root.SetArgs([]string{"task", "logs", "cli-task", "-f", "--master", c.master})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx); pw.Close() }()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() || lines.Text() != "hello" {
		t.Fatalf("task logs -f: first line %q", lines.Text())
	}
	f, err := os.OpenFile(stdout, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("world\n")
	f.Close()
	if !lines.Scan() || lines.Text() != "world" {
		t.Fatalf("task logs -f: appended line %q", lines.Text())
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatalf("task logs -f: %v", err)
	}
}
