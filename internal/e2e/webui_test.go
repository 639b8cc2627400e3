package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
	"github.com/agoraproject/agora/internal/webui"
)

// The web UI in a real browser (headless Chromium driven by chromedp):
// TestWebUI against a live `agora dev`, TestWebUIAtScale against a fake
// master with 10,000 tasks on its event stream.

// chromiumPath finds Chromium ($AGORA_CHROMIUM, or chromium on PATH). It
// skips the test when there is none, and fails it under CI=true.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("AGORA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("browser tests need Chromium (apt-get install chromium); CI=true, so this fails instead of skipping")
	}
	t.Skip("browser tests need Chromium: apt-get install chromium (or set AGORA_CHROMIUM)")
	return ""
}

// browser is one headless Chromium tab and what its page logged.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// newBrowser starts Chromium (stopped at cleanup) and records every console
// message, exception and browser log entry of the page.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx}
	messages := chromedp.Console(ctx) // starts the browser and subscribes
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
	})
	return b
}

// consoleErrors are the page's errors: console.error calls, uncaught
// exceptions and browser log errors. A failed request is also an error,
// except those listed in expected (a substring of the message each).
func (b *browser) consoleErrors(expected ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		if m.Source == "network" && containsAny(m.Text+" "+m.URL, expected) {
			continue
		}
		out = append(out, fmt.Sprintf("%s [%s] %s %s", m.Type, m.Source, m.Text, m.URL))
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is truthy in the page.
func (b *browser) waitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		text := eval[string](b, `document.getElementById('view').innerText.slice(0, 2000)`)
		b.t.Fatalf("waiting %s for %s: %v\npage shows:\n%s", timeout, what, err, text)
	}
}

