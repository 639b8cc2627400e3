package master

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/agoraproject/agora/internal/apps"
)

// The built-in apps framework (the Marathon-compatible API) runs in the
// leading master's process: it starts when this master starts leading,
// keeps its state in the registry, and stops when leadership is lost; the
// next leader's framework resumes from the registry. It is a framework like
// any other: it reaches the master through the scheduler API.

// startApps runs the apps framework for as long as ctx (the leadership
// term) lasts, restarting it if it fails.
func (m *Master) startApps(ctx context.Context) {
	if m.cfg.Apps == nil {
		return
	}
	cfg := *m.cfg.Apps
	cfg.Masters = []string{net.JoinHostPort(m.info.GetAddress().GetIp(), strconv.Itoa(int(m.info.GetPort())))}
	cfg.Store = &registryStore{reg: m.reg, w: m.registrar}
	if cfg.Hostname == "" {
		cfg.Hostname = m.info.GetHostname()
	}
	cfg.Logger = m.log.With("component", "apps")
	go func() {
		for ctx.Err() == nil {
			fw, err := apps.New(cfg)
			if err == nil {
				m.apps.Store(fw)
				err = fw.Run(ctx)
				m.apps.Store(nil)
			}
			if ctx.Err() != nil {
				return
			}
			m.log.Error("apps framework stopped; restarting", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
}

// serveApps is the Marathon API (/v2/*, /ping) on the master's listener.
func (m *Master) serveApps(w http.ResponseWriter, r *http.Request) {
	if fw := m.apps.Load(); fw != nil {
		fw.Handler().ServeHTTP(w, r)
		return
	}
	if m.cfg.Apps == nil {
		http.NotFound(w, r)
		return
	}
	marathonError(w, http.StatusServiceUnavailable, "The apps framework is starting")
}

func marathonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write([]byte(`{"message":` + strconv.Quote(msg) + `}`))
}

// appsHandler is the Marathon API on its own listener (8080): the leader
// serves it; other masters redirect to the same path and port on the
// leader, or answer 503 while there is none.
func (m *Master) appsHandler() http.Handler {
	_, port, _ := net.SplitHostPort(m.cfg.AppsListenAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.isLeading() {
			m.serveApps(w, r)
			return
		}
		leader := m.leaderAddress()
		if leader == "" {
			marathonError(w, http.StatusServiceUnavailable, "Could not determine the current leader")
			return
		}
		host, _, _ := net.SplitHostPort(leader)
		w.Header().Set("Location", "http://"+net.JoinHostPort(host, port)+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
}

// serveAppsListener serves the Marathon API on AppsListenAddr until ctx ends.
func (m *Master) serveAppsListener(ctx context.Context) error {
	if m.cfg.Apps == nil || m.cfg.AppsListenAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.cfg.AppsListenAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: m.appsHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
