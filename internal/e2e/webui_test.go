package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
	"github.com/agoraproject/agora/internal/webui/webuitest"
)

// The web UI in a real browser against a live `agora dev` (the browser
// tests against a fake master, at scale, are in internal/webui).

// agentAllowsCORS reports whether an agent lets pages of other origins
// read its /files endpoints.
func agentAllowsCORS(t *testing.T, agent string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+agent+"/files/browse?path=/", nil)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	allow := resp.Header.Get("Access-Control-Allow-Origin")
	return allow == "*" || allow == "http://127.0.0.1:1"
}

// corsRefusals tolerates the one refused read per agent with which the UI
// finds out that an agent does not allow CORS (it then uses JSONP).
func corsRefusals(agent string) func(chromedp.ConsoleMessage) bool {
	return func(m chromedp.ConsoleMessage) bool {
		text := m.Text + " " + m.URL
		return strings.Contains(text, agent+"/files/") &&
			(strings.Contains(text, "blocked by CORS policy") || strings.Contains(text, "net::ERR_FAILED"))
	}
}

// uiOrigin is the URL the UI is loaded from: the master serves it at /.
func uiOrigin(t *testing.T, master string) string {
	t.Helper()
	resp, err := http.Get("http://" + master + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "static/app.js") {
		t.Fatalf("the master does not serve the web UI at /: %d", resp.StatusCode)
	}
	return "http://" + master + "/"
}

// TestWebUI loads the UI from a live `agora dev` once, then launches tasks,
// kills one, deploys and scales an app, and checks that each page shows it
// without a reload; it reads a task's stdout as it grows, screenshots every
// page, and requires a console without errors.
func TestWebUI(t *testing.T) {
	b := webuitest.New(t)
	shots := webuitest.Artifacts(t)
	workDir := t.TempDir()
	mport, aport := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	startAgora(t, "dev", "dev", "--port="+strconv.Itoa(mport), "--agent_port="+strconv.Itoa(aport),
		"--raft_port="+strconv.Itoa(freePort(t, "127.0.0.1")), "--apps_port=0", "--work_dir="+workDir)
	t.Cleanup(func() { killLeftovers(workDir) })
	master := net.JoinHostPort("127.0.0.1", strconv.Itoa(mport))
	waitUntil(t, "dev master leading", 15*time.Second, func() bool { return httpOK("http://" + master + "/master/state") })
	origin := uiOrigin(t, master)

	b.Navigate(origin + "#/")
	b.WaitFor("one agent on the overview", `document.getElementById('agent-count')?.textContent === '1'`, 20*time.Second)
	b.WaitFor("the leader on the overview", `document.getElementById('leader')?.textContent.startsWith('master@')`, 10*time.Second)
	b.WaitFor("cpus total on the overview", `!/\/ 0 /.test(document.querySelector('[data-resource=cpus] .figure')?.textContent ?? '/ 0 ')`, 10*time.Second)
	b.Screenshot(shots, "overview")

	s := schedtest.Subscribe(t, master, wire.JSON, schedtest.FrameworkInfo("webui-test"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	agentID := offer.GetAgentId().GetValue()
	launchRefusingTheRest(s, offer,
		schedtest.CommandTask("web-talker", offer, `i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done`),
		schedtest.CommandTask("web-sleeper", offer, "sleep 600"),
		schedtest.CommandTask("web-doomed", offer, "sleep 600"))
	acknowledgeUntilRunning(t, s, "web-talker", "web-sleeper", "web-doomed")

	checkTasksPage(t, b, s, offer, shots)
	checkSandbox(t, b, s.FrameworkID, shots)
	checkAgentsAndFrameworks(t, b, agentID, shots)
	b.Route("#/feed")
	b.WaitFor("the kill in the live feed", webuitest.RowJS("#feed li", "TASK_UPDATED", "web-doomed", "TASK_KILLED"), 10*time.Second)
	b.WaitFor("a launch in the live feed", webuitest.RowJS("#feed li", "web-talker"), 10*time.Second)
	b.Screenshot(shots, "feed")
	checkApps(t, b, origin, shots)

	if mode := webuitest.Eval[string](b, `document.getElementById('connection').dataset.mode`); mode != "stream" && mode != "polling" {
		t.Errorf("connection indicator %q, want stream or polling", mode)
	}
	var tolerated func(chromedp.ConsoleMessage) bool
	if agent := net.JoinHostPort("127.0.0.1", strconv.Itoa(aport)); !agentAllowsCORS(t, agent) {
		t.Logf("agent %s sends no Access-Control-Allow-Origin: the UI reads its files through JSONP", agent)
		tolerated = corsRefusals(agent)
	}
	b.RequireNoErrors(tolerated)
}

// launchRefusingTheRest launches tasks, refuses the rest of the agent and
// suppresses further offers, so the apps framework gets the agent.
func launchRefusingTheRest(s *schedtest.Scheduler, offer *mesos.Offer, tasks ...*mesos.TaskInfo) {
	s.MustCall(&sched.Call{
		Type: sched.Call_ACCEPT.Enum(),
		Accept: &sched.Call_Accept{
			OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{{
				Type:   mesos.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks},
			}},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(3600)},
		},
	})
	s.MustCall(&sched.Call{Type: sched.Call_SUPPRESS.Enum()})
}

