package webui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndex(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/index.html"} {
		resp := get(t, h, http.MethodGet, p, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", p, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
		}
		if b := body(t, resp); !strings.Contains(b, `<script type="module" src="static/app.js">`) {
			t.Errorf("GET %s: the page does not load static/app.js:\n%s", p, b)
		}
	}
}

func TestAssetContentTypes(t *testing.T) {
	h := Handler()
	want := map[string]string{
		"/static/app.js":         "text/javascript; charset=utf-8",
		"/static/views/tasks.js": "text/javascript; charset=utf-8",
		"/static/app.css":        "text/css; charset=utf-8",
	}
	for p, ct := range want {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp := get(t, h, method, p, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d", method, p, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != ct {
				t.Errorf("%s %s: Content-Type %q, want %q", method, p, got, ct)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s: no nosniff", method, p)
			}
		}
	}
}

func TestRevalidation(t *testing.T) {
	h := Handler()
	resp := get(t, h, http.MethodGet, "/static/app.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	again := get(t, h, http.MethodGet, "/static/app.js", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match of the current ETag: %d, want 304", again.StatusCode)
	}
	other := get(t, h, http.MethodGet, "/static/app.css", nil).Header.Get("ETag")
	if other == etag {
		t.Errorf("app.js and app.css share the ETag %s", etag)
	}
}

// TestLeavesOtherPathsAlone: mounted as a catch-all, the handler must not
// answer API paths with the page, nor serve anything outside ui/.
func TestLeavesOtherPathsAlone(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/master/state", "/api/v1", "/v2/apps", "/static/", "/static/nope.js",
		"/static/../webui.go", "/app.js", "/favicon.ico"} {
		if resp := get(t, h, http.MethodGet, p, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	resp := get(t, h, http.MethodPost, "/", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestEveryAssetServed: each embedded file is reachable at its URL.
func TestEveryAssetServed(t *testing.T) {
	h := Handler()
	for _, p := range embeddedFiles(t) {
		url := "/" + strings.TrimPrefix(p, "ui/")
		if resp := get(t, h, http.MethodGet, url, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", url, resp.StatusCode)
		}
	}
}

func embeddedFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(files, "ui", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := files.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var (
	importRef = regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'|^\s*import\s+'([^']+)'`)
	htmlRef   = regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`)
)

// TestModuleGraph: every import resolves to an embedded file, and every
// embedded script is reachable from the page (no dead or missing files).
func TestModuleGraph(t *testing.T) {
	embedded := map[string]bool{}
	for _, p := range embeddedFiles(t) {
		embedded[p] = true
	}
	reached := map[string]bool{"ui/index.html": true}
	queue := []string{}
	for _, m := range htmlRef.FindAllStringSubmatch(read(t, "ui/index.html"), -1) {
		if strings.HasPrefix(m[1], "data:") {
			continue
		}
		queue = append(queue, path.Join("ui", m[1]))
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if reached[p] {
			continue
		}
		if !embedded[p] {
			t.Errorf("%s is referenced but not embedded", p)
			continue
		}
		reached[p] = true
		if path.Ext(p) != ".js" {
			continue
		}
		for _, m := range importRef.FindAllStringSubmatch(read(t, p), -1) {
			ref := m[1] + m[2]
			if !strings.HasPrefix(ref, "./") && !strings.HasPrefix(ref, "../") {
				t.Errorf("%s imports %q: only relative module paths load without a build step", p, ref)
				continue
			}
			queue = append(queue, path.Join(path.Dir(p), ref))
		}
	}
	for p := range embedded {
		if !reached[p] {
			t.Errorf("%s is embedded but nothing loads it", p)
		}
	}
}

// externalRef finds references that would make the browser leave the
// cluster: absolute URLs with a host, protocol-relative URLs in markup or
// CSS, and CSS imports.
var externalRef = regexp.MustCompile(`(?i)(?:\b(?:https?|wss?|ftp)://[a-z0-9\[]` +
	`|(?:src|href|action)\s*=\s*["']?//` +
	`|url\(\s*["']?(?:[a-z]+:)?//` +
	`|@import)`)

func TestExternalRefScanner(t *testing.T) {
	for _, bad := range []string{
		`<script src="https://cdn.example.com/x.js">`,
		`<link href="//fonts.example.com/css">`,
		`@import "x.css";`,
		`background: url(//img.example.com/a.png)`,
		`background: url("http://img.example.com/a.png")`,
		`fetch('http://10.0.0.1/state')`,
		`new WebSocket("wss://example.com")`,
	} {
		if !externalRef.MatchString(bad) {
			t.Errorf("scanner misses %q", bad)
		}
	}
	for _, ok := range []string{
		"`${location.protocol}//${address}/files`",
		`<link rel="icon" href="data:,">`,
		`/^https?:\/\//i.test(u)`,
		`// a comment`,
	} {
		if externalRef.MatchString(ok) {
			t.Errorf("scanner flags %q", ok)
		}
	}
}

// TestNoExternalURLs: no asset refers to anything outside the cluster.
func TestNoExternalURLs(t *testing.T) {
	for _, p := range embeddedFiles(t) {
		for i, line := range strings.Split(read(t, p), "\n") {
			if externalRef.MatchString(line) {
				t.Errorf("%s:%d refers outside the cluster: %s", p, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestNoMarkupInjection: cluster data reaches the DOM only as text.
func TestNoMarkupInjection(t *testing.T) {
	risky := regexp.MustCompile(`\.(?:innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
	for _, p := range embeddedFiles(t) {
		if path.Ext(p) != ".js" {
			continue
		}
		for i, line := range strings.Split(read(t, p), "\n") {
			if risky.MatchString(line) {
				t.Errorf("%s:%d builds markup from strings: %s", p, i+1, strings.TrimSpace(line))
			}
		}
	}
}
