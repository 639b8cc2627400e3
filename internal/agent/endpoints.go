package agent

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/agoraproject/agora/internal/version"
)

// routes is the agent's HTTP surface. Legacy endpoints answer both with and
// without the libprocess prefix /slave(1).
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	both := func(path string, h http.HandlerFunc) {
		mux.HandleFunc(path, h)
		mux.HandleFunc("/slave(1)"+path, h)
	}
	both("/api/v1/executor", a.serveExecutorAPI)
	both("/state", a.serveState)
	both("/state.json", a.serveState)
	both("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	both("/flags", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, map[string]any{"flags": a.flags()})
	})
	mux.HandleFunc("/version", a.serveVersion)
	mux.HandleFunc("/metrics/snapshot", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, a.metricsSnapshot())
	})
	mux.HandleFunc("/monitor/statistics", a.monitorStatistics)
	mux.HandleFunc("/monitor/statistics.json", a.monitorStatistics)
	for _, suffix := range []string{"", ".json"} {
		mux.HandleFunc("/files/browse"+suffix, getOnly(a.files.browse))
		mux.HandleFunc("/files/read"+suffix, getOnly(a.files.read))
	}
	mux.HandleFunc("/files/download", getOnly(a.files.download))
	mux.HandleFunc("/files/download.json", getOnly(a.files.download))
	if a.cfg.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	return mux
}

func getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			http.Error(w, "Expecting 'GET', received '"+r.Method+"'", http.StatusMethodNotAllowed)
			return
		}
		h(w, r)
	}
}

func (a *Agent) serveVersion(w http.ResponseWriter, r *http.Request) {
	info := version.Info()
	out := map[string]any{
		"version":       version.Mesos,
		"agora_version": version.Agora,
		"build_date":    info.BuildTime,
		"build_time":    0.0,
		"build_user":    "agora",
	}
	if t, err := time.Parse(time.RFC3339, info.BuildTime); err == nil {
		out["build_time"] = float64(t.Unix())
	}
	if info.GitSHA != "" {
		out["git_sha"] = info.GitSHA
	}
	writeJSON(w, r, out)
}

// versionString is the version sent in SUBSCRIBE.
func versionString() string { return version.Mesos }

// flags is /flags: the effective configuration under Mesos flag names.
func (a *Agent) flags() map[string]string {
	c := a.cfg
	if c.Flags != nil {
		return c.Flags
	}
	return map[string]string{
		"work_dir":                       c.WorkDir,
		"master":                         strings.Join(c.Masters, ","),
		"ip":                             a.ip,
		"port":                           fmt.Sprint(a.port),
		"hostname":                       c.Hostname,
		"resources":                      c.Resources,
		"attributes":                     c.Attributes,
		"default_role":                   c.DefaultRole,
		"executor_registration_timeout":  mesosDuration(c.ExecutorRegistrationTimeout),
		"executor_shutdown_grace_period": mesosDuration(c.ExecutorShutdownGracePeriod),
		"registration_backoff_factor":    mesosDuration(c.RegistrationBackoff),
		"containerizers":                 "mesos",
		"isolation":                      "posix/cpu,posix/mem",
		"switch_user":                    "true",
	}
}
