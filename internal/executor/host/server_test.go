package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testHost runs a host in the test process and returns a client for it.
func testHost(t *testing.T, idle time.Duration) (*http.Client, chan error) {
	t.Helper()
	socket := SocketName(t.TempDir())
	ready := make(chan struct{})
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- Serve(ctx, Config{Socket: socket, IdleTimeout: idle}, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the host did not stop")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}
	return &http.Client{Transport: &http.Transport{DialContext: dial}}, done
}

func post(t *testing.T, c *http.Client, path, body string) (int, string) {
	t.Helper()
	resp, err := c.Post("http://host"+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// launchRequest is a launch of an executor whose agent (127.0.0.1:1) never
// answers: it keeps trying to subscribe, and so stays alive.
func launchRequest(t *testing.T, id string) string {
	dir := t.TempDir()
	req := LaunchRequest{ContainerID: id, Sandbox: dir, Stdout: filepath.Join(dir, "stdout"), Stderr: filepath.Join(dir, "stderr"),
		Env: []string{"MESOS_FRAMEWORK_ID=fw", "MESOS_EXECUTOR_ID=" + id, "MESOS_AGENT_ENDPOINT=127.0.0.1:1", "MESOS_DIRECTORY=" + dir}}
	b, _ := json.Marshal(req)
	return string(b)
}

func TestBadRequestsAreRefusedWithAReason(t *testing.T) {
	c, _ := testHost(t, time.Minute)
	for _, tc := range []struct {
		name, path, body string
		code             int
		says             string
	}{
		{"not JSON", "/launch", "{", http.StatusBadRequest, "decoding the request"},
		{"no container", "/launch", `{"env":[]}`, http.StatusBadRequest, "container_id is missing"},
		{"no MESOS_ environment", "/launch", `{"container_id":"c"}`, http.StatusBadRequest, "MESOS_FRAMEWORK_ID is not set"},
		{"unwritable output", "/launch", `{"container_id":"c","env":["MESOS_FRAMEWORK_ID=f","MESOS_EXECUTOR_ID=e","MESOS_AGENT_ENDPOINT=127.0.0.1:1","MESOS_DIRECTORY=/x"],"stdout":"/nonexistent/dir/stdout"}`,
			http.StatusBadRequest, "/nonexistent/dir/stdout"},
		{"destroy unknown", "/destroy", `{"container_id":"nope"}`, http.StatusNotFound, "no such container: nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, c, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.says) {
				t.Errorf("%s: %d %q, want %d saying %q", tc.path, code, body, tc.code, tc.says)
			}
		})
	}
	if code, body := post(t, c, "/launch", strings.Repeat(" ", maxRequestBody+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized launch: %d %q", code, body)
	}
}

func TestDestroyEndsTheExecutorAndTheWatchSaysSo(t *testing.T) {
	c, _ := testHost(t, time.Minute)
	if code, body := post(t, c, "/launch", launchRequest(t, "c1")); code != http.StatusOK || !strings.Contains(body, fmt.Sprintf(`"pid":%d`, os.Getpid())) {
		t.Fatalf("launch: %d %q", code, body)
	}
	if code, body := post(t, c, "/launch", launchRequest(t, "c1")); code != http.StatusConflict {
		t.Errorf("a second launch of c1: %d %q", code, body)
	}
	watch := openWatch(t, c)
	if first := watch.next(); first.ContainerID != "c1" || first.Ended != nil {
		t.Fatalf("first watch line %+v, want c1 running", first)
	}
	if synced := watch.next(); !synced.Synced || synced.Protocol != Protocol {
		t.Fatalf("second watch line %+v, want the end of the listing with protocol %d", synced, Protocol)
	}

	code, body := post(t, c, "/destroy", `{"container_id":"c1"}`)
	var st Status
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || !st.Destroyed {
		t.Fatalf("destroy: %d %q", code, body)
	}
	if end := watch.next(); end.ContainerID != "c1" || end.Ended == nil || !end.Ended.Destroyed {
		t.Errorf("watch after the destroy: %+v", end)
	}

	if code, _ := post(t, c, "/forget", `{"container_id":"c1"}`); code != http.StatusNoContent {
		t.Errorf("forget: %d", code)
	}
	again := openWatch(t, c)
	if line := again.next(); !line.Synced {
		t.Errorf("a forgotten container is still listed: %+v", line)
	}
}

func TestIdleHostExits(t *testing.T) {
	c, done := testHost(t, 50*time.Millisecond)
	watch := openWatch(t, c)
	watch.next()
	select {
	case err := <-done:
		t.Fatalf("the host exited while watched: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	watch.close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("an idle, unwatched host did not exit")
	}
}

type watchStream struct {
	t     *testing.T
	body  io.ReadCloser
	lines *bufio.Scanner
}

func openWatch(t *testing.T, c *http.Client) *watchStream {
	t.Helper()
	resp, err := c.Get("http://host/watch")
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	w := &watchStream{t: t, body: resp.Body, lines: bufio.NewScanner(resp.Body)}
	t.Cleanup(w.close)
	return w
}

func (w *watchStream) next() WatchLine {
	w.t.Helper()
	if !w.lines.Scan() {
		w.t.Fatalf("watch stream ended: %v", w.lines.Err())
	}
	var line WatchLine
	if err := json.NewDecoder(bytes.NewReader(w.lines.Bytes())).Decode(&line); err != nil {
		w.t.Fatalf("watch line %q: %v", w.lines.Bytes(), err)
	}
	return line
}

func (w *watchStream) close() { w.body.Close() }
