package master

import (
	"encoding/json"
	"net/http"
	"sort"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/version"
)

// snapshotFor fetches a snapshot for a read endpoint, answering 503 itself
// when the master cannot give one.
func (m *Master) snapshotFor(w http.ResponseWriter, r *http.Request) *Snapshot {
	s, err := m.Snapshot(r.Context())
	if err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return nil
	}
	return s
}

// serveState is /master/state (reference §7).
func (m *Master) serveState(w http.ResponseWriter, r *http.Request) {
	s := m.snapshotFor(w, r)
	if s == nil {
		return
	}
	if r.URL.Query().Get("jsonp") != "" {
		writeJSON(w, r, stateOf(s))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := writeState(w, s); err != nil {
		m.log.Error("writing /master/state", "error", err)
	}
}

// stateOf renders the state document; without frameworks its framework
// lists are left for writeState to stream.
func stateOf(s *Snapshot, withFrameworks ...bool) *stateJSON {
	b := version.Info()
	st := &stateJSON{
		Version:                version.Mesos,
		GitSHA:                 b.GitSHA,
		BuildDate:              b.BuildTime,
		StartTime:              seconds(s.StartTime),
		ElectedTime:            seconds(s.ElectedTime),
		ID:                     s.ID,
		PID:                    s.PID,
		Hostname:               s.Info.GetHostname(),
		Capabilities:           []string{},
		Leader:                 s.PID,
		LeaderInfo:             protoJSON(s.Info),
		Cluster:                s.Cluster,
		Flags:                  s.Flags,
		Slaves:                 []slaveJSON{},
		RecoveredSlaves:        []json.RawMessage{},
		Frameworks:             []frameworkJSON{},
		CompletedFrameworks:    []frameworkJSON{},
		OrphanTasks:            []taskJSON{},
		UnregisteredFrameworks: []string{},
	}
	if st.Flags == nil {
		st.Flags = map[string]string{}
	}
	for _, c := range s.Info.GetCapabilities() {
		st.Capabilities = append(st.Capabilities, c.GetType().String())
	}
	for i := range s.Agents {
		a := &s.Agents[i]
		switch {
		case a.Unreachable:
			st.UnreachableSlaves++
			continue
		case a.Active():
			st.ActivatedSlaves++
		default:
			st.DeactivatedSlaves++
		}
		st.Slaves = append(st.Slaves, slaveState(a, false))
	}
	if len(withFrameworks) > 0 && !withFrameworks[0] {
		return st
	}
	for i := range s.Frameworks {
		st.Frameworks = append(st.Frameworks, frameworkState(&s.Frameworks[i]))
	}
	for i := range s.Completed {
		st.CompletedFrameworks = append(st.CompletedFrameworks, frameworkState(&s.Completed[i]))
	}
	return st
}

// serveStateSummary is /master/state-summary: agents and frameworks with
// per-state task counts, without the tasks.
func (m *Master) serveStateSummary(w http.ResponseWriter, r *http.Request) {
	s := m.snapshotFor(w, r)
	if s == nil {
		return
	}
	slavesOfFramework := map[string][]string{}
	slaves := []map[string]any{}
	for i := range s.Agents {
		a := &s.Agents[i]
		if a.Unreachable {
			continue
		}
		var entry map[string]any
		roundTrip(slaveState(a, false), &entry)
		addStateCounts(entry, a.TaskStates)
		entry["framework_ids"] = nonNil(a.FrameworkIDs)
		for _, fid := range a.FrameworkIDs {
			slavesOfFramework[fid] = append(slavesOfFramework[fid], a.ID)
		}
		slaves = append(slaves, entry)
	}
	frameworks := []map[string]any{}
	for i := range s.Frameworks {
		f := &s.Frameworks[i]
		full := frameworkState(f)
		entry := map[string]any{
			"id": full.ID, "name": full.Name, "used_resources": full.UsedResources,
			"offered_resources": full.OfferedResources, "capabilities": full.Capabilities,
			"hostname": full.Hostname, "webui_url": full.WebuiURL, "active": full.Active,
			"connected": full.Connected, "recovered": full.Recovered,
		}
		counts := map[mesos.TaskState]int{}
		for _, t := range f.Tasks {
			counts[t.State]++
		}
		for _, t := range f.CompletedTasks {
			counts[t.State]++
		}
		addStateCounts(entry, counts)
		ids := slavesOfFramework[f.ID]
		sort.Strings(ids)
		entry["slave_ids"] = nonNil(ids)
		frameworks = append(frameworks, entry)
	}
	out := map[string]any{
		"hostname":   s.Info.GetHostname(),
		"slaves":     slaves,
		"frameworks": frameworks,
	}
	if s.Cluster != "" {
		out["cluster"] = s.Cluster
	}
	writeJSON(w, r, out)
}

var summaryStates = []mesos.TaskState{
	mesos.TaskState_TASK_STAGING, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING,
	mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_KILLED,
	mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_ERROR,
	mesos.TaskState_TASK_UNREACHABLE,
}

func addStateCounts(entry map[string]any, counts map[mesos.TaskState]int) {
	for _, st := range summaryStates {
		entry[st.String()] = counts[st]
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// roundTrip converts a struct into a generic map (to add keys to it).
func roundTrip(v any, out *map[string]any) {
	b, _ := json.Marshal(v)
	json.Unmarshal(b, out)
}

// serveFrameworks is /master/frameworks[?framework_id=].
func (m *Master) serveFrameworks(w http.ResponseWriter, r *http.Request) {
	s := m.snapshotFor(w, r)
	if s == nil {
		return
	}
	want := r.URL.Query().Get("framework_id")
	out := map[string]any{
		"frameworks":              []frameworkJSON{},
		"completed_frameworks":    []frameworkJSON{},
		"unregistered_frameworks": []string{},
	}
	collect := func(key string, fws []FrameworkView) {
		list := []frameworkJSON{}
		for i := range fws {
			if want == "" || fws[i].ID == want {
				list = append(list, frameworkState(&fws[i]))
			}
		}
		out[key] = list
	}
	collect("frameworks", s.Frameworks)
	collect("completed_frameworks", s.Completed)
	writeJSON(w, r, out)
}

// serveSlaves is /master/slaves[?slave_id=], with the *_full resources.
func (m *Master) serveSlaves(w http.ResponseWriter, r *http.Request) {
	s := m.snapshotFor(w, r)
	if s == nil {
		return
	}
	want := r.URL.Query().Get("slave_id")
	slaves := []slaveJSON{}
	for i := range s.Agents {
		a := &s.Agents[i]
		if a.Unreachable || (want != "" && a.ID != want) {
			continue
		}
		slaves = append(slaves, slaveState(a, true))
	}
	writeJSON(w, r, map[string]any{"slaves": slaves, "recovered_slaves": []json.RawMessage{}})
}

// serveTasks is /master/tasks with framework_id, task_id, limit (100),
// offset and order (des by default, by start time).
func (m *Master) serveTasks(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 100)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	offset, err := queryInt(r, "offset", 0)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	order := r.URL.Query().Get("order")
	if order != "" && order != "asc" && order != "des" {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Invalid 'order' %q: expected 'asc' or 'des'", order))
		return
	}
	s := m.snapshotFor(w, r)
	if s == nil {
		return
	}
	fid, tid := r.URL.Query().Get("framework_id"), r.URL.Query().Get("task_id")
	var matched []*TaskView
	for _, t := range allTasks(s) {
		if (fid == "" || t.FrameworkID == fid) && (tid == "" || t.ID == tid) {
			matched = append(matched, t)
		}
	}
	if order != "asc" {
		for i, j := 0, len(matched)-1; i < j; i, j = i+1, j-1 {
			matched[i], matched[j] = matched[j], matched[i]
		}
	}
	tasks := []json.RawMessage{}
	for i := max(offset, 0); i < len(matched) && len(tasks) < max(limit, 0); i++ {
		tasks = append(tasks, renderTask(matched[i]))
	}
	writeJSON(w, r, map[string]any{"tasks": tasks})
}
