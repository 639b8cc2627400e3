package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// filesFixture is one executor run's sandbox attached the way the agent
// attaches it, plus a secret outside it.
type filesFixture struct {
	files   *sandboxFiles
	sandbox string // the real run directory
	virtual string // /frameworks/fw/executors/ex/runs/latest
	secret  string
}

func newFilesFixture(t *testing.T) filesFixture {
	t.Helper()
	work := t.TempDir()
	l := layout{workDir: work}
	sandbox := l.sandbox("S0", "fw", "ex", "c1")
	must(t, os.MkdirAll(filepath.Join(sandbox, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(sandbox, "stdout"), []byte("0123456789"), 0o644))
	must(t, os.WriteFile(filepath.Join(sandbox, "sub", "note"), []byte("note"), 0o644))
	secret := filepath.Join(work, "secret")
	must(t, os.WriteFile(secret, []byte("top secret"), 0o600))
	must(t, os.Symlink(secret, filepath.Join(sandbox, "escape")))
	must(t, os.Symlink("stdout", filepath.Join(sandbox, "inside")))
	latest := l.latestRun("S0", "fw", "ex")
	must(t, replaceSymlink("c1", latest))
	f := newSandboxFiles()
	f.attachRun("fw", "ex", sandbox, latest)
	return filesFixture{files: f, sandbox: sandbox, virtual: "/frameworks/fw/executors/ex/runs/latest", secret: secret}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, h http.HandlerFunc, query url.Values) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/files/x?"+query.Encode(), nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestFilesConfinement(t *testing.T) {
	fx := newFilesFixture(t)
	cases := []struct {
		name, path string
		code       int
	}{
		{"virtual latest", fx.virtual + "/stdout", 200},
		{"real sandbox path", fx.sandbox + "/stdout", 200},
		{"symlink inside", fx.virtual + "/inside", 200},
		{"nested", fx.virtual + "/sub/note", 200},
		{"dot-dot", fx.virtual + "/../../../../secret", 403},
		{"dot-dot that stays inside", fx.virtual + "/sub/../stdout", 403},
		{"absolute outside", fx.secret, 404},
		{"root", "/", 404},
		{"etc", "/etc/passwd", 404},
		{"symlink out", fx.virtual + "/escape", 403},
		{"missing", fx.virtual + "/nope", 404},
		{"empty", "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, fx.files.read, url.Values{"path": {c.path}, "offset": {"0"}})
			if code != c.code {
				t.Fatalf("read %q = %d %s, want %d", c.path, code, body, c.code)
			}
			if strings.Contains(body, "top secret") {
				t.Fatalf("read %q leaked the secret", c.path)
			}
			if code, _ := get(t, fx.files.download, url.Values{"path": {c.path}}); code != c.code {
				t.Errorf("download %q = %d, want %d", c.path, code, c.code)
			}
		})
	}
}

func readJSON(t *testing.T, fx filesFixture, q url.Values) (int, readResult) {
	t.Helper()
	code, body := get(t, fx.files.read, q)
	var res readResult
	if code == 200 {
		must(t, json.Unmarshal([]byte(body), &res))
	}
	return code, res
}

func TestFilesReadSemantics(t *testing.T) {
	fx := newFilesFixture(t)
	p := fx.virtual + "/stdout" // "0123456789"
	cases := []struct {
		name       string
		offset     string
		length     string
		code       int
		data       string
		wantOffset int64
	}{
		{"whole", "0", "", 200, "0123456789", 0},
		{"slice", "2", "3", 200, "234", 2},
		{"size by offset -1", "-1", "", 200, "", 10},
		{"size when offset absent", "", "", 200, "", 10},
		{"size by length 0", "3", "0", 200, "", 10},
		{"length past end", "8", "100", 200, "89", 8},
		{"offset past end", "20", "5", 200, "", 20},
		{"bad offset", "x", "", 400, "", 0},
		{"negative offset", "-2", "", 400, "", 0},
		{"negative length", "0", "-1", 400, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"path": {p}}
			if c.offset != "" {
				q.Set("offset", c.offset)
			}
			if c.length != "" {
				q.Set("length", c.length)
			}
			code, res := readJSON(t, fx, q)
			if code != c.code {
				t.Fatalf("code %d, want %d", code, c.code)
			}
			if code == 200 && (res.Data != c.data || res.Offset != c.wantOffset) {
				t.Errorf("got %+v, want data %q offset %d", res, c.data, c.wantOffset)
			}
		})
	}
	if code, _ := get(t, fx.files.read, url.Values{"path": {fx.virtual + "/sub"}, "offset": {"0"}}); code != 400 {
		t.Errorf("read of a directory = %d, want 400", code)
	}
}

func TestFilesReadCapsAt64KiB(t *testing.T) {
	fx := newFilesFixture(t)
	big := strings.Repeat("x", 3*filesReadCap)
	must(t, os.WriteFile(filepath.Join(fx.sandbox, "big"), []byte(big), 0o644))
	_, res := readJSON(t, fx, url.Values{"path": {fx.virtual + "/big"}, "offset": {"0"}, "length": {"1000000"}})
	if len(res.Data) != filesReadCap {
		t.Errorf("read %d bytes, want the %d cap", len(res.Data), filesReadCap)
	}
}

func TestFilesBrowse(t *testing.T) {
	fx := newFilesFixture(t)
	code, body := get(t, fx.files.browse, url.Values{"path": {fx.virtual}})
	if code != 200 {
		t.Fatalf("browse = %d %s", code, body)
	}
	var listing []fileInfo
	must(t, json.Unmarshal([]byte(body), &listing))
	byPath := map[string]fileInfo{}
	for _, e := range listing {
		byPath[e.Path] = e
	}
	stdout, ok := byPath[fx.virtual+"/stdout"]
	if !ok || stdout.Size != 10 || stdout.Mode != "-rw-r--r--" || stdout.Nlink != 1 || stdout.UID == "" || stdout.Mtime == 0 {
		t.Errorf("stdout entry = %+v (listing %v)", stdout, listing)
	}
	if sub := byPath[fx.virtual+"/sub"]; sub.Mode != "drwxr-xr-x" {
		t.Errorf("sub entry = %+v", sub)
	}
	if code, _ := get(t, fx.files.browse, url.Values{"path": {fx.virtual + "/../.."}}); code != 403 {
		t.Errorf("browse with .. = %d, want 403", code)
	}
	if code, _ := get(t, fx.files.browse, url.Values{}); code != 400 {
		t.Errorf("browse without path = %d, want 400", code)
	}
}

func TestFilesDownloadIsRaw(t *testing.T) {
	fx := newFilesFixture(t)
	rec := httptest.NewRecorder()
	fx.files.download(rec, httptest.NewRequest(http.MethodGet, "/files/download?path="+url.QueryEscape(fx.virtual+"/stdout"), nil))
	if rec.Code != 200 || rec.Body.String() != "0123456789" || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download = %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}

func TestModeString(t *testing.T) {
	for mode, want := range map[os.FileMode]string{
		0o755 | os.ModeDir:             "drwxr-xr-x",
		0o644:                          "-rw-r--r--",
		0o4755&^0o4000 | os.ModeSetuid: "-rwsr-xr-x",
		0o1777&^0o1000 | os.ModeDir | os.ModeSticky: "drwxrwxrwt",
		os.ModeSetgid | 0o640:                       "-rw-r-S---",
	} {
		if got := modeString(mode); got != want {
			t.Errorf("modeString(%v) = %q, want %q", mode, got, want)
		}
	}
}
