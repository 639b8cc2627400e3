package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// maxMountData is how long overlayfs mount options may be (one page);
// images with more layers than fit are copied instead.
const maxMountData = 4000

// Provisioner assembles containers' root filesystems from a store's
// images, under <work_dir>/provisioner/containers/<container id>/:
//
//	rootfs/   the mount point (overlay), or a copy of the image
//	upper/ work/   the overlay's writable layer
//	layers    the layers the container uses (kept from removal)
//
// With overlayfs the image's layers are shared read-only and the container
// writes to upper/; without it (a kernel or backing filesystem that cannot)
// the layers are copied into rootfs/.
type Provisioner struct {
	store   *Store
	dir     string
	overlay bool
	log     *slog.Logger
}

// Backends (Mesos' --image_provisioner_backend).
const (
	BackendAuto    = ""        // overlay where it works, else copy
	BackendOverlay = "overlay" // overlay or fail
	BackendCopy    = "copy"
)

// NewProvisioner returns a provisioner keeping its containers in dir, with
// the given backend; the default probes whether overlayfs works there.
func NewProvisioner(store *Store, dir, backend string, log *slog.Logger) (*Provisioner, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Join(dir, "containers"), 0o700); err != nil {
		return nil, fmt.Errorf("image provisioner: %w", err)
	}
	p := &Provisioner{store: store, dir: dir, log: log}
	switch backend {
	case BackendAuto:
		p.overlay = overlayWorks(dir)
	case BackendOverlay:
		if p.overlay = overlayWorks(dir); !p.overlay {
			return nil, fmt.Errorf("image provisioner: overlayfs does not work in %s", dir)
		}
	case BackendCopy:
	default:
		return nil, fmt.Errorf("image provisioner: unknown backend %q (overlay or copy)", backend)
	}
	log.Info("image provisioner", "dir", dir, "overlayfs", p.overlay)
	return p, nil
}

// Overlay reports whether root filesystems are overlay mounts (else
// copies).
func (p *Provisioner) Overlay() bool { return p.overlay }

// overlayWorks mounts and unmounts a throwaway overlay in dir.
func overlayWorks(dir string) bool {
	probe, err := os.MkdirTemp(dir, "overlay-probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(probe)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if os.Mkdir(filepath.Join(probe, d), 0o700) != nil {
			return false
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		filepath.Join(probe, "lower"), filepath.Join(probe, "upper"), filepath.Join(probe, "work"))
	merged := filepath.Join(probe, "merged")
	if unix.Mount("overlay", merged, "overlay", 0, opts) != nil {
		return false
	}
	return unix.Unmount(merged, unix.MNT_DETACH) == nil
}

func (p *Provisioner) containerDir(id string) string {
	return filepath.Join(p.dir, "containers", id)
}

// Provision prepares the root filesystem of a container from img, which
// must be a DOCKER image in the store.
func (p *Provisioner) Provision(ctx context.Context, containerID string, img *mesos.Image) (*Rootfs, error) {
	if img.GetType() != mesos.Image_DOCKER || img.GetDocker().GetName() == "" {
		return nil, fmt.Errorf("image provisioner: only DOCKER images with a name are supported (got %s)", img.GetType())
	}
	if containerID == "" || strings.ContainsAny(containerID, "/\x00") || containerID == ".." {
		return nil, fmt.Errorf("image provisioner: invalid container id %q", containerID)
	}
	unlock, err := p.store.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, err := p.store.Lookup(img.GetDocker().GetName())
	if err != nil {
		return nil, err
	}
	base := p.containerDir(containerID)
	rootfs := &Rootfs{Dir: filepath.Join(base, "rootfs"), Config: rec.Config}
	if err := os.MkdirAll(rootfs.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("image provisioner: %w", err)
	}
	if err := writeJSON(filepath.Join(base, "layers"), rec.Layers); err != nil {
		return nil, err
	}
	lower := make([]string, len(rec.Layers))
	for i, l := range rec.Layers {
		lower[i] = p.store.layerDir(l)
	}
	if p.overlay && len(strings.Join(lower, ":"))+2*len(base)+64 < maxMountData {
		rootfs.Lower, rootfs.Upper, rootfs.Work = lower, filepath.Join(base, "upper"), filepath.Join(base, "work")
		for _, d := range []string{rootfs.Upper, rootfs.Work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return nil, fmt.Errorf("image provisioner: %w", err)
			}
		}
		return rootfs, nil
	}
	if err := copyLayers(ctx, lower, rootfs.Dir); err != nil {
		return nil, fmt.Errorf("image provisioner: copying %s: %w", img.GetDocker().GetName(), err)
	}
	return rootfs, nil
}

// Release removes a container's root filesystem. The container has ended:
// its mount namespace, and with it every mount, is gone.
func (p *Provisioner) Release(containerID string) error {
	if err := os.RemoveAll(p.containerDir(containerID)); err != nil {
		return fmt.Errorf("image provisioner: %w", err)
	}
	return nil
}

// InUse lists the layers provisioned containers use, so that removing an
// image keeps them.
func (p *Provisioner) InUse() map[string]bool { return LayersInUse(p.dir) }

// LayersInUse lists the layers the containers of the provisioner in dir
// use; `agora image rm` asks it while the agent runs.
func LayersInUse(dir string) map[string]bool {
	out := map[string]bool{}
	entries, _ := os.ReadDir(filepath.Join(dir, "containers"))
	for _, e := range entries {
		var layers []string
		if b, err := os.ReadFile(filepath.Join(dir, "containers", e.Name(), "layers")); err == nil &&
			json.Unmarshal(b, &layers) == nil {
			for _, l := range layers {
				out[l] = true
			}
		}
	}
	return out
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("image provisioner: %w", err)
	}
	return nil
}

// copyLayers applies unpacked layers in order onto dst, honouring the
// overlay whiteouts they hold (a 0/0 character device deletes; an opaque
// directory hides what the layers below had in it).
func copyLayers(ctx context.Context, layers []string, dst string) error {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, layer := range layers {
		err := filepath.WalkDir(layer, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rel, _ := filepath.Rel(layer, path)
			if rel == "." {
				return nil
			}
			return copyEntry(root, path, rel)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyEntry(root *os.Root, src, rel string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
		return removeIfPresent(root, rel) // a whiteout
	}
	switch {
	case fi.IsDir():
		if isOpaque(src) {
			if err := removeIfPresent(root, rel); err != nil {
				return err
			}
		}
		if err := root.Mkdir(rel, fi.Mode().Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := removeIfPresent(root, rel); err != nil {
			return err
		}
		if err := root.Symlink(target, rel); err != nil {
			return err
		}
		return root.Lchown(rel, int(st.Uid), int(st.Gid))
	case fi.Mode().IsRegular():
		if err := removeIfPresent(root, rel); err != nil {
			return err
		}
		if err := copyFile(root, src, rel, fi.Mode().Perm()); err != nil {
			return err
		}
	default:
		return nil
	}
	if err := root.Lchown(rel, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return root.Chmod(rel, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
}

func removeIfPresent(root *os.Root, rel string) error {
	if _, err := root.Lstat(rel); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return root.RemoveAll(rel)
}

func isOpaque(dir string) bool {
	buf := make([]byte, 2)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && string(buf[:n]) == "y"
}

func copyFile(root *os.Root, src, rel string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
