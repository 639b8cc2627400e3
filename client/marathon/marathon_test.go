package marathon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agoraproject/agora/api/marathon"
)

// fakeServer records requests and answers from a table.
func fakeServer(t *testing.T, answers map[string]func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		seen = append(seen, key+"?"+r.URL.RawQuery)
		if h := answers[key]; h != nil {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(marathon.Error{Message: "App '/x' does not exist"})
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestPutAppAndErrors(t *testing.T) {
	srv, seen := fakeServer(t, map[string]func(http.ResponseWriter, *http.Request){
		"PUT /v2/apps/web": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(marathon.DeploymentResult{DeploymentID: "d1", Version: "v1"})
		},
		"PUT /v2/apps/bad": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(marathon.Error{Message: "Object is not valid",
				Details: []marathon.ErrorDetail{{Path: "/cpus", Errors: []string{"got -1, expected 0.001 or more"}}}})
		},
	})
	// The first server is down: the client moves on to the second.
	c := New("127.0.0.1:1", srv.URL)
	res, created, err := c.PutApp(context.Background(), []byte(`{"id":"/web","cmd":"x"}`), true)
	if err != nil || !created || res.DeploymentID != "d1" {
		t.Fatalf("PutApp: %+v created=%v err=%v", res, created, err)
	}
	if got := (*seen)[len(*seen)-1]; got != "PUT /v2/apps/web?force=true&partialUpdate=false" {
		t.Errorf("request %q", got)
	}
	_, _, err = c.PutApp(context.Background(), []byte(`{"id":"bad","cpus":-1}`), false)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != 422 || !strings.Contains(err.Error(), "/cpus: got -1") {
		t.Errorf("422 error: %v", err)
	}
	if _, err := c.App(context.Background(), "/x"); !IsNotFound(err) {
		t.Errorf("App of a missing app: %v", err)
	}
	if _, _, err := c.PutApp(context.Background(), []byte(`{"cmd":"x"}`), false); err == nil {
		t.Error("definition without id accepted")
	}
}

func TestAppProgressCountsLatestHealthyTasks(t *testing.T) {
	app := marathon.AppInfo{App: marathon.App{ID: "/web", Instances: 3, HealthChecks: []marathon.HealthCheck{{Protocol: "HTTP"}},
		VersionInfo: &marathon.VersionInfo{LastConfigChangeAt: "v2"}},
		Tasks: []marathon.Task{
			{State: "TASK_RUNNING", Version: "v2", HealthCheckResults: []marathon.HealthCheckResult{{Alive: true}}},
			{State: "TASK_RUNNING", Version: "v2"},
			{State: "TASK_RUNNING", Version: "v1", HealthCheckResults: []marathon.HealthCheckResult{{Alive: true}}},
			{State: "TASK_STAGING", Version: "v2"},
		}}
	srv, _ := fakeServer(t, map[string]func(http.ResponseWriter, *http.Request){
		"GET /v2/apps/web": func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(marathon.AppResponse{App: app})
		},
	})
	p, err := New(srv.URL).AppProgress(context.Background(), "/web")
	if err != nil || p != (Progress{Target: 3, Done: 1}) {
		t.Errorf("progress %+v, %v", p, err)
	}
}
