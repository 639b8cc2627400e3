package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/client/operator"
	"github.com/agoraproject/agora/internal/apps"
	"github.com/agoraproject/agora/internal/apps/store"
)

// marathonServer runs the apps framework with no master behind it:
// changes are accepted and their deployments stay running.
func marathonServer(t *testing.T) string {
	t.Helper()
	fw, err := apps.New(apps.Config{Masters: []string{"127.0.0.1:1"}, Store: store.NewMem(), Hostname: "127.0.0.1",
		Logger: newLogger().With("test", t.Name())})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fw.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { fw.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); srv.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(srv.URL + "/v2/info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv.URL
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the apps framework did not start serving")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run executes a command tree with args and returns its output.
func run(t *testing.T, cmd *cobra.Command, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAppCommands(t *testing.T) {
	url := marathonServer(t)
	def := filepath.Join(t.TempDir(), "web.json")
	os.WriteFile(def, []byte(`{"id":"/web","cmd":"sleep 100","instances":2,"cpus":0.1,"mem":32}`), 0o644)

	out, err := run(t, newAppCommand(), "", "deploy", def, "--marathon", url)
	if err != nil || !strings.Contains(out, "app /web created: deployment ") {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	out, err = run(t, newAppCommand(), `{"id":"/web","cmd":"sleep 200","instances":2}`, "deploy", "-", "--force", "--marathon", url)
	if err != nil || !strings.Contains(out, "app /web updated") {
		t.Fatalf("deploy from stdin: %v\n%s", err, out)
	}
	out, err = run(t, newAppCommand(), "", "list", "--marathon", url)
	if err != nil || !strings.Contains(out, "/web") || !strings.Contains(out, "sleep 200") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err = run(t, newAppCommand(), "", "scale", "web", "3", "--marathon", url); err == nil {
		t.Error("scale of a locked app without --force succeeded")
	}
	if out, err = run(t, newAppCommand(), "", "scale", "web", "3", "--force", "--marathon", url); err != nil {
		t.Fatalf("scale --force: %v\n%s", err, out)
	}
	out, err = run(t, newAppCommand(), "", "show", "/web", "-o", "json", "--marathon", url)
	var shown marathon.AppInfo
	if err != nil || json.Unmarshal([]byte(out), &shown) != nil || shown.Instances != 3 {
		t.Fatalf("show -o json: %v\n%s", err, out)
	}
	out, err = run(t, newAppCommand(), "", "versions", "web", "--marathon", url)
	if err != nil || strings.Count(out, "\n") != 4 {
		t.Fatalf("versions (header + 3): %v\n%s", err, out)
	}
	if out, err = run(t, newAppCommand(), "", "rollback", "web", "--force", "--marathon", url); err != nil || !strings.Contains(out, "rolling back to") {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	if out, err = run(t, newAppCommand(), "", "restart", "web", "--force", "--marathon", url); err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}
	out, err = run(t, newDeploymentCommand(), "", "list", "--marathon", url)
	if err != nil || !strings.Contains(out, "RestartApplication /web") {
		t.Fatalf("deployment list: %v\n%s", err, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	if out, err = run(t, newDeploymentCommand(), "", "cancel", id, "--force", "--marathon", url); err != nil || !strings.Contains(out, "stopped") {
		t.Fatalf("deployment cancel: %v\n%s", err, out)
	}
	if out, err = run(t, newAppCommand(), "", "delete", "web", "--marathon", url); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err = run(t, newAppCommand(), "", "show", "web", "--marathon", url); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("show after delete: %v", err)
	}
}

func TestAppTasksFilter(t *testing.T) {
	tasks := []operator.Task{{ID: "web.instance-1._app.1"}, {ID: "web2.instance-2._app.1"}, {ID: "g_web.instance-3._app.1"}, {ID: "other"}}
	got := appTasks(tasks, "/web")
	if len(got) != 1 || got[0].ID != "web.instance-1._app.1" {
		t.Fatalf("/web: %v", got)
	}
	if got := appTasks(tasks, "/g/web"); len(got) != 1 || got[0].ID != "g_web.instance-3._app.1" {
		t.Fatalf("/g/web: %v", got)
	}
}