// acknowledgeUntilRunning acknowledges updates until every task runs.
func acknowledgeUntilRunning(t *testing.T, s *schedtest.Scheduler, ids ...string) {
	t.Helper()
	waiting := map[string]bool{}
	for _, id := range ids {
		waiting[id] = true
	}
	for len(waiting) > 0 {
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %v: %s", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage())
		}
		if st.GetState() == mesos.TaskState_TASK_RUNNING {
			delete(waiting, st.GetTaskId().GetValue())
		}
	}
}

// checkTasksPage: the tasks launched after the page loaded appear, search
// narrows them, and a kill shows up live.
func checkTasksPage(t *testing.T, b *webuitest.Browser, s *schedtest.Scheduler, offer *mesos.Offer, shots string) {
	t.Helper()
	b.Route("#/tasks")
	for _, id := range []string{"web-talker", "web-sleeper", "web-doomed"} {
		b.WaitFor(id+" running in the task list", webuitest.RowJS(".vt-row", id, "RUNNING", "webui-test"), 15*time.Second)
	}
	b.SetInput("#task-search", "talk")
	b.WaitFor("the search to leave web-talker alone",
		webuitest.ShownJS(".vt-row")+`.length === 1 && `+webuitest.RowJS(".vt-row", "web-talker"), 5*time.Second)
	b.SetInput("#task-search", "")
	b.SetInput("#task-state", "all")

	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("web-doomed")}, AgentId: offer.GetAgentId()}})
	b.WaitFor("web-doomed killed in the task list", webuitest.RowJS(".vt-row", "web-doomed", "KILLED"), 15*time.Second)
	b.Screenshot(shots, "tasks")
	b.SetInput("#task-state", "active")
	b.WaitFor("web-doomed gone from the active tasks", `!`+webuitest.RowJS(".vt-row", "web-doomed")+` && `+webuitest.RowJS(".vt-row", "web-sleeper"), 5*time.Second)

	b.Route("#/tasks/" + url.PathEscape(s.FrameworkID) + "/web-talker")
	b.WaitFor("the task page", `document.getElementById('task-state-value')?.textContent === 'RUNNING'`, 10*time.Second)
	b.Screenshot(shots, "task")
}

// checkSandbox opens web-talker's stdout from its task page and sees it
// grow.
func checkSandbox(t *testing.T, b *webuitest.Browser, frameworkID string, shots string) {
	t.Helper()
	b.Click(`a.button[href$="file=stdout"]`)
	b.WaitFor("the sandbox listing", `!!document.querySelector('#sandbox-listing tr[data-name="stdout"]') && !!document.querySelector('#sandbox-listing tr[data-name="stderr"]')`, 15*time.Second)
	b.WaitFor("stdout in the viewer", `/tick 1\n/.test(document.getElementById('file-content')?.textContent ?? '')`, 15*time.Second)
	last := webuitest.Eval[int](b, `Math.max(...[...document.getElementById('file-content').textContent.matchAll(/tick (\d+)/g)].map((m) => +m[1]))`)
	b.WaitFor("stdout growing in the viewer", fmt.Sprintf(`document.getElementById('file-content').textContent.includes('tick %d\n')`, last+3), 15*time.Second)
	b.Screenshot(shots, "sandbox")
	if !strings.Contains(webuitest.Eval[string](b, `location.hash`), url.PathEscape(frameworkID)) {
		t.Errorf("the sandbox route does not name framework %s", frameworkID)
	}
}

