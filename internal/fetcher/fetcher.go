// Package fetcher downloads a command's URIs (CommandInfo.uris) into a
// sandbox before its container starts, as the Mesos fetcher does
// (reference §8).
//
// For each URI, in order:
//
//	http(s)://...  GET, following redirects; a non-2xx answer fails
//	file:///p, /p  copied from the agent's filesystem
//	relative p     copied from <frameworks_home>/p
//	  │
//	  ├─ cache: true ─▶ served from (and kept in) an LRU cache bounded in bytes
//	  ▼
//	<sandbox>/<output_file or the URI's base name>
//	  ├─ executable ─▶ chmod 0755 (never extracted)
//	  └─ extract (the default) and a known archive suffix ─▶ unpacked beside it
//
// Any failure stops the fetch with an error that names the URI; the agent
// fails the task with it. A download that makes no progress for
// Config.StallTimeout is abandoned.
package fetcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/fetcher/archive"
)

// Defaults (reference §10).
const (
	DefaultCacheSize    = 2 << 30
	DefaultStallTimeout = time.Minute
)

// Config configures a Fetcher; zero fields take the defaults named.
type Config struct {
	// CacheDir holds cached downloads; "" disables the cache (URIs with
	// cache: true are then fetched every time).
	CacheDir string
	// CacheSize bounds the cache in bytes (DefaultCacheSize).
	CacheSize int64
	// FrameworksHome prefixes relative URIs (--frameworks_home); "" makes
	// relative URIs an error.
	FrameworksHome string
	// StallTimeout abandons a download that receives nothing for this long
	// (DefaultStallTimeout).
	StallTimeout time.Duration
	// Client makes the HTTP requests; nil means one without a proxy.
	Client *http.Client
	// Logger receives the fetcher's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Fetcher fetches URIs into sandboxes. It is safe for concurrent use.
type Fetcher struct {
	cfg   Config
	log   *slog.Logger
	cache *cache
}

// New returns a Fetcher.
func New(cfg Config) *Fetcher {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: cfg.StallTimeout}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Fetcher{cfg: cfg, log: cfg.Logger}
	if cfg.CacheDir != "" {
		f.cache = &cache{dir: cfg.CacheDir, limit: cfg.CacheSize}
	}
	return f
}

// Request is one container's fetch.
type Request struct {
	URIs []*mesos.CommandInfo_URI
	// Sandbox is the directory fetched files land in; it exists.
	Sandbox string
	// User owns the fetched files when the fetcher runs as root; it also
	// separates cache entries. "" leaves them to the fetcher's user.
	User string
}

// Fetch fetches every URI of req into its sandbox, stopping at the first
// failure.
func (f *Fetcher) Fetch(ctx context.Context, req Request) error {
	owner, err := lookupOwner(req.User)
	if err != nil {
		return err
	}
	for _, uri := range req.URIs {
		if err := f.fetchOne(ctx, uri, req); err != nil {
			return fmt.Errorf("Failed to fetch '%s': %w", uri.GetValue(), err)
		}
	}
	if owner != nil {
		return owner.chownTree(req.Sandbox)
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, uri *mesos.CommandInfo_URI, req Request) error {
	name, err := destinationName(uri)
	if err != nil {
		return err
	}
	dest := filepath.Join(req.Sandbox, name)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if err := f.obtain(ctx, uri, req.User, dest); err != nil {
		return err
	}
	switch format := archive.FormatOf(name); {
	case uri.GetExecutable():
		return os.Chmod(dest, 0o755)
	case (uri.Extract == nil || uri.GetExtract()) && format != archive.NotArchive:
		if err := archive.ExtractFile(dest, filepath.Dir(dest), format, archive.Options{}); err != nil {
			return fmt.Errorf("extracting %s: %w", name, err)
		}
	}
	return nil
}

// destinationName is where a URI lands, relative to the sandbox:
// output_file, else the base name of the URI's path.
func destinationName(uri *mesos.CommandInfo_URI) (string, error) {
	name := uri.GetOutputFile()
	if name == "" {
		p := uri.GetValue()
		if u, err := url.Parse(p); err == nil && u.Scheme != "" {
			p = u.Path
		}
		name = path.Base(p)
	}
	clean := filepath.Clean(name)
	if name == "" || clean == "." || clean == "/" || filepath.IsAbs(clean) || clean == ".." ||
		strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("cannot tell a file name inside the sandbox (output_file %q)", uri.GetOutputFile())
	}
	return clean, nil
}

