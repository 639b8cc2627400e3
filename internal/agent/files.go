package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
)

// filesReadCap bounds one /files/read answer: 16 pages (reference §7).
const filesReadCap = 16 * 4096

// sandboxFiles serves /files/*: it maps virtual paths ("attachments") to
// sandbox directories and confines every request to them. For each
// executor run three virtual paths are attached: the real sandbox path,
// /frameworks/<fid>/executors/<eid>/runs/latest, and the real path of the
// runs/latest link. A request is refused when it has a ".." component or
// when its resolved real path (symlinks followed) leaves the attachment.
type sandboxFiles struct {
	mu    sync.RWMutex
	roots map[string]string // virtual path -> real directory (may be a symlink)

	namesMu sync.Mutex
	names   map[string]string // "u<uid>"/"g<gid>" -> name
}

func newSandboxFiles() *sandboxFiles {
	return &sandboxFiles{roots: make(map[string]string), names: make(map[string]string)}
}

func (f *sandboxFiles) attach(virtual, real string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roots[path.Clean(virtual)] = real
}

// attachRun makes one executor run's sandbox browsable.
func (f *sandboxFiles) attachRun(fid, eid, directory, latest string) {
	f.attach(directory, directory)
	f.attach("/frameworks/"+fid+"/executors/"+eid+"/runs/latest", latest)
	f.attach(latest, latest)
}

// detachUnder drops every attachment whose directory is dir or lies
// under it (dir was removed by GC).
func (f *sandboxFiles) detachUnder(dir string) {
	dir = filepath.Clean(dir)
	f.mu.Lock()
	defer f.mu.Unlock()
	for virtual, real := range f.roots {
		if real == dir || strings.HasPrefix(real, dir+string(filepath.Separator)) {
			delete(f.roots, virtual)
		}
	}
}

// errRefused is a path outside the sandboxes.
var errRefused = errors.New("path escapes the sandbox")

// resolve maps a requested path to a real path inside an attachment.
func (f *sandboxFiles) resolve(requested string) (string, error) {
	if requested == "" {
		return "", apihttp.Errorf(http.StatusBadRequest, "Expecting 'path' query parameter")
	}
	for _, part := range strings.Split(requested, "/") {
		if part == ".." {
			return "", apihttp.Errorf(http.StatusForbidden, "%v: '..' is not allowed", errRefused)
		}
	}
	clean := path.Clean("/" + strings.TrimPrefix(requested, "/"))
	root, rest, ok := f.attachment(clean)
	if !ok {
		return "", apihttp.Errorf(http.StatusNotFound, "No such file or directory: %s", requested)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", apihttp.Errorf(http.StatusNotFound, "No such file or directory: %s", requested)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(realRoot, rest))
	if err != nil {
		return "", apihttp.Errorf(http.StatusNotFound, "No such file or directory: %s", requested)
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", apihttp.Errorf(http.StatusForbidden, "%v: %s", errRefused, requested)
	}
	return real, nil
}

// attachment finds the longest attached virtual path that is clean or a
// parent of it.
func (f *sandboxFiles) attachment(clean string) (root, rest string, ok bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for p := clean; ; p = path.Dir(p) {
		if real, found := f.roots[p]; found {
			return real, strings.TrimPrefix(clean, p), true
		}
		if p == "/" || p == "." {
			return "", "", false
		}
	}
}

// fileInfo is one /files/browse entry.
type fileInfo struct {
	Path  string  `json:"path"`
	Nlink uint64  `json:"nlink"`
	Size  int64   `json:"size"`
	Mtime float64 `json:"mtime"`
	Mode  string  `json:"mode"`
	UID   string  `json:"uid"`
	GID   string  `json:"gid"`
}

func (f *sandboxFiles) browse(w http.ResponseWriter, r *http.Request) {
	requested := r.URL.Query().Get("path")
	real, err := f.resolve(requested)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	fi, err := os.Stat(real)
	if err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusNotFound, "No such file or directory: %s", requested))
		return
	}
	listing := []fileInfo{}
	if !fi.IsDir() {
		listing = append(listing, f.describe(requested, fi))
		writeJSON(w, r, listing)
		return
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusInternalServerError, "Failed to list %s: %v", requested, err))
		return
	}
	for _, e := range entries {
		full := filepath.Join(real, e.Name())
		efi, err := os.Stat(full)
		if err != nil {
			if efi, err = os.Lstat(full); err != nil {
				continue
			}
		}
		listing = append(listing, f.describe(path.Join(requested, e.Name()), efi))
	}
	writeJSON(w, r, listing)
}

func (f *sandboxFiles) describe(virtual string, fi fs.FileInfo) fileInfo {
	out := fileInfo{
		Path:  virtual,
		Size:  fi.Size(),
		Mtime: float64(fi.ModTime().UnixNano()) / 1e9,
		Mode:  modeString(fi.Mode()),
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.Nlink = uint64(st.Nlink)
		out.UID = f.name("u", st.Uid)
		out.GID = f.name("g", st.Gid)
	}
	return out
}