// route changes the page's hash route (no reload: the page lives on).
func (b *browser) route(hash string) {
	b.t.Helper()
	b.do("routing to "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = %q`, hash)))
}

// setInput sets a field's value and fires its input and change events.
func (b *browser) setInput(sel, value string) {
	b.t.Helper()
	b.do("setting "+sel, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, sel, value)))
}

// artifacts is where screenshots go: $AGORA_ARTIFACTS/<test>, or a temporary
// folder kept only when the test fails.
func artifacts(t *testing.T) string {
	t.Helper()
	if root := os.Getenv("AGORA_ARTIFACTS"); root != "" {
		dir := filepath.Join(root, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots in %s", dir)
		return dir
	}
	dir, err := os.MkdirTemp("", "agora-webui-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("screenshots kept in %s (set AGORA_ARTIFACTS to keep them always)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// screenshot saves the whole page as <dir>/<name>.png.
func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// rowJS finds a visible row (virtual table row, or table row) whose text
// contains every one of words; the expression is its text or null.
func rowJS(sel string, words ...string) string {
	w, _ := json.Marshal(words)
	return fmt.Sprintf(`(() => {
		const words = %s;
		const row = [...document.querySelectorAll(%q)].find((r) => !r.hidden && words.every((w) => r.textContent.includes(w)));
		return row ? row.textContent : null;
	})()`, w, sel)
}

// uiOrigin is the URL the UI is loaded from: the master itself when it
// serves the UI, otherwise a test server on 127.0.0.1 that serves
// webui.Handler() and proxies every other path to the master (for as long
// as the master does not mount the UI).
func uiOrigin(t *testing.T, master string) string {
	t.Helper()
	if resp, err := http.Get("http://" + master + "/"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "static/app.js") {
			return "http://" + master + "/"
		}
	}
	t.Log("the master does not serve the web UI at / yet: serving webui.Handler() on a proxy in front of it")
	target, _ := url.Parse("http://" + master)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // event streams flow through at once
	ui := webui.Handler()
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.Handle("/{$}", ui)
	mux.Handle("/static/", ui)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// TestWebUI loads the UI from a live `agora dev` once, then launches tasks,
// kills one, deploys and scales an app, and checks that each page shows it
// without a reload; it reads a task's stdout as it grows, screenshots every
// page, and requires a console without errors.
func TestWebUI(t *testing.T) {
	b := newBrowser(t)
	shots := artifacts(t)
	workDir := t.TempDir()
	mport, aport := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	startAgora(t, "dev", "dev", "--port="+strconv.Itoa(mport), "--agent_port="+strconv.Itoa(aport),
		"--raft_port="+strconv.Itoa(freePort(t, "127.0.0.1")), "--apps_port=0", "--work_dir="+workDir)
	t.Cleanup(func() { killLeftovers(workDir) })
	master := net.JoinHostPort("127.0.0.1", strconv.Itoa(mport))
	waitUntil(t, "dev master leading", 15*time.Second, func() bool { return httpOK("http://" + master + "/master/state") })
	origin := uiOrigin(t, master)

	b.do("loading the UI", chromedp.Navigate(origin+"#/"))
	b.waitFor("one agent on the overview", `document.getElementById('agent-count')?.textContent === '1'`, 20*time.Second)
	b.waitFor("the leader on the overview", `document.getElementById('leader')?.textContent.startsWith('master@')`, 10*time.Second)
	b.waitFor("cpus total on the overview", `!/\/ 0 /.test(document.querySelector('[data-resource=cpus] .figure')?.textContent ?? '/ 0 ')`, 10*time.Second)
	b.screenshot(shots, "overview")

	s := schedtest.Subscribe(t, master, wire.JSON, schedtest.FrameworkInfo("webui-test"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	agentID := offer.GetAgentId().GetValue()
	s.Launch(offer,
		schedtest.CommandTask("web-talker", offer, `i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.3; done`),
		schedtest.CommandTask("web-sleeper", offer, "sleep 600"),
		schedtest.CommandTask("web-doomed", offer, "sleep 600"))
	acknowledgeUntilRunning(t, s, "web-talker", "web-sleeper", "web-doomed")

	checkTasksPage(t, b, s, offer, shots)
	checkSandbox(t, b, s.FrameworkID, shots)
	checkAgentsAndFrameworks(t, b, agentID, shots)
	b.route("#/feed")
	b.waitFor("the kill in the live feed", rowJS("#feed li", "TASK_UPDATED", "web-doomed", "TASK_KILLED"), 10*time.Second)
	b.waitFor("a launch in the live feed", rowJS("#feed li", "web-talker"), 10*time.Second)
	b.screenshot(shots, "feed")
	checkApps(t, b, origin, shots)

	if mode := eval[string](b, `document.getElementById('connection').dataset.mode`); mode != "stream" && mode != "polling" {
		t.Errorf("connection indicator %q, want stream or polling", mode)
	}
	// Until the master has the operator SUBSCRIBE call, the UI's attempt at
	// it fails (and the UI polls): that one failed request is expected.
	if errs := b.consoleErrors("api/v1"); len(errs) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
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
		if isTerminal(st.GetState()) {
			t.Fatalf("task %s ended %v: %s", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage())
		}
		if st.GetState() == mesos.TaskState_TASK_RUNNING {
			delete(waiting, st.GetTaskId().GetValue())
		}
	}
}

// checkTasksPage: the tasks launched after the page loaded appear, search
// narrows them, and a kill shows up live.
func checkTasksPage(t *testing.T, b *browser, s *schedtest.Scheduler, offer *mesos.Offer, shots string) {
	t.Helper()
	b.route("#/tasks")
	for _, id := range []string{"web-talker", "web-sleeper", "web-doomed"} {
		b.waitFor(id+" running in the task list", rowJS(".vt-row", id, "RUNNING", "webui-test"), 15*time.Second)
	}
	b.setInput("#task-search", "talk")
	b.waitFor("the search to leave web-talker alone",
		`document.querySelectorAll('.vt-row:not([hidden])').length === 1 && `+rowJS(".vt-row", "web-talker"), 5*time.Second)
	b.setInput("#task-search", "")
	b.setInput("#task-state", "all")

	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("web-doomed")}, AgentId: offer.GetAgentId()}})
	b.waitFor("web-doomed killed in the task list", rowJS(".vt-row", "web-doomed", "KILLED"), 15*time.Second)
	b.screenshot(shots, "tasks")
	b.setInput("#task-state", "active")
	b.waitFor("web-doomed gone from the active tasks", `!`+rowJS(".vt-row", "web-doomed")+` && `+rowJS(".vt-row", "web-sleeper"), 5*time.Second)

	b.route("#/tasks/" + url.PathEscape(s.FrameworkID) + "/web-talker")
	b.waitFor("the task page", `document.getElementById('task-state-value')?.textContent === 'RUNNING'`, 10*time.Second)
	b.screenshot(shots, "task")
}

// checkSandbox opens web-talker's stdout from its task page and sees it
// grow.
func checkSandbox(t *testing.T, b *browser, frameworkID string, shots string) {
	t.Helper()
	b.do("opening stdout", chromedp.Click(chromedp.CSS(`a.button[href$="file=stdout"]`)))
	b.waitFor("the sandbox listing", `!!document.querySelector('#sandbox-listing tr[data-name="stdout"]') && !!document.querySelector('#sandbox-listing tr[data-name="stderr"]')`, 15*time.Second)
	b.waitFor("stdout in the viewer", `/tick 1\n/.test(document.getElementById('file-content')?.textContent ?? '')`, 15*time.Second)
	last := eval[int](b, `Math.max(...[...document.getElementById('file-content').textContent.matchAll(/tick (\d+)/g)].map((m) => +m[1]))`)
	b.waitFor("stdout growing in the viewer", fmt.Sprintf(`document.getElementById('file-content').textContent.includes('tick %d\n')`, last+3), 15*time.Second)
	b.screenshot(shots, "sandbox")
	if !strings.Contains(eval[string](b, `location.hash`), url.PathEscape(frameworkID)) {
		t.Errorf("the sandbox route does not name framework %s", frameworkID)
	}
}

func checkAgentsAndFrameworks(t *testing.T, b *browser, agentID string, shots string) {
	t.Helper()
	b.route("#/agents")
	b.waitFor("the agent with 2 active tasks", fmt.Sprintf(`(() => {
		const row = [...document.querySelectorAll('.vt-row:not([hidden])')].find((r) => r.textContent.includes(%q));
		return row && row.children[6].textContent === '2' && row.children[2].textContent === 'active';
	})()`, agentID), 10*time.Second)
	b.screenshot(shots, "agents")
	b.route("#/agents/" + url.PathEscape(agentID))
	b.waitFor("the agent's resources", `!!document.querySelector('table.resources tr[data-resource=cpus]')`, 10*time.Second)
	b.waitFor("the agent's tasks", rowJS(".vt-row", "web-talker"), 10*time.Second)
	b.screenshot(shots, "agent")

	b.route("#/frameworks")
	b.waitFor("the framework with 2 active tasks", `(() => {
		const row = [...document.querySelectorAll('.vt-row:not([hidden])')].find((r) => r.children[0].textContent === 'webui-test');
		return row && row.children[4].textContent === '2' && row.children[3].textContent === '*';
	})()`, 10*time.Second)
	b.waitFor("the roles", `!!(document.getElementById('roles') || document.getElementById('roles-empty'))`, 10*time.Second)
	b.screenshot(shots, "frameworks")
}

// checkApps deploys an app, scales it from the apps page, restarts it and
// deletes it there.
func checkApps(t *testing.T, b *browser, origin string, shots string) {
	t.Helper()
	b.route("#/apps")
	if code := marathonCall(t, origin, http.MethodGet, "v2/apps", ""); code == http.StatusNotFound {
		b.waitFor("the apps page saying there is no Marathon API", `!!document.getElementById('apps-unavailable')`, 10*time.Second)
		b.screenshot(shots, "apps")
		t.Log("this master serves no Marathon API (/v2/apps answers 404): the app steps are skipped")
		return
	}
	app := `{"id": "/webui-app", "cmd": "while true; do echo app; sleep 1; done", "cpus": 0.1, "mem": 32, "instances": 1}`
	if code := marathonCall(t, origin, http.MethodPost, "v2/apps", app); code != http.StatusCreated {
		t.Fatalf("POST v2/apps: %d", code)
	}
	row := `document.querySelector('tr[data-app="/webui-app"]')`
	b.waitFor("the app running on the apps page", row+`?.children[2].textContent === '1 / 1'`, 30*time.Second)
	b.setInput(`tr[data-app="/webui-app"] .scale-input`, "2")
	b.do("scaling to 2", chromedp.Click(chromedp.CSS(`tr[data-app="/webui-app"] button.scale`)))
	b.waitFor("the scale deployment reported", `document.getElementById('apps-message').textContent.includes('deployment')`, 10*time.Second)
	b.waitFor("two instances running", row+`?.children[2].textContent === '2 / 2' && `+row+`.children[1].textContent === 'Running'`, 30*time.Second)
	b.screenshot(shots, "apps")

	b.route("#/apps/" + url.PathEscape("/webui-app"))
	b.waitFor("the app's tasks", `document.querySelectorAll('#app-tasks tr[data-task]').length === 2`, 10*time.Second)
	b.do("restarting", chromedp.Click(chromedp.CSS(`button.restart`)))
	b.waitFor("the restart deployment reported", `document.getElementById('apps-message').textContent.includes('Restarting /webui-app: deployment')`, 10*time.Second)
	b.screenshot(shots, "app")
	b.route("#/deployments")
	b.waitFor("the deployments page", `!!(document.querySelector('tr[data-deployment]') || document.getElementById('no-deployments'))`, 10*time.Second)
	b.screenshot(shots, "deployments")

	b.route("#/apps")
	b.waitFor("the app row", "!!"+row, 10*time.Second)
	b.do("deleting", chromedp.Click(chromedp.CSS(`tr[data-app="/webui-app"] button.delete`)))
	b.waitFor("the delete confirmation", row+`.querySelector('button.delete').textContent === 'Confirm delete'`, 5*time.Second)
	b.do("confirming", chromedp.Click(chromedp.CSS(`tr[data-app="/webui-app"] button.delete`)))
	b.waitFor("the app gone from the apps page", "!"+row, 30*time.Second)
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
