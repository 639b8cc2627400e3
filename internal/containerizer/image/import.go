package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/agoraproject/agora/internal/fetcher/archive"
)

// OCI annotations that name an image in a layout's index.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerdRef = "io.containerd.image.name"
)

// source is one image of an import, with the names it goes by.
type source struct {
	names []string
	img   v1.Image
}

// Import reads the images in path (a `docker save` tarball, an OCI image
// layout directory, or an OCI archive) into the store and returns their
// records. imageName, when set, names the one image the source must hold;
// otherwise the names the source records are used.
func (s *Store) Import(path, imageName string) ([]Record, error) {
	unlock, err := s.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sources, cleanup, err := s.openSource(path)
	if err != nil {
		return nil, fmt.Errorf("image import: %s: %w", path, err)
	}
	defer cleanup()
	if imageName != "" {
		if len(sources) != 1 {
			return nil, fmt.Errorf("image import: %s holds %d images; a name can be given to one only", path, len(sources))
		}
		sources[0].names = []string{imageName}
	}
	var out []Record
	for _, src := range sources {
		if len(src.names) == 0 {
			return nil, fmt.Errorf("image import: %s has an image without a name; give one with --name", path)
		}
		recs, err := s.importImage(src)
		if err != nil {
			return nil, fmt.Errorf("image import: %s: %w", path, err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// openSource lists the images of path. cleanup removes what reading it
// needed (an unpacked OCI archive).
func (s *Store) openSource(path string) ([]source, func(), error) {
	nothing := func() {}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nothing, err
	}
	if fi.IsDir() {
		srcs, err := layoutSources(path)
		return srcs, nothing, err
	}
	kind, err := tarKind(path)
	if err != nil {
		return nil, nothing, err
	}
	if kind == "docker" {
		srcs, err := dockerSaveSources(path)
		return srcs, nothing, err
	}
	dir, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "oci-archive-")
	if err != nil {
		return nil, nothing, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	f, err := os.Open(path)
	if err != nil {
		return nil, cleanup, err
	}
	defer f.Close()
	if err := archive.ExtractTar(f, dir, archive.Options{}); err != nil {
		return nil, cleanup, err
	}
	srcs, err := layoutSources(dir)
	return srcs, cleanup, err
}

// tarKind tells a `docker save` tarball ("docker": it has manifest.json)
// from an OCI archive ("oci": it has oci-layout).
func tarKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", errors.New("neither a docker save tarball (no manifest.json) nor an OCI archive (no oci-layout)")
		}
		if err != nil {
			return "", fmt.Errorf("reading tar: %w", err)
		}
		switch strings.TrimPrefix(hdr.Name, "./") {
		case "manifest.json":
			return "docker", nil
		case "oci-layout":
			return "oci", nil
		}
	}
}

func dockerSaveSources(path string) ([]source, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, err
	}
	var out []source
	for _, d := range manifest {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0], name.WeakValidation)
			if err != nil {
				return nil, err
			}
			tag = &t
		} else if len(manifest) > 1 {
			return nil, errors.New("a tarball with several images must tag each")
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, err
		}
		out = append(out, source{names: d.RepoTags, img: img})
	}
	return out, nil
}

func layoutSources(dir string) ([]source, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []source
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			continue // nested indexes (multi-platform) are not followed
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, key := range []string{annotationContainerdRef, annotationRefName} {
			if n := d.Annotations[key]; n != "" {
				names = append(names, n)
				break
			}
		}
		out = append(out, source{names: names, img: img})
	}
	return out, nil
}

// importImage unpacks the image's missing layers and records it under each
// of its names.
func (s *Store) importImage(src source) ([]Record, error) {
	layers, err := src.img.Layers()
	if err != nil {
		return nil, err
	}
	rec := Record{ImportedAt: time.Now().UTC()}
	for _, l := range layers {
		diffID, size, err := s.unpackLayer(l)
		if err != nil {
			return nil, err
		}
		rec.Layers = append(rec.Layers, diffID)
		rec.Size += size
	}
	cf, err := src.img.ConfigFile()
	if err != nil {
		return nil, err
	}
	id, err := src.img.ConfigName()
	if err != nil {
		return nil, err
	}
	rec.ID = id.String()
	rec.Config = RuntimeConfig{Env: cf.Config.Env, Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd,
		WorkingDir: cf.Config.WorkingDir, User: cf.Config.User}
	var out []Record
	for _, n := range src.names {
		r := rec
		r.Name = n
		if r.Key, err = NormalizeName(n); err != nil {
			return nil, err
		}
		if err := s.writeRecord(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// unpackLayer unpacks a layer unless the store has it, and returns its diff
// ID and unpacked size.
func (s *Store) unpackLayer(l v1.Layer) (string, int64, error) {
	h, err := l.DiffID()
	if err != nil {
		return "", 0, err
	}
	diffID := h.String()
	dest := s.layerDir(diffID)
	if _, err := os.Stat(dest); err == nil {
		return diffID, dirSize(dest), nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layer-")
	if err != nil {
		return "", 0, err
	}
	defer os.RemoveAll(tmp)
	rc, err := l.Uncompressed()
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	opts := archive.Options{}
	if os.Geteuid() == 0 {
		opts = archive.Options{Whiteouts: archive.WhiteoutOverlay, KeepOwners: true}
	}
	if err := archive.ExtractTar(rc, tmp, opts); err != nil {
		return "", 0, fmt.Errorf("layer %s: %w", diffID, err)
	}
	os.Chmod(tmp, 0o755) // MkdirTemp made it 0700; it is the layer's root
	if err := os.Rename(tmp, dest); err != nil {
		return "", 0, err
	}
	return diffID, dirSize(dest), nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
