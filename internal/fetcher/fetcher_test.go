package fetcher

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// server serves files from a map on 127.0.0.1 and counts requests.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func serve(t *testing.T, files map[string][]byte) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func uri(value string) *mesos.CommandInfo_URI {
	return &mesos.CommandInfo_URI{Value: proto.String(value)}
}

func tgz(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

func TestFetchHTTPExtractsArchivesAndSetsExecutable(t *testing.T) {
	s := serve(t, map[string][]byte{
		"/app.tar.gz": tgz(t, map[string]string{"app/run.sh": "#!/bin/sh\n"}),
		"/tool":       []byte("#!/bin/sh\necho tool\n"),
		"/data.tgz":   tgz(t, map[string]string{"never": "x"}),
	})
	sandbox := t.TempDir()
	tool := uri(s.URL + "/tool")
	tool.Executable = proto.Bool(true)
	raw := uri(s.URL + "/data.tgz")
	raw.Extract = proto.Bool(false)
	renamed := uri(s.URL + "/tool")
	renamed.OutputFile = proto.String("bin/renamed")
	err := New(Config{}).Fetch(context.Background(), Request{
		URIs: []*mesos.CommandInfo_URI{uri(s.URL + "/app.tar.gz"), tool, raw, renamed}, Sandbox: sandbox,
	})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	for _, name := range []string{"app.tar.gz", "app/run.sh", "tool", "data.tgz", "bin/renamed"} {
		if _, err := os.Stat(filepath.Join(sandbox, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(sandbox, "never")); err == nil {
		t.Errorf("extract: false was extracted")
	}
	if fi, _ := os.Stat(filepath.Join(sandbox, "tool")); fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("tool mode %v, want executable", fi.Mode())
	}
}

func TestFetchFailureNamesTheURI(t *testing.T) {
	s := serve(t, nil)
	missing := s.URL + "/missing.tar.gz"
	err := New(Config{}).Fetch(context.Background(), Request{URIs: []*mesos.CommandInfo_URI{uri(missing)}, Sandbox: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Fetch = %v, want an error naming %s and 404", err, missing)
	}
	err = New(Config{}).Fetch(context.Background(), Request{URIs: []*mesos.CommandInfo_URI{uri("ftp://127.0.0.1/x")}, Sandbox: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "ftp://127.0.0.1/x") {
		t.Fatalf("Fetch(ftp) = %v", err)
	}
}

func TestFetchLocalPathsAndFrameworksHome(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, "bundle.txt"), []byte("hi"), 0o644)
	sandbox := t.TempDir()
	f := New(Config{FrameworksHome: home})
	err := f.Fetch(context.Background(), Request{Sandbox: sandbox, URIs: []*mesos.CommandInfo_URI{
		uri("bundle.txt"), withOutput(uri("file://"+filepath.Join(home, "bundle.txt")), "copy.txt"),
	}})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	for _, name := range []string{"bundle.txt", "copy.txt"} {
		if b, _ := os.ReadFile(filepath.Join(sandbox, name)); string(b) != "hi" {
			t.Errorf("%s = %q", name, b)
		}
	}
}

func withOutput(u *mesos.CommandInfo_URI, name string) *mesos.CommandInfo_URI {
	u.OutputFile = proto.String(name)
	return u
}

func TestOutputFileCannotLeaveTheSandbox(t *testing.T) {
	s := serve(t, map[string][]byte{"/x": []byte("x")})
	for _, out := range []string{"../x", "/etc/x", "a/../../x"} {
		err := New(Config{}).Fetch(context.Background(), Request{
			URIs: []*mesos.CommandInfo_URI{withOutput(uri(s.URL+"/x"), out)}, Sandbox: t.TempDir()})
		if err == nil {
			t.Errorf("output_file %q accepted", out)
		}
	}
}

func TestCacheServesRepeatsAndStaysWithinItsBound(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 600)
	s := serve(t, map[string][]byte{"/a": big, "/b": big, "/huge": bytes.Repeat([]byte("h"), 2000)})
	cacheDir := t.TempDir()
	f := New(Config{CacheDir: cacheDir, CacheSize: 1000})
	fetch := func(name string) {
		t.Helper()
		u := uri(s.URL + "/" + name)
		u.Cache = proto.Bool(true)
		if err := f.Fetch(context.Background(), Request{URIs: []*mesos.CommandInfo_URI{u}, Sandbox: t.TempDir()}); err != nil {
			t.Fatalf("Fetch %s: %v", name, err)
		}
	}
	fetch("a")
	fetch("a")
	if got := s.hits.Load(); got != 1 {
		t.Fatalf("server hits after two cached fetches = %d, want 1", got)
	}
	fetch("b") // 1200 bytes > 1000: a (older) goes
	fetch("huge")
	var total int64
	entries, _ := os.ReadDir(cacheDir)
	for _, e := range entries {
		fi, _ := e.Info()
		total += fi.Size()
	}
	if total > 1000 {
		t.Fatalf("cache holds %d bytes, bound 1000", total)
	}
	fetch("b")
	if got := s.hits.Load(); got != 3 {
		t.Fatalf("server hits = %d, want 3 (a, b, huge; b again from cache)", got)
	}
}

func TestStalledDownloadIsAbandoned(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ts.Listener = ln
	ts.Start()
	t.Cleanup(func() { close(release); ts.Close() })
	start := time.Now()
	err := New(Config{StallTimeout: 200 * time.Millisecond}).Fetch(context.Background(),
		Request{URIs: []*mesos.CommandInfo_URI{uri(ts.URL + "/slow")}, Sandbox: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Fetch = %v, want a stall error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stall detected after %v", d)
	}
}
