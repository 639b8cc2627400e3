// Package webui is Agora's web UI: static files (HTML, CSS and plain
// JavaScript modules, no build step) embedded with go:embed and served by
// the master at "/".
//
// The UI is a client of the public APIs only. It reads the master's
// /master/state, /master/state-summary, /metrics/snapshot and the v1
// operator API (POST /api/v1, JSON), follows the operator event stream
// (SUBSCRIBE, RecordIO) for live updates and falls back to polling
// /master/state while the stream is unavailable, reads sandboxes from the
// agents' /files/browse and /files/read, and manages apps through the
// Marathon v2 API (/v2/apps, /v2/deployments). It loads nothing from outside
// the cluster: no CDN, no web fonts.
//
// Handler serves index.html at "/" and the assets under /static/; every
// other path is a 404, so mounting it as the catch-all of a mux leaves the
// API paths untouched:
//
//	mux.Handle("/", webui.Handler())
//
// (Mount it without a method: a "GET /" pattern conflicts with method-less
// API patterns such as "/api/v1" in net/http's ServeMux.)
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed ui
var files embed.FS

// contentTypes maps the asset extensions to their media types; an asset
// with any other extension is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// contentSecurityPolicy keeps the page to its own scripts and styles.
// Scripts and connections may also go to other origins over http(s): the
// agents' /files endpoints live on other ports (fetch, or JSONP where an
// agent does not answer CORS).
const contentSecurityPolicy = "default-src 'self'; script-src 'self' http: https:; " +
	"connect-src 'self' http: https:; img-src 'self' data:; style-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the UI: GET or HEAD of "/" (index.html) and of
// /static/<file>. Other paths answer 404, other methods 405.
func Handler() http.Handler {
	assets, err := loadAssets()
	if err != nil {
		panic(err) // the embedded tree is fixed at build time; tests load it
	}
	return &handler{assets: assets}
}

// loadAssets reads every embedded file into memory, keyed by its URL path.
func loadAssets() (map[string]*asset, error) {
	assets := map[string]*asset{}
	err := fs.WalkDir(files, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("webui: embedded file %s has no known content type", p)
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return fmt.Errorf("webui: reading %s: %w", p, err)
		}
		sum := sha256.Sum256(body)
		assets[strings.TrimPrefix(p, "ui")] = &asset{body: body, contentType: ct,
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if assets["/index.html"] == nil {
		return nil, fmt.Errorf("webui: ui/index.html is not embedded")
	}
	return assets, nil
}

type handler struct {
	assets map[string]*asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.lookup(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Expecting 'GET', received '"+r.Method+"'", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	// Revalidate every time: a new binary brings new assets under the
	// same names, and an ETag check is one cheap round trip.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if a.contentType == contentTypes[".html"] {
		hdr.Set("Content-Security-Policy", contentSecurityPolicy)
		hdr.Set("Referrer-Policy", "no-referrer")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// lookup maps a URL path to an asset: "/" and "/index.html" are the page,
// /static/... the assets.
func (h *handler) lookup(urlPath string) (*asset, bool) {
	switch {
	case urlPath == "/" || urlPath == "/index.html":
		return h.assets["/index.html"], true
	case strings.HasPrefix(urlPath, "/static/") && !strings.Contains(urlPath, ".."):
		a, ok := h.assets[urlPath]
		return a, ok
	}
	return nil, false
}
