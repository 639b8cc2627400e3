package apps

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/launch"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// wantsText reports whether the client asked for the legacy text/plain
// task list.
func wantsText(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "text/plain") && !strings.Contains(accept, "application/json")
}

func (f *Framework) appTasks(w http.ResponseWriter, r *http.Request, id string) (any, error) {
	out := marathon.TasksResponse{Tasks: []marathon.Task{}}
	var text string
	err := f.do(r.Context(), func() error {
		a := f.apps[id]
		if a == nil {
			return appNotFound(id)
		}
		out.Tasks = f.tasksOf(id, nil)
		text = f.tasksText([]string{id})
		return nil
	})
	if err != nil || !wantsText(r) {
		return out, err
	}
	writeText(w, text)
	return nil, nil
}

// tasksOf lists an app's launched tasks, optionally filtered by state.
func (f *Framework) tasksOf(appID string, states map[string]bool) []marathon.Task {
	out := []marathon.Task{}
	for _, in := range f.sortedInstances(appID) {
		if in.scheduled() || (states != nil && !states[taskState(in)]) {
			continue
		}
		out = append(out, f.task(in))
	}
	return out
}

// tasksText is the legacy text/plain format: per app and service port,
// "safeId\tservicePort\thost:port\t...\n".
func (f *Framework) tasksText(ids []string) string {
	var b strings.Builder
	for _, id := range ids {
		a := f.apps[id]
		if a == nil {
			continue
		}
		for i, sp := range spec.ServicePorts(a.def) {
			fmt.Fprintf(&b, "%s\t%d\t", spec.SafeID(id), sp)
			for _, in := range f.sortedInstances(id) {
				if in.Condition == condRunning && i < len(in.HostPorts) {
					fmt.Fprintf(&b, "%s:%d\t", in.Host, in.HostPorts[i])
				}
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(s))
}

// getTasks is GET /v2/tasks?status=running|staging.
func (f *Framework) getTasks(w http.ResponseWriter, r *http.Request) (any, error) {
	var states map[string]bool
	for _, s := range append(r.URL.Query()["status"], r.URL.Query()["status[]"]...) {
		if states == nil {
			states = map[string]bool{}
		}
		switch strings.ToLower(s) {
		case "running":
			states["TASK_RUNNING"] = true
		case "staging":
			states["TASK_STAGING"], states["TASK_STARTING"] = true, true
		}
	}
	out := marathon.TasksResponse{Tasks: []marathon.Task{}}
	var text string
	err := f.do(r.Context(), func() error {
		ids := slices.Sorted(maps.Keys(f.byApp))
		for _, id := range ids {
			out.Tasks = append(out.Tasks, f.tasksOf(id, states)...)
		}
		text = f.tasksText(slices.Sorted(maps.Keys(f.apps)))
		return nil
	})
	if err != nil || !wantsText(r) {
		return out, err
	}
	writeText(w, text)
	return nil, nil
}

// killRequest is a kill of some of an app's tasks.
type killRequest struct {
	scale, wipe, force bool
}

func parseKill(r *http.Request) (killRequest, error) {
	k := killRequest{scale: flag(r, "scale", false), wipe: flag(r, "wipe", false), force: flag(r, "force", false)}
	if k.scale && k.wipe {
		return k, errorf(http.StatusBadRequest, "You cannot use scale and wipe at the same time.")
	}
	return k, nil
}

// killAppTasks is DELETE /v2/apps/{id}/tasks[/{taskId}]?host&scale&wipe.
func (f *Framework) killAppTasks(w http.ResponseWriter, r *http.Request, id, taskID string) (any, error) {
	k, err := parseKill(r)
	if err != nil {
		return nil, err
	}
	host := r.URL.Query().Get("host")
	var res any
	err = f.do(r.Context(), func() error {
		if f.apps[id] == nil {
			return appNotFound(id)
		}
		var victims []*instance
		for _, in := range f.sortedInstances(id) {
			if in.scheduled() || (host != "" && in.Host != host) || (taskID != "" && in.TaskID != taskID) {
				continue
			}
			victims = append(victims, in)
		}
		if taskID != "" && len(victims) == 0 {
			return errorf(http.StatusNotFound, "Task '%s' does not exist", taskID)
		}
		var err error
		res, err = f.killInstances(r, map[string][]*instance{id: victims}, k)
		if err == nil && taskID != "" {
			if tr, ok := res.(marathon.TasksResponse); ok {
				res = marathon.TaskResponse{Task: tr.Tasks[0]}
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if d, ok := res.(*deployment); ok {
		return deploymentResult(w, http.StatusOK, d)
	}
	return res, nil
}

// killInstances kills instances (relaunched: reference §4.4 "Kill"),
// wipes them (decommissioned), or kills and scales down in a deployment.
// It returns a TasksResponse or the *deployment.
func (f *Framework) killInstances(r *http.Request, byApp map[string][]*instance, k killRequest) (any, error) {
	if k.scale {
		return f.killAndScale(r, byApp, k.force)
	}
	out := marathon.TasksResponse{Tasks: []marathon.Task{}}
	for _, id := range slices.Sorted(maps.Keys(byApp)) {
		for _, in := range byApp[id] {
			out.Tasks = append(out.Tasks, f.task(in))
			if k.wipe {
				f.decommission(in.ID)
				continue
			}
			f.kill(in)
		}
	}
	return out, nil
}

// killAndScale lowers each app's instances by its victims that are not
// already being killed and deploys that with the victims sentenced.
func (f *Framework) killAndScale(r *http.Request, byApp map[string][]*instance, force bool) (*deployment, error) {
	ch := change{force: force, sentenced: map[string][]string{}}
	for _, id := range slices.Sorted(maps.Keys(byApp)) {
		a := f.apps[id]
		if a == nil {
			continue
		}
		n := 0
		for _, in := range byApp[id] {
			if in.Goal == goalRunning && in.KillSentAt.IsZero() {
				ch.sentenced[id] = append(ch.sentenced[id], in.ID)
				n++
			}
		}
		c := *a.def
		c.Instances = max(0, c.Instances-n)
		ch.upsert = append(ch.upsert, &c)
	}
	return f.commit(r.Context(), ch)
}

// deleteTasks is POST /v2/tasks/delete?scale&wipe&force {"ids":[...]}.
func (f *Framework) deleteTasks(w http.ResponseWriter, r *http.Request) (any, error) {
	k, err := parseKill(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	var ids marathon.TaskIDs
	if err := strictJSON(body, &ids); err != nil {
		return nil, err
	}
	var res any
	err = f.do(r.Context(), func() error {
		byApp := map[string][]*instance{}
		for _, tid := range ids.IDs {
			p, err := launch.ParseTaskID(tid)
			if err != nil {
				return errorf(http.StatusBadRequest, "invalid task id '%s'", tid)
			}
			if in := f.instances[p.InstanceID]; in != nil && in.TaskID == tid {
				byApp[in.AppID] = append(byApp[in.AppID], in)
			}
		}
		var err error
		res, err = f.killInstances(r, byApp, k)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d, ok := res.(*deployment); ok {
		return deploymentResult(w, http.StatusOK, d)
	}
	return res, nil
}