// obtain puts the URI's content at dest, through the cache when the URI
// asks for it.
func (f *Fetcher) obtain(ctx context.Context, uri *mesos.CommandInfo_URI, user, dest string) error {
	if !uri.GetCache() || f.cache == nil {
		return f.download(ctx, uri.GetValue(), dest)
	}
	return f.cache.fetch(cacheKey(user, uri.GetValue()), dest, func(tmp string) error {
		return f.download(ctx, uri.GetValue(), tmp)
	})
}

func cacheKey(user, uri string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + uri))
	return hex.EncodeToString(sum[:])
}

// download writes the URI's content to dest.
func (f *Fetcher) download(ctx context.Context, uri, dest string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("invalid URI: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		return f.httpGet(ctx, uri, dest)
	case "file":
		return copyFile(u.Path, dest)
	case "":
		return copyFile(f.localPath(uri), dest)
	}
	return fmt.Errorf("unsupported scheme %q (Agora fetches http, https and local paths)", u.Scheme)
}

func (f *Fetcher) localPath(p string) string {
	if filepath.IsAbs(p) || f.cfg.FrameworksHome == "" {
		return p
	}
	return filepath.Join(f.cfg.FrameworksHome, p)
}

func (f *Fetcher) httpGet(ctx context.Context, uri, dest string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return err
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	body := &stallReader{r: resp.Body, timer: time.AfterFunc(f.cfg.StallTimeout, func() {
		cancel(fmt.Errorf("download stalled for %v", f.cfg.StallTimeout))
	}), stall: f.cfg.StallTimeout}
	defer body.timer.Stop()
	err = writeFile(dest, body)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// stallReader re-arms timer on every read that returns data.
type stallReader struct {
	r     io.Reader
	timer *time.Timer
	stall time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.timer.Reset(s.stall)
	}
	return n, err
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", src)
	}
	return writeFile(dest, in)
}

// writeFile writes r to dest through a temporary file, so that a failed
// fetch leaves nothing half-written under dest's name.
func writeFile(dest string, r io.Reader) error {
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".fetch-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dest)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// owner is the user fetched files are given to.
type owner struct{ uid, gid int }

// lookupOwner resolves the user to chown to; nil when there is nothing to
// do (no user, or not root).
func lookupOwner(name string) (*owner, error) {
	if name == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("fetcher: unknown user %q: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("fetcher: user %q: %w", name, err)
	}
	if uid == 0 {
		return nil, nil
	}
	return &owner{uid: uid, gid: gid}, nil
}

func (o *owner) chownTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, o.uid, o.gid)
	})
}

// cache is an LRU cache of downloads, bounded in bytes. A file's mtime is
// its last use.
type cache struct {
	dir   string
	limit int64
	mu    sync.Mutex // one fill or eviction at a time
}

// fetch copies the entry key to dest, filling it with fill first when it
// is missing. An entry larger than the whole cache is not kept.
func (c *cache) fetch(key, dest string, fill func(tmp string) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("fetcher cache: %w", err)
	}
	entry := filepath.Join(c.dir, key)
	if _, err := os.Stat(entry); err != nil {
		if err := fill(entry); err != nil {
			return err
		}
	}
	now := time.Now()
	os.Chtimes(entry, now, now)
	if err := copyFile(entry, dest); err != nil {
		return err
	}
	if fi, err := os.Stat(entry); err == nil && fi.Size() > c.limit {
		return os.Remove(entry) // would evict everything else, then itself
	}
	return c.evict(key)
}

// evict removes least recently used entries, keep last, until the cache
// fits its bound.
func (c *cache) evict(keep string) error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("fetcher cache: %w", err)
	}
	type item struct {
		name string
		size int64
		used time.Time
	}
	var items []item
	var total int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			items = append(items, item{e.Name(), fi.Size(), fi.ModTime()})
			total += fi.Size()
		}
	}
	// Least recently used first; keep last of all.
	sort.Slice(items, func(i, j int) bool {
		if items[i].name == keep || items[j].name == keep {
			return items[j].name == keep && items[i].name != keep
		}
		return items[i].used.Before(items[j].used)
	})
	for i := 0; total > c.limit && i < len(items); i++ {
		os.Remove(filepath.Join(c.dir, items[i].name))
		total -= items[i].size
	}
	return nil
}
