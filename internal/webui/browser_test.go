package webui_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agoraproject/agora/internal/webui/webuitest"
)

// Browser tests of the UI against a fake master (headless Chromium; they
// skip without it, except under CI=true). TestWebUI in internal/e2e runs
// the UI against a live `agora dev`.

// TestBrowserModules runs testdata/modules.js in the page: unit checks of
// the RecordIO reader, the JSON adapters, the store's counts and the
// formatting.
func TestBrowserModules(t *testing.T) {
	b := webuitest.New(t)
	fm := startFakeMaster(t, syntheticState(1, 1, 1), true)
	checks, err := os.ReadFile("testdata/modules.js")
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate(fm.url + "#/feed")
	for _, f := range webuitest.Eval[[]string](b, string(checks)) {
		t.Error(f)
	}
	b.RequireNoErrors(nil)
}

// TestBrowserAtScale: 10,000 tasks on the operator event stream. The task
// list keeps a few dozen rows in the DOM, searches, sorts, scrolls to the
// end, applies a burst of 2,000 updates, and the main thread is never
// blocked long.
func TestBrowserAtScale(t *testing.T) {
	const tasks, agents, frameworks = 10000, 100, 5
	b := webuitest.New(t)
	shots := webuitest.Artifacts(t)
	fm := startFakeMaster(t, syntheticState(tasks, agents, frameworks), true)

	b.Navigate(fm.url + "#/")
	b.Exec(longTasksJS)
	b.WaitFor("10,000 active tasks on the overview", `document.getElementById('active-tasks')?.textContent === '10000'`, 30*time.Second)
	if mode := webuitest.Eval[string](b, `document.getElementById('connection').dataset.mode`); mode != "stream" {
		t.Fatalf("connection %q, want the event stream", mode)
	}
	b.WaitFor("100 agents", `document.getElementById('agent-count')?.textContent === '100'`, 5*time.Second)
	initial := webuitest.Eval[float64](b, `Math.max(0, ...window.agoraLongTasks)`)
	b.Screenshot(shots, "overview-10k")

	b.Route("#/tasks")
	b.WaitFor("10,000 rows", `document.querySelector('.vt-count')?.textContent === '10000 rows'`, 10*time.Second)
	if n := webuitest.Eval[int](b, `document.querySelectorAll('.vt-row').length`); n == 0 || n > 100 {
		t.Errorf("%d row elements in the DOM for 10,000 tasks, want a visible window (1..100)", n)
	}
	b.Exec(`window.agoraLongTasks = []`)

	b.SetInput("#task-search", "task-0999")
	b.WaitFor("the search to find 10 tasks", `document.querySelector('.vt-count').textContent === '10 rows'`, 5*time.Second)
	b.SetInput("#task-search", "host-042")
	b.WaitFor("the search by agent", `document.querySelector('.vt-count').textContent === '100 rows'`, 5*time.Second)
	b.SetInput("#task-search", "")
	b.WaitFor("all rows back", `document.querySelector('.vt-count').textContent === '10000 rows'`, 5*time.Second)
	b.Click(`.vt-th:first-child`)
	b.Exec(`(() => { const v = document.querySelector('.vt-viewport'); v.scrollTop = v.scrollHeight; })()`)
	b.WaitFor("the last task in view", webuitest.RowJS(".vt-row", "task-09999", "RUNNING"), 5*time.Second)

	for i := range 2000 {
		fid, id := syntheticTaskIDs(i, frameworks)
		fm.taskUpdated(fid, id, "TASK_FINISHED")
	}
	b.WaitFor("2,000 tasks finished live", `document.querySelector('.vt-count').textContent === '8000 rows'`, 20*time.Second)
	b.SetInput("#task-state", "TASK_FINISHED")
	b.WaitFor("the finished tasks", `document.querySelector('.vt-count').textContent === '2000 rows'`, 5*time.Second)
	b.WaitFor("only finished tasks drawn", `(() => {
		const rows = `+webuitest.ShownJS(".vt-row")+`;
		return rows.length > 10 && rows.every((r) => r.children[2].textContent === 'FINISHED');
	})()`, 5*time.Second)
	b.Screenshot(shots, "tasks-10k")

	worst := webuitest.Eval[float64](b, `Math.max(0, ...window.agoraLongTasks)`)
	t.Logf("longest main-thread task: %.0f ms loading 10,000 tasks; %.0f ms after (search, sort, scroll, 2,000 updates)", initial, worst)
	if initial > 2000 {
		t.Errorf("loading 10,000 tasks blocked the page for %.0f ms at once; want at most 2 s", initial)
	}
	if worst > 500 {
		t.Errorf("the page was blocked for %.0f ms at once after the load; want at most 500 ms", worst)
	}
	b.Route("#/agents")
	b.WaitFor("100 agents listed", `document.querySelector('.vt-count')?.textContent === '100 rows'`, 5*time.Second)
	b.RequireNoErrors(nil)
}