// fileInfo is a mesos.v1.FileInfo (LIST_FILES): mode is the st_mode, file
// type bits included.
func (f *sandboxFiles) fileInfo(virtual string, fi fs.FileInfo) *mesos.FileInfo {
	out := &mesos.FileInfo{
		Path:  proto.String(virtual),
		Size:  proto.Uint64(uint64(fi.Size())),
		Mtime: &mesos.TimeInfo{Nanoseconds: proto.Int64(fi.ModTime().UnixNano())},
		Mode:  proto.Uint32(uint32(fi.Mode().Perm())),
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.Mode = proto.Uint32(st.Mode)
		out.Nlink = proto.Int32(int32(st.Nlink))
		out.Uid = proto.String(f.name("u", st.Uid))
		out.Gid = proto.String(f.name("g", st.Gid))
	}
	return out
}

// name returns a user or group name, or the number when it has none.
func (f *sandboxFiles) name(kind string, id uint32) string {
	key := kind + strconv.FormatUint(uint64(id), 10)
	f.namesMu.Lock()
	defer f.namesMu.Unlock()
	if n, ok := f.names[key]; ok {
		return n
	}
	n := strconv.FormatUint(uint64(id), 10)
	if kind == "u" {
		if u, err := user.LookupId(n); err == nil {
			n = u.Username
		}
	} else if g, err := user.LookupGroupId(n); err == nil {
		n = g.Name
	}
	f.names[key] = n
	return n
}

// modeString renders a mode as ls does ("drwxr-xr-x", "-rwsr-xr-x").
func modeString(m fs.FileMode) string {
	b := []byte("----------")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	}
	const rwx = "rwxrwxrwx"
	for i := 0; i < 9; i++ {
		if m.Perm()&(1<<uint(8-i)) != 0 {
			b[i+1] = rwx[i]
		}
	}
	special := func(i int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[i] == '-' {
			b[i] = upper
		} else {
			b[i] = lower
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}

// readArgs are /files/read's query parameters.
type readArgs struct {
	path   string
	offset int64 // -1: answer the size only
	length int64 // -1: not given
}

func parseReadArgs(r *http.Request) (readArgs, error) {
	q := r.URL.Query()
	args := readArgs{path: q.Get("path"), offset: -1, length: -1}
	if s := q.Get("offset"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return args, apihttp.Errorf(http.StatusBadRequest, "Failed to parse offset: %v", err)
		}
		if v < -1 {
			return args, apihttp.Errorf(http.StatusBadRequest, "Negative offset provided: %d", v)
		}
		args.offset = v
	}
	if s := q.Get("length"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return args, apihttp.Errorf(http.StatusBadRequest, "Failed to parse length: %v", err)
		}
		if v < 0 {
			return args, apihttp.Errorf(http.StatusBadRequest, "Negative length provided: %d", v)
		}
		args.length = v
	}
	return args, nil
}

// readResult is the /files/read answer.
type readResult struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

func (f *sandboxFiles) read(w http.ResponseWriter, r *http.Request) {
	args, err := parseReadArgs(r)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	file, size, err := f.openFile(args.path)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	defer file.Close()
	if args.offset == -1 || args.length == 0 {
		writeJSON(w, r, readResult{Offset: size})
		return
	}
	if args.offset >= size {
		writeJSON(w, r, readResult{Offset: args.offset})
		return
	}
	n := min(size-args.offset, filesReadCap)
	if args.length > 0 {
		n = min(n, args.length)
	}
	buf := make([]byte, n)
	got, err := file.ReadAt(buf, args.offset)
	if err != nil && err != io.EOF {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusInternalServerError, "Failed to read %s: %v", args.path, err))
		return
	}
	writeJSON(w, r, readResult{Data: string(buf[:got]), Offset: args.offset})
}

// openFile resolves and opens a regular file (400 for a directory).
func (f *sandboxFiles) openFile(requested string) (*os.File, int64, error) {
	real, err := f.resolve(requested)
	if err != nil {
		return nil, 0, err
	}
	file, err := os.Open(real)
	if err != nil {
		return nil, 0, apihttp.Errorf(http.StatusNotFound, "No such file or directory: %s", requested)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, apihttp.Errorf(http.StatusInternalServerError, "Failed to stat %s: %v", requested, err)
	}
	if fi.IsDir() {
		file.Close()
		return nil, 0, apihttp.Errorf(http.StatusBadRequest, "Cannot read a directory: %s", requested)
	}
	return file, fi.Size(), nil
}

func (f *sandboxFiles) download(w http.ResponseWriter, r *http.Request) {
	requested := r.URL.Query().Get("path")
	file, size, err := f.openFile(requested)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	defer file.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(path.Base(requested)))
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	io.CopyN(w, file, size)
}

// writeJSON answers 200 with v as JSON, or as a JSONP call when ?jsonp= is
// given.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := marshalJSON(v)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	writeJSONBytes(w, r, body)
}

// marshalJSON is json.Marshal without HTML escaping (Mesos writes '<' as is).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeJSONBytes(w http.ResponseWriter, r *http.Request, body []byte) {
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		w.Header().Set("Content-Type", "text/javascript")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, cb+"(")
		w.Write(body)
		io.WriteString(w, ");")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
