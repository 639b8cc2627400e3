package agent

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/agoraproject/agora/internal/version"
)

// executorRoutes serve the executor API alone: what the agent serves its
// executor host's executors on the Unix socket.
func (a *Agent) executorRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/executor", a.serveExecutorAPI)
	return mux
}

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
	both("/api/v1", a.serveOperatorAPI)
	for _, suffix := range []string{"", ".json"} {
		mux.HandleFunc("/files/browse"+suffix, readOnlyCORS(a.files.browse))
		mux.HandleFunc("/files/read"+suffix, readOnlyCORS(a.files.read))
		mux.HandleFunc("/files/download"+suffix, readOnlyCORS(a.files.download))
	}
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

// readOnlyCORS serves a read-only endpoint to pages of any origin (the
// web UI is served by the master, on another port): GET and HEAD answer
// with Access-Control-Allow-Origin: *, and the OPTIONS preflight is
// answered 204 with what may be asked.
func readOnlyCORS(h http.HandlerFunc) http.HandlerFunc {
	get := getOnly(h)
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Access-Control-Allow-Origin", "*")
		if r.Method != http.MethodOptions {
			get(w, r)
			return
		}
		hdr.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
			hdr.Set("Access-Control-Allow-Headers", asked)
		}
		hdr.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
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
		"work_dir":                        c.WorkDir,
		"master":                          strings.Join(c.Masters, ","),
		"ip":                              a.ip,
		"port":                            fmt.Sprint(a.port),
		"hostname":                        c.Hostname,
		"resources":                       c.Resources,
		"attributes":                      c.Attributes,
		"default_role":                    c.DefaultRole,
		"executor_registration_timeout":   mesosDuration(c.ExecutorRegistrationTimeout),
		"executor_shutdown_grace_period":  mesosDuration(c.ExecutorShutdownGracePeriod),
		"registration_backoff_factor":     mesosDuration(c.RegistrationBackoff),
		"recover":                         c.Recover,
		"strict":                          boolString(!c.NonStrict),
		"recovery_timeout":                mesosDuration(c.RecoveryTimeout),
		"executor_reregistration_timeout": mesosDuration(c.ExecutorReregistrationTimeout),
		"gc_delay":                        flagDuration(c.GCDelay),
		"gc_disk_headroom":                strconv.FormatFloat(c.GCDiskHeadroom, 'f', -1, 64),
		"disk_watch_interval":             mesosDuration(c.DiskWatchInterval),
		"containerizers":                  "mesos",
		"isolation":                       "posix/cpu,posix/mem",
		"switch_user":                     boolString(!c.NoSwitchUser),
	}
}

func boolString(b bool) string { return strconv.FormatBool(b) }

// flagDuration formats d as Mesos flags do, in the largest whole unit
// ("1weeks", "2days", "3hrs", else mesosDuration's).
func flagDuration(d time.Duration) string {
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{7 * 24 * time.Hour, "weeks"}, {24 * time.Hour, "days"}, {time.Hour, "hrs"}} {
		if d >= u.unit && d%u.unit == 0 {
			return fmt.Sprintf("%d%s", d/u.unit, u.name)
		}
	}
	return mesosDuration(d)
}
