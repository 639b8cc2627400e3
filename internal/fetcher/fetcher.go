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
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
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
	// Sandbox is the directory fetched files land in; it exists, and User
	// may write in it.
	Sandbox string
	// User, when the fetcher runs as root, is whose file-system identity
	// the fetch uses (package asuser): local files are read and the sandbox
	// written as that user, whose files they become. It also separates
	// cache entries. "" leaves everything to the fetcher's user.
	User string
}

// Fetch fetches every URI of req into its sandbox, stopping at the first
// failure.
func (f *Fetcher) Fetch(ctx context.Context, req Request) error {
	cred, err := asuser.Lookup(req.User)
	if err != nil {
		return fmt.Errorf("fetcher: %w", err)
	}
	for _, uri := range req.URIs {
		if err := f.fetchOne(ctx, uri, req, cred); err != nil {
			return fmt.Errorf("Failed to fetch '%s': %w", uri.GetValue(), err)
		}
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, uri *mesos.CommandInfo_URI, req Request, cred *syscall.Credential) error {
	name, err := destinationName(uri)
	if err != nil {
		return err
	}
	dest := filepath.Join(req.Sandbox, name)
	if err := asuser.Do(cred, func() error { return os.MkdirAll(filepath.Dir(dest), 0o755) }); err != nil {
		return err
	}
	if err := f.obtain(ctx, uri, req.User, cred, dest); err != nil {
		return err
	}
	switch format := archive.FormatOf(name); {
	case uri.GetExecutable():
		return asuser.Do(cred, func() error { return os.Chmod(dest, 0o755) })
	case (uri.Extract == nil || uri.GetExtract()) && format != archive.NotArchive:
		err := asuser.Do(cred, func() error { return archive.ExtractFile(dest, filepath.Dir(dest), format, archive.Options{}) })
		if err != nil {
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

// obtain puts the URI's content at dest, written as cred's user, through
// the cache when the URI asks for it. A local file is read as cred's user
// either way; the cache itself is the fetcher's.
func (f *Fetcher) obtain(ctx context.Context, uri *mesos.CommandInfo_URI, user string, cred *syscall.Credential, dest string) error {
	if !uri.GetCache() || f.cache == nil {
		return f.download(ctx, uri.GetValue(), cred, dest, cred)
	}
	return f.cache.fetch(cacheKey(user, uri.GetValue()), dest, cred, func(tmp string) error {
		return f.download(ctx, uri.GetValue(), cred, tmp, nil)
	})
}

func cacheKey(user, uri string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + uri))
	return hex.EncodeToString(sum[:])
}

// download writes the URI's content to dest as writer's user; a local
// file is read as reader's.
func (f *Fetcher) download(ctx context.Context, uri string, reader *syscall.Credential, dest string, writer *syscall.Credential) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("invalid URI: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		return f.httpGet(ctx, uri, dest, writer)
	case "file":
		return copyFile(u.Path, reader, dest, writer)
	case "":
		return copyFile(f.localPath(uri), reader, dest, writer)
	}
	return fmt.Errorf("unsupported scheme %q (Agora fetches http, https and local paths)", u.Scheme)
}

func (f *Fetcher) localPath(p string) string {
	if filepath.IsAbs(p) || f.cfg.FrameworksHome == "" {
		return p
	}
	return filepath.Join(f.cfg.FrameworksHome, p)
}

func (f *Fetcher) httpGet(ctx context.Context, uri, dest string, writer *syscall.Credential) error {
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
	err = writeFile(dest, body, writer)
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

// copyFile copies src, opened as reader's user, to dest, written as
// writer's.
func copyFile(src string, reader *syscall.Credential, dest string, writer *syscall.Credential) error {
	var in *os.File
	if err := asuser.Do(reader, func() (err error) { in, err = os.Open(src); return err }); err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", src)
	}
	return writeFile(dest, in, writer)
}

// writeFile writes r to dest, as writer's user, through a temporary file,
// so that a failed fetch leaves nothing half-written under dest's name.
// Only the path operations need the user: the copy goes through the
// descriptor.
func writeFile(dest string, r io.Reader, writer *syscall.Credential) error {
	var tmp *os.File
	if err := asuser.Do(writer, func() (err error) { tmp, err = os.CreateTemp(filepath.Dir(dest), ".fetch-*"); return err }); err != nil {
		return err
	}
	_, err := io.Copy(tmp, r)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = asuser.Do(writer, func() error { return os.Rename(tmp.Name(), dest) })
	}
	if err != nil {
		asuser.Do(writer, func() error { return os.Remove(tmp.Name()) })
	}
	return err
}

// cache is an LRU cache of downloads, bounded in bytes. A file's mtime is
// its last use.
type cache struct {
	dir   string
	limit int64
	mu    sync.Mutex // one fill or eviction at a time
}

// fetch copies the entry key to dest (written as writer's user), filling
// it with fill first when it is missing. An entry larger than the whole
// cache is not kept.
func (c *cache) fetch(key, dest string, writer *syscall.Credential, fill func(tmp string) error) error {
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
	if err := copyFile(entry, nil, dest, writer); err != nil {
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
