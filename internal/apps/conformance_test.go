package apps_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/api")

// fixedClock is a clock standing still at one instant.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// apiCase is one request of the conformance transcript and the type its
// answer must decode into without unknown keys (nil: not JSON or empty).
type apiCase struct {
	name, method, path, body string
	accept                   string
	into                     func() any
}

func into[T any]() any { return new(T) }

// conformanceCases run in order against one framework with no master:
// deployments never finish, which makes conflicts deterministic.
var conformanceCases = []apiCase{
	{"ping", "GET", "/ping", "", "", nil},
	{"create-app", "POST", "/v2/apps", `{"id":"/prod/web","cmd":"serve $PORT0","instances":2,"cpus":0.5,"mem":64,
		"labels":{"team":"web"},"healthChecks":[{"protocol":"HTTP","path":"/health"}],
		"constraints":[["hostname","UNIQUE"]]}`, "", into[marathon.AppInfo]},
	{"create-app-exists", "POST", "/v2/apps", `{"id":"/prod/web","cmd":"x"}`, "", into[marathon.Error]},
	{"create-app-malformed", "POST", "/v2/apps", `{"id":5,"cmd":"x"}`, "", into[marathon.Error]},
	{"create-app-not-json", "POST", "/v2/apps", `id: web`, "", into[marathon.Error]},
	{"create-app-invalid", "POST", "/v2/apps", `{"id":"/bad","cmd":"x","args":["y"],"cpus":-1,
		"upgradeStrategy":{"minimumHealthCapacity":2},"constraints":[["hostname","MAX_PER"]]}`, "", into[marathon.Error]},
	{"create-app-bad-id", "POST", "/v2/apps", `{"id":"/Bad_Id","cmd":"x"}`, "", into[marathon.Error]},
	{"create-docker-app", "POST", "/v2/apps", `{"id":"/cache","instances":1,"cpus":0.1,"mem":32,
		"container":{"type":"DOCKER","docker":{"image":"redis:7"},"portMappings":[{"containerPort":6379,"hostPort":0,"name":"redis"}]},
		"networks":[{"mode":"container/bridge"}],"labels":{"team":"db"}}`, "", into[marathon.AppInfo]},
	{"list-apps", "GET", "/v2/apps", "", "", into[marathon.AppsResponse]},
	{"list-apps-label", "GET", "/v2/apps?label=team==db", "", "", into[marathon.AppsResponse]},
	{"list-apps-embed", "GET", "/v2/apps?id=web&embed=apps.tasks&embed=apps.lastTaskFailure&embed=apps.taskStats", "", "", into[marathon.AppsResponse]},
	{"get-app", "GET", "/v2/apps/prod/web", "", "", into[marathon.AppResponse]},
	{"get-app-missing", "GET", "/v2/apps/nope", "", "", into[marathon.Error]},
	{"get-group-apps", "GET", "/v2/apps/prod/*", "", "", nil},
	{"update-app-locked", "PUT", "/v2/apps/prod/web", `{"instances":3}`, "", into[marathon.Error]},
	{"update-app-forced", "PUT", "/v2/apps/prod/web?force=true", `{"instances":3}`, "", into[marathon.DeploymentResult]},
	{"patch-app-missing", "PATCH", "/v2/apps/nope", `{"instances":1}`, "", into[marathon.Error]},
	{"put-app-creates", "PUT", "/v2/apps/batch", `{"cmd":"sleep 1","instances":0}`, "", into[marathon.DeploymentResult]},
	{"list-deployments", "GET", "/v2/deployments", "", "", into[[]marathon.Deployment]},
	{"app-versions", "GET", "/v2/apps/prod/web/versions", "", "", into[marathon.VersionsResponse]},
	{"app-version", "GET", "/v2/apps/prod/web/versions/2026-03-01T12:00:00.000Z", "", "", into[marathon.App]},
	{"app-version-missing", "GET", "/v2/apps/prod/web/versions/2000-01-01T00:00:00.000Z", "", "", into[marathon.Error]},
	{"rollback-app", "PUT", "/v2/apps/prod/web?force=true", `{"version":"2026-03-01T12:00:00.000Z"}`, "", into[marathon.DeploymentResult]},
	{"restart-app", "POST", "/v2/apps/prod/web/restart?force=true", "", "", into[marathon.DeploymentResult]},
	{"app-tasks", "GET", "/v2/apps/prod/web/tasks", "", "", into[marathon.TasksResponse]},
	{"tasks", "GET", "/v2/tasks?status=running", "", "", into[marathon.TasksResponse]},
	{"tasks-text", "GET", "/v2/tasks", "", "text/plain", nil},
	{"tasks-delete-bad-id", "POST", "/v2/tasks/delete", `{"ids":["nonsense"]}`, "", into[marathon.Error]},
	{"tasks-delete-scale-wipe", "POST", "/v2/tasks/delete?scale=true&wipe=true", `{"ids":[]}`, "", into[marathon.Error]},
	{"queue", "GET", "/v2/queue", "", "", into[marathon.QueueResponse]},
	{"queue-reset-delay", "DELETE", "/v2/queue/prod/web/delay", "", "", nil},
	{"queue-reset-missing", "DELETE", "/v2/queue/nope/delay", "", "", into[marathon.Error]},
	{"create-group", "POST", "/v2/groups", `{"id":"/shop","dependencies":["/prod"],"apps":[{"id":"cart","cmd":"cart","instances":1}]}`, "", into[marathon.DeploymentResult]},
	{"create-group-exists", "POST", "/v2/groups", `{"id":"/shop"}`, "", into[marathon.Error]},
	{"groups", "GET", "/v2/groups", "", "", into[marathon.GroupInfo]},
	{"group-scale-dry-run", "PUT", "/v2/groups/shop?dryRun=true", `{"scaleBy":3}`, "", into[marathon.DryRun]},
	{"group-missing", "GET", "/v2/groups/nope", "", "", into[marathon.Error]},
	{"delete-deployment-missing", "DELETE", "/v2/deployments/nope", "", "", into[marathon.Error]},
	{"info", "GET", "/v2/info", "", "", into[marathon.Info]},
	{"leader", "GET", "/v2/leader", "", "", into[marathon.Leader]},
	{"metrics", "GET", "/metrics", "", "", into[marathon.Metrics]},
	{"delete-app", "DELETE", "/v2/apps/cache", "", "", into[marathon.DeploymentResult]},
	{"delete-app-missing", "DELETE", "/v2/apps/cache", "", "", into[marathon.Error]},
}

