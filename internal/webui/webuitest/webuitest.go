// Package webuitest drives the web UI in headless Chromium (chromedp) for
// tests: it finds the browser (skipping without one, failing under
// CI=true), records the page's console, waits on JavaScript conditions
// with deadlines, routes, fills fields, and saves screenshots into an
// artifact folder. It is test support, like net/http/httptest.
package webuitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath finds Chromium ($AGORA_CHROMIUM, or chromium on PATH). It
// skips the test when there is none, and fails it under CI=true.
func ChromiumPath(t testing.TB) string {
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

// Browser is one headless Chromium tab and what its page logged.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// New starts Chromium (stopped at cleanup) and records every console
// message, exception and browser log entry of its page.
func New(t testing.TB) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.WindowSize(1440, 900),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium's singleton socket directory too, which a killed
		// browser would leave in /tmp.
		chromedp.Env("TMPDIR="+t.TempDir()),
		chromedp.Flag("disable-gpu", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, ctx: ctx}
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

// Context is the tab's chromedp context, for actions not wrapped here.
func (b *Browser) Context() context.Context { return b.ctx }

// ConsoleErrors are the page's errors: console.error calls, uncaught
// exceptions and browser log errors (failed requests included), less the
// tolerated ones (tolerated may be nil).
func (b *Browser) ConsoleErrors(tolerated func(chromedp.ConsoleMessage) bool) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.console {
		if m.Type != chromedp.ConsoleError && !m.IsException() {
			continue
		}
		if tolerated != nil && tolerated(m) {
			continue
		}
		out = append(out, fmt.Sprintf("%s [%s] %s %s", m.Type, m.Source, m.Text, m.URL))
	}
	return out
}

// RequireNoErrors fails the test if the page logged errors.
func (b *Browser) RequireNoErrors(tolerated func(chromedp.ConsoleMessage) bool) {
	b.t.Helper()
	if errs := b.ConsoleErrors(tolerated); len(errs) > 0 {
		b.t.Errorf("the page logged errors:\n%s", strings.Join(errs, "\n"))
	}
}

// Do runs actions, failing the test on an error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Navigate loads url.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Do("loading "+url, chromedp.Navigate(url))
}

// Click clicks the first element matching a CSS selector.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.Do("clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// Exec runs JavaScript for its effect.
func (b *Browser) Exec(js string) {
	b.t.Helper()
	b.Do("running "+firstLine(js), chromedp.Evaluate[chromedp.Void](js))
}

// Eval evaluates a JavaScript expression and decodes its value.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, awaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", firstLine(expr), err)
	}
	return v
}

// awaitPromise makes Eval wait for a promise's value.
func awaitPromise(p *runtime.EvaluateParams) { p.AwaitPromise = new(true) }

// WaitFor waits until a JavaScript expression is truthy in the page; on
// timeout it fails the test and shows the page's text.
func (b *Browser) WaitFor(what, expr string, timeout time.Duration) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool]("!!("+expr+")",
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(document.getElementById('view') || document.body).innerText.slice(0, 2000)`))
		b.t.Fatalf("waiting %s for %s: %v\npage shows:\n%s", timeout, what, err, text)
	}
}

// Route changes the page's hash route (no reload: the page lives on).
func (b *Browser) Route(hash string) {
	b.t.Helper()
	b.Exec(fmt.Sprintf(`location.hash = %q`, hash))
}

// SetInput sets a field's value and fires its input and change events.
func (b *Browser) SetInput(sel, value string) {
	b.t.Helper()
	b.Exec(fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		el.value = %q;
		el.dispatchEvent(new Event('input', {bubbles: true}));
		el.dispatchEvent(new Event('change', {bubbles: true}));
	})()`, sel, value))
}

// Screenshot saves the whole page as <dir>/<name>.png.
func (b *Browser) Screenshot(dir, name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// Artifacts is where a test's screenshots go: $AGORA_ARTIFACTS/<test>, or
// a temporary folder kept (and logged) only when the test fails.
func Artifacts(t testing.TB) string {
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

// ShownJS is a JavaScript expression: the elements matching sel that are
// drawn (not hidden, not display: none).
func ShownJS(sel string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].filter((r) => r.getClientRects().length > 0)`, sel)
}

// RowJS is a JavaScript expression: the text of the first shown element
// matching sel that contains every one of words, or null.
func RowJS(sel string, words ...string) string {
	w, _ := json.Marshal(words)
	return fmt.Sprintf(`(() => {
		const words = %s;
		const row = %s.find((r) => words.every((w) => r.textContent.includes(w)));
		return row ? row.textContent : null;
	})()`, w, ShownJS(sel))
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
