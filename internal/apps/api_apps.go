package apps

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// appPath is a parsed /v2/apps/... path.
type appPath struct {
	id       string
	sub      string // "", "restart", "tasks", "versions", "*"
	taskID   string
	version  string
	groupAll bool
}

func parseAppPath(p string) (appPath, error) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(p, "/v2/apps"), "/"), "/")
	n := len(segs)
	var out appPath
	switch {
	case n >= 2 && segs[n-1] == "restart":
		out.sub, segs = "restart", segs[:n-1]
	case n >= 3 && segs[n-2] == "tasks":
		out.sub, out.taskID, segs = "tasks", segs[n-1], segs[:n-2]
	case n >= 2 && segs[n-1] == "tasks":
		out.sub, segs = "tasks", segs[:n-1]
	case n >= 3 && segs[n-2] == "versions":
		out.sub, out.version, segs = "versions", segs[n-1], segs[:n-2]
	case n >= 2 && segs[n-1] == "versions":
		out.sub, segs = "versions", segs[:n-1]
	case n >= 1 && segs[n-1] == "*":
		out.sub, segs = "*", segs[:n-1]
	}
	id, err := spec.Resolve(strings.Join(segs, "/"), spec.Root)
	if err != nil {
		return out, errorf(http.StatusBadRequest, "invalid app id: %v", err)
	}
	out.id = id
	return out, nil
}

func (f *Framework) opts() spec.Options { return spec.Options{DefaultRole: f.cfg.Role} }

// serveApps is /v2/apps: GET lists, POST creates, PUT/PATCH update many.
func (f *Framework) serveApps(w http.ResponseWriter, r *http.Request) (any, error) {
	switch r.Method {
	case http.MethodGet:
		return f.listApps(r)
	case http.MethodPost:
		return f.createApp(w, r)
	case http.MethodPut, http.MethodPatch:
		return f.updateApps(w, r)
	}
	return nil, errorf(http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
}

// serveApp is /v2/apps/{id}[/...].
func (f *Framework) serveApp(w http.ResponseWriter, r *http.Request) (any, error) {
	p, err := parseAppPath(r.URL.Path)
	if err != nil {
		return nil, err
	}
	switch {
	case p.sub == "" && r.Method == http.MethodGet:
		return f.getApp(r, p.id)
	case p.sub == "" && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		return f.updateApp(w, r, p.id)
	case p.sub == "" && r.Method == http.MethodDelete:
		return f.deleteApp(w, r, p.id)
	case p.sub == "*" && r.Method == http.MethodGet:
		return f.listGroupApps(r, p.id)
	case p.sub == "restart" && r.Method == http.MethodPost:
		return f.restartApp(w, r, p.id)
	case p.sub == "tasks" && r.Method == http.MethodGet && p.taskID == "":
		return f.appTasks(w, r, p.id)
	case p.sub == "tasks" && r.Method == http.MethodDelete:
		return f.killAppTasks(w, r, p.id, p.taskID)
	case p.sub == "versions" && r.Method == http.MethodGet:
		return f.appVersions(r, p.id, p.version)
	}
	return nil, errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
}

func (f *Framework) listApps(r *http.Request) (any, error) {
	q := r.URL.Query()
	sel, err := parseSelector(q.Get("label"))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid label selector: %v", err)
	}
	e := parseEmbeds(q["embed"], "apps.")
	out := marathon.AppsResponse{Apps: []marathon.AppInfo{}}
	err = f.do(r.Context(), func() error {
		for _, id := range slices.Sorted(maps.Keys(f.apps)) {
			def := f.apps[id].def
			if !strings.Contains(def.Cmd, q.Get("cmd")) || !strings.Contains(strings.ToLower(id), strings.ToLower(q.Get("id"))) ||
				!sel.matches(def.Labels) {
				continue
			}
			out.Apps = append(out.Apps, f.appInfo(f.apps[id], e))
		}
		return nil
	})
	return out, err
}