// TestAPIConformance replays the transcript above and compares each answer
// (status, Marathon headers, body) with testdata/api/<name>.golden, after
// replacing generated ids with stable placeholders. Every JSON answer must
// also decode into its reference type with unknown keys disallowed. Run
// with -update to re-record.
func TestAPIConformance(t *testing.T) {
	fw, err := apps.New(apps.Config{Masters: []string{"127.0.0.1:1"}, Store: memStore(), Hostname: "marathon.test",
		Logger: quietLogger(t), User: "root",
		Clock: fixedClock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fw.Handler())
	t.Cleanup(srv.Close)
	s := runFramework(t, fw)
	defer s()
	waitFor(t, "the framework to serve", 10*time.Second, func() bool {
		resp, err := http.Get(srv.URL + "/v2/info")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ids := &placeholders{seen: map[string]string{}}
	var deploymentID string
	for _, c := range conformanceCases {
		path := strings.ReplaceAll(c.path, "{deployment}", deploymentID)
		got, body := record(t, srv.URL, c, path, ids)
		if c.into != nil && len(body) > 0 {
			strictDecode(t, c.name, body, c.into())
		}
		if c.name == "update-app-forced" {
			var r marathon.DeploymentResult
			json.Unmarshal(body, &r)
			deploymentID = r.DeploymentID
		}
		golden(t, filepath.Join("testdata", "api", c.name+".golden"), got)
	}
	// A forced cancel answers 202 with no body; a revert answers a new
	// deployment.
	var ds []marathon.Deployment
	getJSON(t, srv.URL+"/v2/deployments", &ds)
	if len(ds) == 0 {
		t.Fatal("no deployments to cancel")
	}
	if code := doStatus(t, "DELETE", srv.URL+"/v2/deployments/"+ds[0].ID+"?force=true"); code != http.StatusAccepted {
		t.Errorf("forced cancel: %d, want 202", code)
	}
	getJSON(t, srv.URL+"/v2/deployments", &ds)
	if code := doStatus(t, "DELETE", srv.URL+"/v2/deployments/"+ds[0].ID); code != http.StatusOK {
		t.Errorf("cancel with revert: %d, want 200", code)
	}
}

// runFramework runs fw until the returned stop is called.
func runFramework(t *testing.T, fw *apps.Framework) func() {
	ctx, cancel := contextWithCancel()
	var wg sync.WaitGroup
	wg.Go(func() { fw.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

// record makes the request and renders the answer for the golden file.
func record(t *testing.T, base string, c apiCase, path string, ids *placeholders) (string, []byte) {
	t.Helper()
	req, err := http.NewRequest(c.method, base+path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.accept != "" {
		req.Header.Set("Accept", c.accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", c.method, path)
	if c.body != "" {
		b.WriteString(indent(c.body) + "\n")
	}
	fmt.Fprintf(&b, "---\n%d\n", resp.StatusCode)
	for _, h := range []string{"Content-Type", "Location", "Marathon-Deployment-Id"} {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	b.WriteString(indent(string(body)) + "\n")
	return ids.replace(b.String()), body
}

func indent(s string) string {
	var out bytes.Buffer
	if json.Indent(&out, []byte(s), "", "  ") != nil {
		return s
	}
	return out.String()
}

// placeholders replaces generated ids (UUIDs) with <id-N> in order of
// first appearance.
type placeholders struct {
	seen map[string]string
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func (p *placeholders) replace(s string) string {
	return uuidPattern.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := p.seen[id]; !ok {
			p.seen[id] = fmt.Sprintf("<id-%d>", len(p.seen)+1)
		}
		return p.seen[id]
	})
}

// strictDecode fails when body has a key its reference type lacks.
func strictDecode(t *testing.T, name string, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Errorf("%s: answer has keys outside the reference type %T: %v\n%s", name, v, err, body)
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to record)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (re-record with -update after checking):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func doStatus(t *testing.T, method, url string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
