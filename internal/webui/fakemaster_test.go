package webui_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/agoraproject/agora/internal/webui"
)

// fakeMaster serves the UI and the master read API the pages use, for a
// synthetic cluster. With stream, SUBSCRIBE answers an operator event
// stream (the SUBSCRIBED state, then what the test sends); without, it
// answers 501 and the page must poll master/state.
type fakeMaster struct {
	t      *testing.T
	url    string
	events chan []byte

	mu    sync.Mutex
	state []byte // the legacy /master/state (nil: 503, no leader)
}

func startFakeMaster(t *testing.T, getState map[string]any, stream bool) *fakeMaster {
	t.Helper()
	fm := &fakeMaster{t: t, events: make(chan []byte, 4096)}
	subscribed := mustJSON(t, map[string]any{"type": "SUBSCRIBED", "subscribed": map[string]any{
		"get_state": getState, "heartbeat_interval_seconds": 15}})
	ui := webui.Handler()
	mux := http.NewServeMux()
	mux.Handle("/{$}", ui)
	mux.Handle("/static/", ui)
	mux.HandleFunc("POST /api/v1", func(w http.ResponseWriter, r *http.Request) {
		var call struct{ Type string }
		json.NewDecoder(r.Body).Decode(&call)
		switch {
		case call.Type == "SUBSCRIBE" && stream:
			fm.stream(w, r, subscribed)
		case call.Type == "GET_MASTER":
			writeJSON(w, map[string]any{"type": "GET_MASTER", "get_master": map[string]any{
				"master_info": map[string]any{"id": "fake", "pid": "master@127.0.0.1:5050", "hostname": "fake-master", "version": "1.11.0"},
				"start_time":  1.7e9, "elected_time": 1.7e9}})
		case call.Type == "GET_ROLES":
			writeJSON(w, map[string]any{"type": "GET_ROLES", "get_roles": map[string]any{"roles": []any{map[string]any{
				"name": "*", "weight": 1.0, "frameworks": []any{map[string]any{"value": "fw-poll"}},
				"resources": []any{scalar("cpus", 1)}}}}})
		case call.Type == "GET_QUOTA":
			writeJSON(w, map[string]any{"type": "GET_QUOTA", "get_quota": map[string]any{"status": map[string]any{
				"configs": []any{map[string]any{"role": "*",
					"guarantees": map[string]any{"cpus": map[string]any{"value": 2}},
					"limits":     map[string]any{"cpus": map[string]any{"value": 4}}}}}}})
		default:
			http.Error(w, "Operator call "+call.Type+" is not implemented", http.StatusNotImplemented)
		}
	})
	mux.HandleFunc("GET /master/state", func(w http.ResponseWriter, r *http.Request) {
		fm.mu.Lock()
		defer fm.mu.Unlock()
		if fm.state == nil {
			http.Error(w, "No leader elected", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(fm.state)
	})
	mux.HandleFunc("GET /master/state-summary", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"hostname": "fake-master", "cluster": "fake", "slaves": []any{}, "frameworks": []any{}})
	})
	mux.HandleFunc("GET /metrics/snapshot", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"master/cpus_total": 800.0, "master/cpus_used": 600.0, "master/mem_total": 3.2e6, "master/mem_used": 3.2e5})
	})
	mux.HandleFunc("GET /agora/v1/masters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"masters": []any{map[string]any{"address": "127.0.0.1:5049", "voter": true, "leader": true}}})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections() // the page's open event stream
		srv.Close()
	})
	fm.url = srv.URL + "/"
	return fm
}

