package apps_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/apps"
)

// FuzzAPIWrites: any body sent to the write endpoints of the v2 API gets an
// answer below 500 with a JSON body (Marathon's {message, details} for the
// refusals), never a panic.
func FuzzAPIWrites(f *testing.F) {
	targets := []struct{ method, path string }{
		{http.MethodPost, "/v2/apps"}, {http.MethodPut, "/v2/apps/fuzz"}, {http.MethodPatch, "/v2/apps"},
		{http.MethodPut, "/v2/apps?partialUpdate=true"}, {http.MethodPost, "/v2/groups"},
		{http.MethodPut, "/v2/groups/fuzzed"}, {http.MethodPost, "/v2/apps/fuzz/restart"},
		{http.MethodPost, "/v2/tasks/delete"}, {http.MethodPut, "/v2/apps?dryRun=true"},
	}
	for i, seed := range []string{`{"id":"/fuzz","cmd":"sleep 1","instances":1}`, `[{"id":"/a","cmd":"x"}]`,
		`{"id":"/g","apps":[{"id":"a","cmd":"x"}],"groups":[{"id":"sub"}]}`, `{"ids":["x"]}`, `{`, `null`, `[]`,
		`{"id":"/x","instances":-1}`, `{"id":"/x","cmd":"x","constraints":[["hostname","LIKE","["]]}`} {
		f.Add(uint8(i), []byte(seed))
	}
	fw, err := apps.New(apps.Config{Masters: []string{"127.0.0.1:1"}, Store: memStore(), Hostname: "marathon.test",
		Logger: quietLogger(f), User: "root", Clock: fixedClock{time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	stop := runFramework(nil, fw)
	f.Cleanup(stop)
	h := fw.Handler()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/info", nil))
		if rec.Code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			f.Fatalf("the framework does not serve: %d", rec.Code)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		target := targets[int(which)%len(targets)]
		req := httptest.NewRequest(target.method, target.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s %q: %d %s", target.method, target.path, body, rec.Code, rec.Body)
		}
		if rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s %q: %d answered non-JSON %q", target.method, target.path, body, rec.Code, rec.Body)
		}
	})
}