func (f *Framework) listGroupApps(r *http.Request, group string) (any, error) {
	e := parseEmbeds(r.URL.Query()["embed"], "app.")
	out := []marathon.AppInfo{}
	err := f.do(r.Context(), func() error {
		for _, id := range slices.Sorted(maps.Keys(f.apps)) {
			if spec.IsUnder(id, group) && id != group {
				out = append(out, f.appInfo(f.apps[id], e))
			}
		}
		return nil
	})
	return map[string][]marathon.AppInfo{"*": out}, err
}

func (f *Framework) getApp(r *http.Request, id string) (any, error) {
	e := parseEmbeds(r.URL.Query()["embed"], "app.")
	e.tasks, e.lastFailure = true, true
	var out marathon.AppResponse
	err := f.do(r.Context(), func() error {
		a := f.apps[id]
		if a == nil {
			return appNotFound(id)
		}
		out.App = f.appInfo(a, e)
		return nil
	})
	return out, err
}

// decodeApp decodes, normalises and validates a full definition; id
// overrides the body's id when set.
func (f *Framework) decodeApp(body []byte, id string) (*marathon.App, spec.Fields, error) {
	a, fields, err := spec.DecodeApp(body)
	if err != nil {
		return nil, nil, err
	}
	return f.finishApp(a, fields, id)
}

func (f *Framework) finishApp(a marathon.App, fields spec.Fields, id string) (*marathon.App, spec.Fields, error) {
	if id != "" {
		a.ID = id
	} else if a.ID != "" {
		resolved, err := spec.Resolve(a.ID, spec.Root)
		if err != nil {
			return nil, nil, &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/id", Errors: []string{err.Error()}}}}
		}
		a.ID = resolved
	}
	spec.Normalize(&a, fields, f.opts())
	if err := spec.Validate(&a, f.opts()); err != nil {
		return nil, nil, err
	}
	return &a, fields, nil
}

