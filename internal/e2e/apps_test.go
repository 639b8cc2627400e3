package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agoraproject/agora/client/marathon"
)

// appTasks returns an app's tasks that run, and whether all of them run
// its current version.
func appTasks(ctx context.Context, c *marathon.Client, id string) (running int, current bool, err error) {
	app, err := c.App(ctx, id)
	if err != nil {
		return 0, false, err
	}
	tasks, err := c.Tasks(ctx, id)
	if err != nil {
		return 0, false, err
	}
	current = true
	for _, t := range tasks {
		if t.State == "TASK_RUNNING" {
			running++
			current = current && t.Version == app.Version
		}
	}
	return running, current, nil
}

// TestAppsOnTheMaster: the leading master runs the apps framework and
// serves the Marathon API on its own port: deploy, scale, delete.
func TestAppsOnTheMaster(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	ctx := context.Background()
	api := marathon.New("http://" + c.master)
	waitUntil(t, "the apps API", 20*time.Second, func() bool { _, err := api.Info(ctx); return err == nil })

	def := `{"id":"/web","cmd":"sleep 600","cpus":0.1,"mem":32,"instances":2}`
	if _, _, err := api.PutApp(ctx, []byte(def), false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "2 instances running", 30*time.Second, func() bool {
		n, _, err := appTasks(ctx, api, "/web")
		return err == nil && n == 2
	})
	if _, err := api.ScaleApp(ctx, "/web", 3, false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "3 instances running", 30*time.Second, func() bool {
		n, _, err := appTasks(ctx, api, "/web")
		return err == nil && n == 3
	})
	if _, err := api.DeleteApp(ctx, "/web"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the app gone", 30*time.Second, func() bool {
		_, err := api.App(ctx, "/web")
		return marathon.IsNotFound(err)
	})
}

// TestDeploymentSurvivesLeaderFailover: SIGKILL the leading master in the
// middle of a rolling restart; the new leader's apps framework finishes it,
// and the instance count is right afterwards.
func TestDeploymentSurvivesLeaderFailover(t *testing.T) {
	c := startHACluster(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, []string{"127.0.0.4", "127.0.0.5"})
	var servers []string
	for _, m := range c.masters {
		servers = append(servers, "http://"+m.addr)
	}
	ctx := context.Background()
	api := marathon.New(servers...)
	waitUntil(t, "the apps API", 30*time.Second, func() bool { _, err := api.Info(ctx); return err == nil })
	const instances = 4
	// Each new instance takes a while to become ready, so the restart
	// takes several seconds: long enough to kill the leader during it.
	app := func(cmd string) []byte {
		return []byte(fmt.Sprintf(`{"id":"/svc","cmd":%q,"cpus":0.05,"mem":16,"instances":%d,
			"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":0.25},
			"readinessChecks":[],"healthChecks":[]}`, cmd, instances))
	}
	if _, _, err := api.PutApp(ctx, app("sleep 600"), false); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first version running", 60*time.Second, func() bool {
		n, cur, err := appTasks(ctx, api, "/svc")
		return err == nil && n == instances && cur
	})
	res, _, err := api.PutApp(ctx, app("sleep 601"), false)
	if err != nil {
		t.Fatal(err)
	}
	// Kill the leader once the restart is under way.
	waitUntil(t, "the restart under way", 30*time.Second, func() bool {
		tasks, err := api.Tasks(ctx, "/svc")
		return err == nil && len(tasks) > instances
	})
	leader := c.waitLeader(t, nil)
	leader.proc.stop(syscall.SIGKILL, 0)
	c.waitLeader(t, leader)

	waitUntil(t, "the deployment finished by the new leader", 120*time.Second, func() bool {
		running, err := api.DeploymentRunning(ctx, res.DeploymentID)
		return err == nil && !running
	})
	waitUntil(t, "exactly the new version running", 60*time.Second, func() bool {
		n, cur, err := appTasks(ctx, api, "/svc")
		return err == nil && n == instances && cur
	})
	tasks, _ := api.Tasks(ctx, "/svc")
	for _, task := range tasks {
		if !strings.HasPrefix(task.ID, "svc.") {
			t.Errorf("unexpected task %s", task.ID)
		}
	}
}
