package e2e

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/store"
)

// TestRestartResumesDeployment stops the framework in the middle of a
// rolling restart and starts a new one on the same bbolt file: it
// re-subscribes with the same framework ID, reconciles, and finishes the
// stored deployment with the right instance count.
func TestRestartResumesDeployment(t *testing.T) {
	c := startCluster(t, "127.0.0.2")
	path := filepath.Join(t.TempDir(), "apps.db")
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	s1 := startApps(t, c, st, nil)
	def := webApp("/svc", 3, "serve")
	def["upgradeStrategy"] = map[string]any{"minimumHealthCapacity": 1, "maximumOverCapacity": 0}
	if code := s1.call("POST", "/v2/apps", def, nil); code != http.StatusCreated {
		t.Fatalf("POST: %d", code)
	}
	waitFor(t, "3 healthy", 60*time.Second, func() bool { return s1.app("/svc").TasksHealthy == 3 })
	s1.deployed(30 * time.Second)
	var info1 marathon.Info
	s1.call("GET", "/v2/info", nil, &info1)
	old := taskIDs(s1.app("/svc"))

	var res marathon.DeploymentResult
	if code := s1.call("PUT", "/v2/apps/svc", map[string]any{"cmd": testappBin + " serve "}, &res); code != http.StatusOK {
		t.Fatalf("PUT: %d", code)
	}
	waitFor(t, "the restart to be under way", 60*time.Second, func() bool {
		a := s1.app("/svc")
		return healthyTasks(a) >= 3 && !disjoint(taskIDs(a), old) && len(taskIDs(a)) > 0 && !sameSet(taskIDs(a), old)
	})
	s1.stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	s2 := startApps(t, c, st2, nil)
	var ds []marathon.Deployment
	s2.call("GET", "/v2/deployments", nil, &ds)
	if len(ds) != 1 || ds[0].ID != res.DeploymentID {
		t.Fatalf("deployments after restart: %+v, want %s", ds, res.DeploymentID)
	}
	s2.deployed(90 * time.Second)
	a := s2.app("/svc")
	if a.TasksRunning != 3 || a.TasksHealthy != 3 || !disjoint(taskIDs(a), old) {
		t.Errorf("after resume: running %d healthy %d tasks %v (old %v)", a.TasksRunning, a.TasksHealthy, taskIDs(a), old)
	}
	for _, task := range a.Tasks {
		if task.Version != a.VersionInfo.LastConfigChangeAt {
			t.Errorf("task %s runs version %s, want %s", task.ID, task.Version, a.VersionInfo.LastConfigChangeAt)
		}
	}
	var info2 marathon.Info
	s2.call("GET", "/v2/info", nil, &info2)
	if info1.FrameworkID == nil || info2.FrameworkID == nil || *info1.FrameworkID != *info2.FrameworkID {
		t.Errorf("framework id changed across restart: %v → %v", info1.FrameworkID, info2.FrameworkID)
	}
	// Stable afterwards: no extra instances appear.
	holdsFor(t, "3 tasks", time.Second, func() bool { return len(s2.app("/svc").Tasks) == 3 })
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