// stream answers SUBSCRIBE: the SUBSCRIBED record, then the test's events,
// each batch flushed together.
func (fm *fakeMaster) stream(w http.ResponseWriter, r *http.Request, subscribed []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	fmt.Fprintf(w, "%d\n%s", len(subscribed), subscribed)
	flusher.Flush()
	for {
		select {
		case ev := <-fm.events:
			fmt.Fprintf(w, "%d\n%s", len(ev), ev)
			for more := true; more; {
				select {
				case ev := <-fm.events:
					fmt.Fprintf(w, "%d\n%s", len(ev), ev)
				default:
					more = false
				}
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		}
	}
}

// setState replaces the legacy /master/state; nil makes it answer 503.
func (fm *fakeMaster) setState(state map[string]any) {
	var b []byte
	if state != nil {
		b = mustJSON(fm.t, state)
	}
	fm.mu.Lock()
	fm.state = b
	fm.mu.Unlock()
}

// taskUpdated sends a TASK_UPDATED event on the stream.
func (fm *fakeMaster) taskUpdated(frameworkID, taskID, state string) {
	fm.events <- mustJSON(fm.t, map[string]any{"type": "TASK_UPDATED", "task_updated": map[string]any{
		"framework_id": map[string]any{"value": frameworkID}, "state": state,
		"status": map[string]any{"task_id": map[string]any{"value": taskID}, "state": state, "timestamp": 1.8e9}}})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// A synthetic cluster in v1 JSON (GET_STATE): agents, frameworks and
// running tasks spread over them.

func syntheticTaskIDs(i, frameworks int) (frameworkID, taskID string) {
	return fmt.Sprintf("fw-%d", i%frameworks), fmt.Sprintf("task-%05d", i)
}

func scalar(name string, v float64) map[string]any {
	return map[string]any{"name": name, "type": "SCALAR", "scalar": map[string]any{"value": v}}
}

func syntheticState(tasks, agents, frameworks int) map[string]any {
	var as, fs, ts []any
	for i := range agents {
		as = append(as, map[string]any{
			"agent_info": map[string]any{"id": map[string]any{"value": fmt.Sprintf("agent-%03d", i)},
				"hostname": fmt.Sprintf("host-%03d", i), "port": 5051,
				"attributes": []any{map[string]any{"name": "rack", "type": "TEXT", "text": map[string]any{"value": fmt.Sprintf("r%d", i%4)}}}},
			"pid": fmt.Sprintf("slave(1)@127.0.0.1:%d", 20000+i), "active": true,
			"registered_time": map[string]any{"nanoseconds": int64(1.7e18)},
			"total_resources": []any{scalar("cpus", 8), scalar("mem", 32768)},
		})
	}
	for i := range frameworks {
		fs = append(fs, map[string]any{
			"framework_info": map[string]any{"id": map[string]any{"value": fmt.Sprintf("fw-%d", i)},
				"name": fmt.Sprintf("framework-%d", i), "user": "root", "roles": []any{"*"}},
			"active": true, "connected": true, "registered_time": map[string]any{"nanoseconds": int64(1.7e18)},
		})
	}
	for i := range tasks {
		fid, id := syntheticTaskIDs(i, frameworks)
		ts = append(ts, map[string]any{
			"name": id, "task_id": map[string]any{"value": id}, "framework_id": map[string]any{"value": fid},
			"agent_id": map[string]any{"value": fmt.Sprintf("agent-%03d", i%agents)}, "state": "TASK_RUNNING",
			"resources": []any{scalar("cpus", 0.1), scalar("mem", 32)},
			"statuses": []any{map[string]any{"task_id": map[string]any{"value": id}, "state": "TASK_RUNNING",
				"timestamp": 1.7e9 + float64(i), "healthy": i%7 != 0}},
		})
	}
	return map[string]any{
		"get_agents":     map[string]any{"agents": as},
		"get_frameworks": map[string]any{"frameworks": fs},
		"get_tasks":      map[string]any{"tasks": ts},
	}
}

// legacyState is a small /master/state: one agent, one framework, tasks
// (id -> state; terminal ones among the completed tasks).
func legacyState(tasks map[string]string) map[string]any {
	var active, completed []any
	for id, state := range tasks {
		t := map[string]any{"id": id, "name": id, "framework_id": "fw-poll", "executor_id": "", "slave_id": "agent-poll",
			"state": state, "resources": map[string]any{"cpus": 0.5, "mem": 64, "disk": 0, "gpus": 0}, "role": "*",
			"statuses": []any{map[string]any{"state": state, "timestamp": 1.7e9}}}
		if state == "TASK_RUNNING" {
			active = append(active, t)
		} else {
			completed = append(completed, t)
		}
	}
	return map[string]any{
		"version": "1.11.0", "id": "fake", "pid": "master@127.0.0.1:5050", "hostname": "fake-master",
		"leader": "master@127.0.0.1:5050", "cluster": "polling", "start_time": 1.7e9, "elected_time": 1.7e9,
		"slaves": []any{map[string]any{"id": "agent-poll", "hostname": "poll-host", "port": 5051, "pid": "slave(1)@127.0.0.1:5051",
			"attributes": map[string]any{"zone": "a"}, "active": true, "registered_time": 1.7e9,
			"resources":      map[string]any{"cpus": 4, "mem": 4096, "disk": 0, "gpus": 0, "ports": "[31000-32000]"},
			"used_resources": map[string]any{"cpus": 1, "mem": 128, "disk": 0, "gpus": 0}}},
		"frameworks": []any{map[string]any{"id": "fw-poll", "name": "poller", "active": true, "connected": true,
			"role": "*", "user": "root", "registered_time": 1.7e9,
			"used_resources": map[string]any{"cpus": 1, "mem": 128, "disk": 0, "gpus": 0},
			"tasks":          active, "completed_tasks": completed}},
		"completed_frameworks": []any{},
	}
}