func checkAgentsAndFrameworks(t *testing.T, b *webuitest.Browser, agentID string, shots string) {
	t.Helper()
	b.Route("#/agents")
	b.WaitFor("the agent with 2 active tasks", fmt.Sprintf(`(() => {
		const row = `+webuitest.ShownJS(".vt-row")+`.find((r) => r.textContent.includes(%q));
		return row && row.children[6].textContent === '2' && row.children[2].textContent === 'active' &&
			row.children[3].textContent.startsWith('0.2 / ');
	})()`, agentID), 15*time.Second)
	b.Screenshot(shots, "agents")
	b.Route("#/agents/" + url.PathEscape(agentID))
	b.WaitFor("the agent's resources", `!!document.querySelector('table.resources tr[data-resource=cpus]')`, 10*time.Second)
	b.WaitFor("the agent's tasks", webuitest.RowJS(".vt-row", "web-talker"), 10*time.Second)
	b.Screenshot(shots, "agent")

	b.Route("#/frameworks")
	b.WaitFor("the framework with 2 active tasks", `(() => {
		const row = `+webuitest.ShownJS(".vt-row")+`.find((r) => r.children[0].textContent === 'webui-test');
		return row && row.children[4].textContent === '2' && row.children[3].textContent === '*' &&
			row.children[5].textContent === '0.2';
	})()`, 15*time.Second)
	b.WaitFor("the roles", `!!(document.getElementById('roles') || document.getElementById('roles-empty'))`, 10*time.Second)
	b.Screenshot(shots, "frameworks")
}

// appLaunchTimeout bounds an app instance's way from deployment to
// running (the apps framework may wait for its next revive).
const appLaunchTimeout = 90 * time.Second

// checkApps deploys an app, scales it from the apps page, restarts it and
// deletes it there.
func checkApps(t *testing.T, b *webuitest.Browser, origin string, shots string) {
	t.Helper()
	b.Route("#/apps")
	if code := marathonCall(t, origin, http.MethodGet, "v2/apps", ""); code == http.StatusNotFound {
		b.WaitFor("the apps page saying there is no Marathon API", `!!document.getElementById('apps-unavailable')`, 10*time.Second)
		b.Screenshot(shots, "apps")
		t.Log("this master serves no Marathon API (/v2/apps answers 404): the app steps are skipped")
		return
	}
	app := `{"id": "/webui-app", "cmd": "while true; do echo app; sleep 1; done", "cpus": 0.1, "mem": 32, "instances": 1}`
	if code := marathonCall(t, origin, http.MethodPost, "v2/apps", app); code != http.StatusCreated {
		t.Fatalf("POST v2/apps: %d", code)
	}
	row := `document.querySelector('tr[data-app="/webui-app"]')`
	b.WaitFor("the app running on the apps page", row+`?.children[2].textContent === '1 / 1'`, appLaunchTimeout)
	b.SetInput(`tr[data-app="/webui-app"] .scale-input`, "2")
	b.Click(`tr[data-app="/webui-app"] button.scale`)
	b.WaitFor("the scale deployment reported", `document.getElementById('apps-message').textContent.includes('deployment')`, 10*time.Second)
	b.WaitFor("two instances running", row+`?.children[2].textContent === '2 / 2' && `+row+`.children[1].textContent === 'Running'`, appLaunchTimeout)
	b.Screenshot(shots, "apps")

	b.Route("#/apps/" + url.PathEscape("/webui-app"))
	b.WaitFor("the app's tasks", `document.querySelectorAll('#app-tasks tr[data-task]').length === 2`, 10*time.Second)
	b.Click(`button.restart`)
	b.WaitFor("the restart deployment reported", `document.getElementById('apps-message').textContent.includes('Restarting /webui-app: deployment')`, 10*time.Second)
	b.Screenshot(shots, "app")
	b.Route("#/deployments")
	b.WaitFor("the deployments page", `!!(document.querySelector('tr[data-deployment]') || document.getElementById('no-deployments'))`, 10*time.Second)
	b.Screenshot(shots, "deployments")

	b.Route("#/apps")
	b.WaitFor("the app row", "!!"+row, 10*time.Second)
	b.Click(`tr[data-app="/webui-app"] button.delete`)
	b.WaitFor("the delete confirmation", row+`.querySelector('button.delete').textContent === 'Confirm delete'`, 5*time.Second)
	b.Click(`tr[data-app="/webui-app"] button.delete`)
	b.WaitFor("the app gone from the apps page", "!"+row, 30*time.Second)
	if code := marathonCall(t, origin, http.MethodGet, "v2/apps/webui-app", ""); code != http.StatusNotFound {
		t.Errorf("GET v2/apps/webui-app after the delete: %d, want 404", code)
	}
}

func marathonCall(t *testing.T, origin, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, origin+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