// longTasksJS records the page's long tasks (main thread busy > 50 ms).
const longTasksJS = `(() => {
	window.agoraLongTasks = [];
	new PerformanceObserver((list) => {
		for (const e of list.getEntries()) window.agoraLongTasks.push(e.duration);
	}).observe({type: 'longtask', buffered: true});
})()`

// TestBrowserPollingFallback: a master without the operator event stream
// (SUBSCRIBE answers 501) is polled; changes between polls reach the pages
// and the live feed.
func TestBrowserPollingFallback(t *testing.T) {
	b := webuitest.New(t)
	shots := webuitest.Artifacts(t)
	fm := startFakeMaster(t, nil, false)
	fm.setState(legacyState(map[string]string{"poll-a": "TASK_RUNNING", "poll-b": "TASK_RUNNING"}))

	b.Navigate(fm.url + "#/tasks")
	b.WaitFor("the polled tasks", webuitest.RowJS(".vt-row", "poll-a", "RUNNING", "poller", "poll-host")+" && "+
		webuitest.RowJS(".vt-row", "poll-b", "RUNNING"), 10*time.Second)
	if mode := webuitest.Eval[string](b, `document.getElementById('connection').dataset.mode`); mode != "polling" {
		t.Errorf("connection %q, want polling", mode)
	}
	fm.setState(legacyState(map[string]string{"poll-a": "TASK_RUNNING", "poll-b": "TASK_FAILED", "poll-c": "TASK_RUNNING"}))
	b.WaitFor("poll-b gone from the active tasks and poll-c in", "!"+webuitest.RowJS(".vt-row", "poll-b")+" && "+
		webuitest.RowJS(".vt-row", "poll-c", "RUNNING"), 10*time.Second)

	b.Route("#/feed")
	b.WaitFor("the changes in the feed", webuitest.RowJS("#feed li", "TASK_UPDATED", "poll-b TASK_FAILED")+" && "+
		webuitest.RowJS("#feed li", "TASK_ADDED", "poll-c"), 5*time.Second)
	b.Screenshot(shots, "feed-polling")
	b.Route("#/agents/agent-poll")
	b.WaitFor("the agent's resources", `document.querySelector('table.resources tr[data-resource=cpus]')?.textContent.includes('4')`, 5*time.Second)
	b.WaitFor("the agent's ports", `document.querySelector('table.resources tr[data-resource=ports]')?.textContent.includes('[31000-32000]')`, 5*time.Second)

	b.Route("#/frameworks")
	b.WaitFor("the framework's share", webuitest.RowJS(".vt-row", "poller", "active", "25.0%"), 5*time.Second)
	b.WaitFor("the role with its quota", `document.querySelector('#roles tr[data-role="*"]')?.textContent.includes('cpus 2 / 4')`, 10*time.Second)
	b.Screenshot(shots, "frameworks-polling")

	fm.setState(nil)
	b.WaitFor("the lost master explained", `!document.getElementById('banner').hidden && `+
		`document.getElementById('banner').textContent.includes('No leader elected') && `+
		`document.querySelector('#banner a')?.getAttribute('href') === 'master/redirect'`, 10*time.Second)
	if mode := webuitest.Eval[string](b, `document.getElementById('connection').dataset.mode`); mode != "error" {
		t.Errorf("connection %q after the master failed, want error", mode)
	}

	// The expected failures: the SUBSCRIBE that told the page to poll, and
	// the polls of the failed master.
	b.RequireNoErrors(func(m chromedp.ConsoleMessage) bool {
		text := m.Text + " " + m.URL
		return m.Source == "network" && (strings.Contains(text, "api/v1") && strings.Contains(text, "501") ||
			strings.Contains(text, "master/state") && strings.Contains(text, "503"))
	})
}
