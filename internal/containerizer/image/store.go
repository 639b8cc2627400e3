// Package image is the agent's local image store and the provisioner that
// turns its images into containers' root filesystems. No registry is
// reachable from an Agora cluster's machines, so images arrive as files:
// `agora image import` reads a `docker save` tarball, an OCI image layout
// directory or an OCI archive (a tar of a layout).
//
// Layout under <work_dir>/images:
//
//	layers/sha256/<diff id>/   each layer unpacked once, shared by every image
//	images/<key>.json          one record per image name: its layers, runtime config
//	tmp/                       unpacking in progress (renamed into place when done)
//	lock                       flock: imports and removals exclude each other
//	                           and the provisioner's reads
//
// Layers are unpacked through package archive (no path may escape the
// layer's directory; device nodes are refused) with OCI whiteouts turned
// into overlayfs whiteouts. Names are normalized the way Docker does:
// "busybox" is "index.docker.io/library/busybox:latest".
package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/sys/unix"
)

// ErrNotFound is wrapped by lookups of an image the store does not hold.
var ErrNotFound = errors.New("image not found")

// Store is an image store in a directory. Several processes may use one
// store (the agent provisions while `agora image import` runs).
type Store struct {
	dir string
}

// Record is what the store knows about one image.
type Record struct {
	// Name is the name it was imported under; Key its normalized form.
	Name string `json:"name"`
	Key  string `json:"key"`
	// ID is the digest of the image's config (Docker's image ID).
	ID string `json:"id"`
	// Layers are the layers' diff IDs, lowest first.
	Layers     []string      `json:"layers"`
	Config     RuntimeConfig `json:"config"`
	Size       int64         `json:"size"` // unpacked bytes
	ImportedAt time.Time     `json:"imported_at"`
}

// Open opens (creating) the store in dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{"layers/sha256", "images", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// NormalizeName returns Docker's full form of an image name.
func NormalizeName(n string) (string, error) {
	ref, err := name.ParseReference(n, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("invalid image name %q: %w", n, err)
	}
	return ref.Name(), nil
}

func recordFile(dir, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, "images", hex.EncodeToString(sum[:16])+".json")
}

// layerDir is where a layer is unpacked, by diff ID ("sha256:<hex>").
func (s *Store) layerDir(diffID string) string {
	return filepath.Join(s.dir, "layers", strings.Replace(diffID, ":", "/", 1))
}

// lock takes the store's lock, exclusive or shared; the returned func
// releases it.
func (s *Store) lock(exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("image store: locking: %w", err)
	}
	return func() { f.Close() }, nil
}

// Lookup returns the record of the named image. The error for a missing
// image says how to import it.
func (s *Store) Lookup(imageName string) (*Record, error) {
	key, err := NormalizeName(imageName)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(recordFile(s.dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: image '%s' is not in this agent's image store (%s); load it with "+
			"'agora image import --work_dir=<agent work_dir> <docker-save.tar | OCI layout dir | OCI archive>'",
			ErrNotFound, imageName, s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("image store: record of %s: %w", imageName, err)
	}
	return &r, nil
}

// List returns the store's images, by name.
func (s *Store) List() ([]Record, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "images"))
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var out []Record
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(s.dir, "images", e.Name()))
		if err != nil {
			continue
		}
		var r Record
		if json.Unmarshal(b, &r) == nil {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove forgets the named image and removes the layers no other image
// and no container (inUse) needs.
func (s *Store) Remove(imageName string, inUse func() map[string]bool) error {
	unlock, err := s.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := s.Lookup(imageName)
	if err != nil {
		return err
	}
	if err := os.Remove(recordFile(s.dir, r.Key)); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	return s.collectLayers(inUse)
}

// collectLayers removes unpacked layers no image references. Callers hold
// the exclusive lock.
func (s *Store) collectLayers(inUse func() map[string]bool) error {
	keep := map[string]bool{}
	if inUse != nil {
		keep = inUse()
	}
	records, err := s.List()
	if err != nil {
		return err
	}
	for _, r := range records {
		for _, l := range r.Layers {
			keep[l] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(s.dir, "layers", "sha256"))
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !keep["sha256:"+e.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(s.dir, "layers", "sha256", e.Name())))
		}
	}
	return errors.Join(errs...)
}

func (s *Store) writeRecord(r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "record-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), recordFile(s.dir, r.Key))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("image store: writing the record of %s: %w", r.Name, err)
	}
	return nil
}
