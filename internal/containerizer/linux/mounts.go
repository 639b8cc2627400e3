package linux

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/agoraproject/agora/internal/containerizer/image"
)

// setupContainer prepares the namespaces the init runs in: mounts stay
// private to the container, /proc shows its pid namespace, it has its own
// hostname, loopback is up in a network namespace of its own, and an image
// root filesystem is assembled.
func setupContainer(cfg *initConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("setting the hostname: %w", err)
		}
	}
	if cfg.NetNS {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if cfg.NetNS && cfg.Rootfs == nil {
		// sysfs shows the network namespace of whoever mounted it.
		if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("mounting /sys for the network namespace: %w", err)
		}
	}
	if cfg.Rootfs == nil {
		for _, b := range cfg.Binds {
			if err := bindOnHost(b); err != nil {
				return err
			}
		}
		return nil
	}
	return assembleRootfs(cfg)
}

// loopbackUp brings up lo in a new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing up loopback: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up loopback: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up loopback: %w", err)
	}
	return nil
}

// bindOnHost mounts a volume without an image: onto the host's tree, seen
// only in this mount namespace.
func bindOnHost(b bindMount) error {
	if err := unix.Mount(b.Source, b.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting volume %s at %s: %w", b.Source, b.Target, err)
	}
	return readOnly(b, b.Target)
}

func readOnly(b bindMount, target string) error {
	if !b.ReadOnly {
		return nil
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("making volume %s read-only: %w", target, err)
	}
	return nil
}

// assembleRootfs mounts the image (overlay or bind), then /proc, /sys,
// /dev, the sandbox, the host's name resolution files and the volumes into
// it, and pivots into it when the first process itself runs in the image.
func assembleRootfs(cfg *initConfig) error {
	r := cfg.Rootfs
	var err error
	if len(r.Lower) > 0 {
		err = unix.Mount("overlay", r.Dir, "overlay", 0, overlayOptions(r))
	} else {
		err = unix.Mount(r.Dir, r.Dir, "", unix.MS_BIND|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("mounting the image at %s: %w", r.Dir, err)
	}
	root, err := os.OpenRoot(r.Dir)
	if err != nil {
		return fmt.Errorf("opening the image root: %w", err)
	}
	defer root.Close()
	steps := []func(*os.Root) error{mountProcSys, mountDev}
	for _, step := range steps {
		if err := step(root); err != nil {
			return err
		}
	}
	binds := append([]bindMount{{Source: r.Sandbox, Target: image.SandboxPath}}, hostFiles(cfg)...)
	for _, b := range append(binds, cfg.Binds...) {
		if err := bindInto(root, b); err != nil {
			return err
		}
	}
	if r.Pivot {
		return pivotInto(r.Dir)
	}
	return nil
}

// overlayOptions lists the layers top first, as overlayfs wants them.
func overlayOptions(r *rootfsConfig) string {
	lower := make([]string, len(r.Lower))
	for i, l := range r.Lower {
		lower[len(r.Lower)-1-i] = l
	}
	return "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + r.Upper + ",workdir=" + r.Work
}

// hostFiles are the host's name resolution files, bound read-only into an
// image that shares the host's network.
func hostFiles(cfg *initConfig) []bindMount {
	if cfg.NetNS {
		return nil
	}
	var out []bindMount
	for _, f := range []string{"/etc/resolv.conf", "/etc/hosts"} {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			out = append(out, bindMount{Source: f, Target: f, ReadOnly: true})
		}
	}
	return out
}

// at mounts onto a path inside root without following a symbolic link out
// of it: the target is opened through os.Root (created when missing), and
// the mount goes onto the path the kernel resolved it to. Nothing runs in
// the container yet, so nothing can swap a link in between.
func at(root *os.Root, target string, dir bool, mount func(path string) error) error {
	rel := strings.TrimPrefix(filepath.Clean("/"+target), "/")
	var f *os.File
	var err error
	if dir {
		if err = root.MkdirAll(rel, 0o755); err == nil {
			f, err = root.Open(rel)
		}
	} else {
		if err = root.MkdirAll(filepath.Dir(rel), 0o755); err == nil {
			f, err = root.OpenFile(rel, os.O_RDONLY|os.O_CREATE, 0o644)
		}
	}
	if err != nil {
		return fmt.Errorf("preparing %s in the image: %w", target, err)
	}
	defer f.Close()
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		return fmt.Errorf("resolving %s in the image: %w", target, err)
	}
	return mount(real)
}

func mountProcSys(root *os.Root) error {
	err := at(root, "/proc", true, func(p string) error {
		return unix.Mount("proc", p, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	})
	if err != nil {
		return fmt.Errorf("mounting /proc in the image: %w", err)
	}
	err = at(root, "/sys", true, func(p string) error {
		if err := unix.Mount("sysfs", p, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, ""); err == nil {
			return nil
		}
		if err := unix.Mount("/sys", p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		return unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, "")
	})
	if err != nil {
		return fmt.Errorf("mounting /sys in the image: %w", err)
	}
	return nil
}

// devices are the host device nodes an image gets, bound onto files of its
// own /dev tmpfs.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

func mountDev(root *os.Root) error {
	err := at(root, "/dev", true, func(p string) error {
		return unix.Mount("tmpfs", p, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	})
	if err != nil {
		return fmt.Errorf("mounting /dev in the image: %w", err)
	}
	for _, d := range devices {
		err := at(root, "/dev/"+d, false, func(p string) error {
			return unix.Mount("/dev/"+d, p, "", unix.MS_BIND, "")
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("binding /dev/%s: %w", d, err)
		}
	}
	err = at(root, "/dev/pts", true, func(p string) error {
		return unix.Mount("devpts", p, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620")
	})
	if err != nil {
		return fmt.Errorf("mounting /dev/pts: %w", err)
	}
	err = at(root, "/dev/shm", true, func(p string) error {
		return unix.Mount("shm", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k")
	})
	if err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	for link, target := range map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := root.Symlink(target, "dev/"+link); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("linking /dev/%s: %w", link, err)
		}
	}
	return nil
}

// bindInto mounts a host path at a path inside the image.
func bindInto(root *os.Root, b bindMount) error {
	fi, err := os.Stat(b.Source)
	if err != nil {
		return fmt.Errorf("volume %s: %w", b.Source, err)
	}
	return at(root, b.Target, fi.IsDir(), func(p string) error {
		if err := unix.Mount(b.Source, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("mounting %s at %s: %w", b.Source, b.Target, err)
		}
		return readOnly(b, p)
	})
}

// pivotInto makes dir the root of the mount namespace and drops the old
// root.
func pivotInto(dir string) error {
	old := filepath.Join(dir, ".pivot_old")
	if err := os.MkdirAll(old, 0o700); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.PivotRoot(dir, old); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount("/.pivot_old", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmounting the host's root: %w", err)
	}
	return os.Remove("/.pivot_old")
}