func (f *Framework) createApp(w http.ResponseWriter, r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	def, _, err := f.decodeApp(body, "")
	if err != nil {
		return nil, err
	}
	var info marathon.AppInfo
	var d *deployment
	err = f.do(r.Context(), func() error {
		if f.apps[def.ID] != nil {
			return errorf(http.StatusConflict, "An app with id [%s] already exists.", def.ID)
		}
		if d, err = f.commit(r.Context(), change{upsert: []*marathon.App{def}, force: flag(r, "force", false)}); err != nil {
			return err
		}
		f.publishAPIPost(r, def)
		info = f.appInfo(f.apps[def.ID], embeds{})
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.Header().Set("Location", "/v2/apps"+def.ID)
	w.Header().Set("Marathon-Deployment-Id", d.ID)
	writeJSON(w, http.StatusCreated, info)
	return nil, nil
}

func (f *Framework) publishAPIPost(r *http.Request, def *marathon.App) {
	f.publish(marathon.EventAPIPost, marathon.APIPostEvent{EventHeader: f.hdr(marathon.EventAPIPost),
		ClientIP: clientIP(r), URI: r.URL.Path, AppDefinition: *def})
}

// updateApp is PUT (create or update; partialUpdate=true merges) and PATCH
// (merge; 404 when unknown) of one app. A body with only a version rolls
// back to that version.
func (f *Framework) updateApp(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	patch := r.Method == http.MethodPatch
	partial := patch || flag(r, "partialUpdate", true)
	var d *deployment
	created := false
	err = f.do(r.Context(), func() error {
		def, err := f.resolveUpdate(id, body, partial, patch)
		if err != nil {
			return err
		}
		created = f.apps[id] == nil
		if d, err = f.commit(r.Context(), change{upsert: []*marathon.App{def}, force: flag(r, "force", false)}); err != nil {
			return err
		}
		f.publishAPIPost(r, def)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if created {
		return deploymentResult(w, http.StatusCreated, d)
	}
	return deploymentResult(w, http.StatusOK, d)
}

// resolveUpdate turns an update body into the new definition of id (on
// the loop: it reads the current one).
func (f *Framework) resolveUpdate(id string, body []byte, partial, mustExist bool) (*marathon.App, error) {
	a := f.apps[id]
	if a == nil && mustExist {
		return nil, appNotFound(id)
	}
	_, raw, err := spec.DecodeApp(body)
	if err != nil {
		return nil, err
	}
	if raw.Has("version") && raw.OnlyHas("id", "version") {
		return f.rollbackDef(a, id, raw)
	}
	if a == nil || !partial {
		def, _, err := f.decodeApp(body, id)
		return def, err
	}
	merged, fields, err := spec.MergeApp(*a.def, body)
	if err != nil {
		return nil, err
	}
	def, _, err := f.finishApp(merged, fields, id)
	return def, err
}

func (f *Framework) rollbackDef(a *app, id string, raw spec.Fields) (*marathon.App, error) {
	var version string
	if err := json.Unmarshal(raw["version"], &version); err != nil {
		return nil, &spec.Malformed{Details: []marathon.ErrorDetail{{Path: "/version", Errors: []string{"error.expected.jsstring"}}}}
	}
	if a == nil {
		return nil, appNotFound(id)
	}
	v := a.versions[version]
	if v == nil {
		return nil, errorf(http.StatusNotFound, "Version '%s' of app '%s' does not exist", version, id)
	}
	c := *v
	c.Version, c.VersionInfo = "", nil
	return &c, nil
}

// updateApps is PUT/PATCH /v2/apps: an array of (partial) apps in one
// deployment.
func (f *Framework) updateApps(w http.ResponseWriter, r *http.Request) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	raws, err := spec.DecodeApps(body)
	if err != nil {
		return nil, err
	}
	patch := r.Method == http.MethodPatch
	partial := patch || flag(r, "partialUpdate", true)
	var d *deployment
	err = f.do(r.Context(), func() error {
		var defs []*marathon.App
		for i, raw := range raws {
			var head struct {
				ID string `json:"id"`
			}
			json.Unmarshal(raw, &head)
			id, err := spec.Resolve(head.ID, spec.Root)
			if err != nil || head.ID == "" {
				return &spec.Invalid{Details: []marathon.ErrorDetail{{Path: "/" + itoa(i) + "/id", Errors: []string{"error.path.missing"}}}}
			}
			def, err := f.resolveUpdate(id, raw, partial, patch)
			if err != nil {
				return spec.Prefixed(err, "/"+itoa(i))
			}
			defs = append(defs, def)
		}
		if d, err = f.commit(r.Context(), change{upsert: defs, force: flag(r, "force", false)}); err != nil {
			return err
		}
		for _, def := range defs {
			f.publishAPIPost(r, def)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return deploymentResult(w, http.StatusOK, d)
}

func (f *Framework) deleteApp(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	var d *deployment
	err := f.do(r.Context(), func() error {
		if f.apps[id] == nil {
			return appNotFound(id)
		}
		var err error
		d, err = f.commit(r.Context(), change{remove: []string{id}, force: flag(r, "force", true)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return deploymentResult(w, http.StatusOK, d)
}

func (f *Framework) restartApp(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	var d *deployment
	err := f.do(r.Context(), func() error {
		a := f.apps[id]
		if a == nil {
			return appNotFound(id)
		}
		c := *a.def
		var err error
		d, err = f.commit(r.Context(), change{upsert: []*marathon.App{&c}, restart: map[string]bool{id: true}, force: flag(r, "force", false)})
		if err == nil {
			f.resetDelays(id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return deploymentResult(w, http.StatusOK, d)
}

func (f *Framework) resetDelays(id string) { f.clearDelays(id) }

func (f *Framework) appVersions(r *http.Request, id, version string) (any, error) {
	var out any
	err := f.do(r.Context(), func() error {
		a := f.apps[id]
		if a == nil {
			return appNotFound(id)
		}
		if version == "" {
			vs := sortedVersions(a)
			slices.Reverse(vs)
			out = marathon.VersionsResponse{Versions: vs}
			return nil
		}
		v := a.versions[version]
		if v == nil {
			return errorf(http.StatusNotFound, "Version '%s' of app '%s' does not exist", version, id)
		}
		out = v
		return nil
	})
	return out, err
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
