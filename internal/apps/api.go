package apps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// maxBody bounds request bodies (a group with many apps fits easily).
const maxBody = 8 << 20

// apiError is an answer with a Marathon error body.
type apiError struct {
	code int
	body marathon.Error
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.code, e.body.Message) }

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, body: marathon.Error{Message: fmt.Sprintf(format, args...)}}
}

func appNotFound(id string) *apiError {
	return errorf(http.StatusNotFound, "App '%s' does not exist", id)
}

// routes builds the HTTP handler.
func (f *Framework) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "pong\n")
	})
	mux.Handle("GET /metrics", f.api(f.getMetrics))
	mux.Handle("GET /v2/info", f.api(f.getInfo))
	mux.Handle("GET /v2/leader", f.api(f.getLeader))
	mux.Handle("DELETE /v2/leader", f.api(f.deleteLeader))
	mux.Handle("GET /v2/events", f.bus.Handler(f.streamEvent, 30*time.Second))
	mux.Handle("/v2/apps", f.api(f.serveApps))
	mux.Handle("/v2/apps/", f.api(f.serveApp))
	mux.Handle("GET /v2/tasks", f.api(f.getTasks))
	mux.Handle("POST /v2/tasks/delete", f.api(f.deleteTasks))
	mux.Handle("GET /v2/deployments", f.api(f.getDeployments))
	mux.Handle("DELETE /v2/deployments/{id}", f.api(f.deleteDeployment))
	mux.Handle("GET /v2/queue", f.api(f.getQueue))
	mux.Handle("DELETE /v2/queue/{id...}", f.api(f.resetDelay))
	mux.Handle("/v2/groups", f.api(f.serveGroups))
	mux.Handle("/v2/groups/", f.api(f.serveGroups))
	return f.recover(mux)
}

// handlerFunc answers with a value to encode (nil: the handler wrote the
// response) or an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (any, error)

// api adapts a handlerFunc: 200 with JSON, or the error's status and
// Marathon error body.
func (f *Framework) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h(w, r)
		if err != nil {
			f.writeError(w, err)
			return
		}
		if v != nil {
			writeJSON(w, http.StatusOK, v)
		}
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// writeError maps errors to Marathon's codes and bodies.
func (f *Framework) writeError(w http.ResponseWriter, err error) {
	var (
		api       *apiError
		malformed *spec.Malformed
		invalid   *spec.Invalid
		conflict  *conflictError
	)
	switch {
	case errors.As(err, &api):
		writeJSON(w, api.code, api.body)
	case errors.As(err, &malformed):
		writeJSON(w, http.StatusBadRequest, marathon.Error{Message: "Invalid JSON", Details: malformed.Details})
	case errors.As(err, &invalid):
		writeJSON(w, http.StatusUnprocessableEntity, marathon.Error{Message: "Object is not valid", Details: invalid.Details})
	case errors.As(err, &conflict):
		body := marathon.Error{Message: conflict.Error()}
		for _, id := range conflict.deployments {
			body.Deployments = append(body.Deployments, marathon.DeploymentID{ID: id})
		}
		writeJSON(w, http.StatusConflict, body)
	default:
		f.log.Error("API request failed", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, marathon.Error{Message: err.Error()})
	}
}

// recover turns a handler panic into a logged 500.
func (f *Framework) recover(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				f.log.Error("panic in API handler", slog.Any("panic", p), "path", r.URL.Path, "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, marathon.Error{Message: "internal error"})
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", maxBody)
	}
	return b, nil
}

// flag reads a boolean query parameter.
func flag(r *http.Request, name string, def bool) bool {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	return strings.EqualFold(v, "true")
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// deploymentResult answers an asynchronous change: the
// Marathon-Deployment-Id header and {deploymentId, version}.
func deploymentResult(w http.ResponseWriter, code int, d *deployment) (any, error) {
	w.Header().Set("Marathon-Deployment-Id", d.ID)
	writeJSON(w, code, marathon.DeploymentResult{DeploymentID: d.ID, Version: d.Version})
	return nil, nil
}

func (f *Framework) streamEvent(eventType, remote string) any {
	return marathon.StreamEvent{EventHeader: marathon.EventHeader{EventType: eventType, Timestamp: spec.FormatTime(f.now())},
		RemoteAddress: remote}
}
