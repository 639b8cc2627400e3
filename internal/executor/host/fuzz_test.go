package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agoraproject/agora/internal/executor"
)

// FuzzLaunchRequest: any body either decodes to a launch whose executor
// configuration is valid (its agent endpoint is ip:port) or is refused
// with a configuration error; nothing panics. Launching is left out: a
// fuzzed agent endpoint may name any address.
func FuzzLaunchRequest(f *testing.F) {
	f.Add([]byte(`{"container_id":"c","sandbox":"/s","env":["MESOS_FRAMEWORK_ID=f","MESOS_EXECUTOR_ID=e","MESOS_AGENT_ENDPOINT=127.0.0.1:5051","MESOS_DIRECTORY=/s","MESOS_CHECKPOINT=1","MESOS_RECOVERY_TIMEOUT=15mins"],"user":"nobody","stdout":"/s/stdout","stderr":"/s/stderr"}`))
	f.Add([]byte(`{"container_id":"c","env":["MESOS_FRAMEWORK_ID","=","MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=x"]}`))
	f.Add([]byte(`{"env":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req LaunchRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		cfg, err := executorConfig(req)
		if err != nil {
			if !errors.Is(err, executor.ErrConfig) {
				t.Fatalf("error %v is not a configuration error", err)
			}
			return
		}
		if cfg.Validate() != nil || len(cfg.Environ) != len(req.Env) {
			t.Fatalf("accepted %+v", cfg)
		}
	})
}

// FuzzContainerRequests: the calls that name a container answer every
// body with a status, never a panic.
func FuzzContainerRequests(f *testing.F) {
	f.Add("/destroy", []byte(`{"container_id":"c"}`))
	f.Add("/forget", []byte(`{"container_id":""}`))
	f.Add("/destroy", []byte(`{`))
	f.Add("/forget", []byte(strings.Repeat("x", 100)))
	s := newServer(context.Background(), Config{Logger: slog.New(slog.DiscardHandler)})
	h := s.handler()
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		if path != "/destroy" && path != "/forget" {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body))))
		switch rec.Code {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s %q answered %d %q", path, body, rec.Code, rec.Body)
		}
	})
}
