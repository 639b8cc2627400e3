package master

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"regexp"
	"strconv"
	"strings"

	"github.com/agoraproject/agora/internal/webui"

	"github.com/agoraproject/agora/internal/promexport"

	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/version"
)

// Handler is the master's HTTP API: the v1 scheduler API, the agent
// protocol, and the read endpoints existing Mesos tools use (reference §7).
// Every handler is an adapter: it parses, asks the loop (or reads a
// snapshot), and renders.
func (m *Master) Handler() http.Handler {
	mux := http.NewServeMux()
	lead := m.leaderOnly
	mux.HandleFunc("/api/v1/scheduler", lead(m.serveScheduler))
	mux.HandleFunc("/agora/v1/agent", m.holdForLeader(lead(m.serveAgent)))

	for _, p := range []string{"/master/state", "/master/state.json", "/state", "/state.json"} {
		mux.HandleFunc("GET "+p, lead(m.serveState))
	}
	for _, p := range []string{"/master/state-summary", "/state-summary"} {
		mux.HandleFunc("GET "+p, lead(m.serveStateSummary))
	}
	for _, p := range []string{"/master/frameworks", "/master/frameworks/{$}", "/frameworks"} {
		mux.HandleFunc("GET "+p, lead(m.serveFrameworks))
	}
	for _, p := range []string{"/master/slaves", "/slaves"} {
		mux.HandleFunc("GET "+p, lead(m.serveSlaves))
	}
	for _, p := range []string{"/master/tasks", "/master/tasks.json", "/tasks"} {
		mux.HandleFunc("GET "+p, lead(m.serveTasks))
	}
	for _, p := range []string{"/master/redirect", "/redirect"} {
		mux.HandleFunc(p, m.serveRedirect)
	}
	for _, p := range []string{"/health", "/master/health"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	}
	for _, p := range []string{"/version", "/master/version"} {
		mux.HandleFunc("GET "+p, serveVersion)
	}
	for _, p := range []string{"/flags", "/master/flags"} {
		mux.HandleFunc("GET "+p, m.serveFlags)
	}
	mux.HandleFunc("GET /metrics/snapshot", m.serveMetricsSnapshot)
	mux.Handle("GET /metrics", promexport.Handler(func(r *http.Request) (map[string]float64, error) {
		s, err := m.MetricsSnapshot(r.Context())
		if err != nil {
			return nil, err
		}
		return metricsOf(s, m.clock.Now()), nil
	}))
	mux.HandleFunc("/api/v1", lead(m.serveOperator))
	mux.HandleFunc("/v2/", lead(m.serveApps))
	mux.HandleFunc("/ping", lead(m.serveApps))
	for _, p := range []string{"/roles", "/master/roles", "/roles.json", "/master/roles.json"} {
		mux.HandleFunc("GET "+p, lead(m.serveRoles))
	}
	for _, p := range []string{"/weights", "/master/weights"} {
		mux.HandleFunc("GET "+p, lead(m.serveWeights))
		mux.HandleFunc("PUT "+p, lead(m.serveWeights))
	}
	for _, p := range []string{"/quota", "/master/quota"} {
		mux.HandleFunc("GET "+p, lead(m.serveQuota))
	}
	mux.Handle("/", webui.Handler()) // the web UI, on every master
	mux.HandleFunc("GET /agora/v1/masters", m.serveMembers)
	mux.HandleFunc("POST /agora/v1/masters", lead(m.serveAddMember))
	mux.HandleFunc("DELETE /agora/v1/masters/{address}", lead(m.serveRemoveMember))
	if m.cfg.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	return apihttp.Recover(m.log, mux)
}

// writeJSON answers 200 with v as JSON, wrapped in a JSONP callback when
// the request asks for one.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		if !jsonpCallback.MatchString(cb) {
			apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Invalid 'jsonp' callback name"))
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		w.Write([]byte(cb + "("))
		w.Write(body)
		w.Write([]byte(");"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

var jsonpCallback = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]*$`)

// serveRedirect answers 307 to the leading master, protocol-relative.
func (m *Master) serveRedirect(w http.ResponseWriter, r *http.Request) {
	leader := m.leaderAddress()
	if leader == "" {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "No leader elected"))
		return
	}
	w.Header().Set("Location", "//"+leader)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

func serveVersion(w http.ResponseWriter, r *http.Request) {
	b := version.Info()
	writeJSON(w, r, map[string]any{
		"version":       version.Mesos,
		"agora_version": version.Agora,
		"build_date":    b.BuildTime,
		"build_time":    0,
		"build_user":    "",
		"git_sha":       b.GitSHA,
	})
}

func (m *Master) serveFlags(w http.ResponseWriter, r *http.Request) {
	flags := m.cfg.Flags
	if flags == nil {
		flags = map[string]string{}
	}
	writeJSON(w, r, map[string]any{"flags": flags})
}

// queryInt reads an integer query parameter with a default.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apihttp.Errorf(http.StatusBadRequest, "Failed to parse query parameter '%s': %v", name, err)
	}
	return n, nil
}
