// Package archive unpacks tar and zip archives into a directory without
// letting any entry land outside it. Both the fetcher (archives a framework
// names in CommandInfo.uris) and the image store (image layers) unpack
// untrusted archives through it.
//
// Every file operation goes through an os.Root opened on the target
// directory, so an entry named "../x", an absolute name, or a name that
// passes through a symbolic link leading out of the directory (absolute, or
// relative with too many "..") is refused by the kernel-backed checks of
// os.Root instead of by string matching. On top of that:
//
//   - hard links must name a file already inside the directory;
//   - device nodes are refused (a layer may not create /dev/sda);
//   - an entry replaces what an earlier entry put at the same name, without
//     following a symbolic link that stands there.
//
// Symbolic links themselves may point anywhere: inside a container's root
// filesystem "/bin/busybox" means the image's, and nothing here ever
// follows a link out of the directory.
//
// Image layers carry OCI whiteouts (".wh.name" deletes name from the layers
// below, ".wh..wh..opq" hides a whole directory). With Options.Whiteouts
// set to WhiteoutOverlay they become what overlayfs understands: a 0/0
// character device and the trusted.overlay.opaque attribute.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// ErrUnsafe is wrapped by the errors of entries refused for safety.
var ErrUnsafe = errors.New("archive: unsafe entry")

// WhiteoutMode says what to do with OCI whiteout entries.
type WhiteoutMode int

const (
	// WhiteoutKeep extracts whiteout entries as the empty files they are.
	WhiteoutKeep WhiteoutMode = iota
	// WhiteoutOverlay turns them into overlayfs whiteouts.
	WhiteoutOverlay
)

// OCI whiteout names.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// Options tune extraction.
type Options struct {
	// Whiteouts is how OCI whiteout entries are written.
	Whiteouts WhiteoutMode
	// KeepOwners applies the entries' uid/gid (needs root); otherwise
	// files belong to the extracting user.
	KeepOwners bool
}

// ExtractTar unpacks the tar stream r into dir, which must exist.
func ExtractTar(r io.Reader, dir string, opts Options) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("archive: opening %s: %w", dir, err)
	}
	defer root.Close()
	x := &extractor{root: root, opts: opts}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return x.finish()
		}
		if err != nil {
			return fmt.Errorf("archive: reading tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
}

// extractor writes entries under root. Directory times are set at the end:
// writing into a directory changes its mtime.
type extractor struct {
	root     *os.Root
	opts     Options
	dirTimes map[string]time.Time
}

func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if x.opts.Whiteouts == WhiteoutOverlay && strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return x.whiteout(name)
	}
	if dir := path.Dir(name); dir != "." {
		if err := x.root.MkdirAll(dir, 0o755); err != nil {
			return refused(name, err)
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(name, hdr)
	case tar.TypeReg:
		return x.file(name, hdr, body)
	case tar.TypeSymlink:
		return x.symlink(name, hdr)
	case tar.TypeLink:
		return x.hardlink(name, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("%w: %q is a device node or FIFO", ErrUnsafe, hdr.Name)
	case tar.TypeXGlobalHeader:
		return nil
	}
	return fmt.Errorf("%w: %q has unsupported type %q", ErrUnsafe, hdr.Name, hdr.Typeflag)
}

// cleanName makes an entry name relative and canonical, refusing names that
// climb out ("../x", "a/../../x"). Absolute names are taken as relative to
// the directory, as tar(1) does.
func cleanName(name string) (string, error) {
	if strings.Contains(name, "\x00") {
		return "", fmt.Errorf("%w: %q contains NUL", ErrUnsafe, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q climbs out of the directory", ErrUnsafe, name)
		}
	}
	if clean := strings.TrimPrefix(path.Clean("/"+name), "/"); clean != "" {
		return clean, nil
	}
	return ".", nil
}

// refused wraps a failed operation on an entry; nil stays nil. Anything
// but a plain missing or existing file is os.Root refusing a path.
func refused(name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("archive: %s: %w", name, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnsafe, name, err)
}

// clear removes what stands at name unless it is a directory and keep is
// set; it never follows a symbolic link.
func (x *extractor) clear(name string, keepDir bool) error {
	fi, err := x.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return refused(name, err)
	case fi.IsDir() && keepDir:
		return nil
	case fi.IsDir():
		return refused(name, x.root.RemoveAll(name))
	}
	return refused(name, x.root.Remove(name))
}

func (x *extractor) dir(name string, hdr *tar.Header) error {
	if err := x.clear(name, true); err != nil {
		return err
	}
	if err := x.root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return refused(name, err)
	}
	if err := x.attributes(name, hdr); err != nil {
		return err
	}
	if x.dirTimes == nil {
		x.dirTimes = make(map[string]time.Time)
	}
	x.dirTimes[name] = hdr.ModTime
	return nil
}

func (x *extractor) file(name string, hdr *tar.Header, body io.Reader) error {
	if err := x.clear(name, false); err != nil {
		return err
	}
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return refused(name, err)
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("archive: writing %s: %w", name, err)
	}
	if err := x.attributes(name, hdr); err != nil {
		return err
	}
	return refused(name, x.root.Chtimes(name, hdr.ModTime, hdr.ModTime))
}

func (x *extractor) symlink(name string, hdr *tar.Header) error {
	if err := x.clear(name, false); err != nil {
		return err
	}
	if err := x.root.Symlink(hdr.Linkname, name); err != nil {
		return refused(name, err)
	}
	if x.opts.KeepOwners {
		return refused(name, x.root.Lchown(name, hdr.Uid, hdr.Gid))
	}
	return nil
}

// hardlink links name to an earlier entry. The target is resolved inside
// the root; os.Root refuses one that leads out through a symbolic link.
func (x *extractor) hardlink(name string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return err
	}
	fi, err := x.root.Lstat(target)
	if err != nil {
		return fmt.Errorf("%w: hard link %q to %q: %w", ErrUnsafe, hdr.Name, hdr.Linkname, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: hard link %q to directory %q", ErrUnsafe, hdr.Name, hdr.Linkname)
	}
	if err := x.clear(name, false); err != nil {
		return err
	}
	return refused(name, x.root.Link(target, name))
}

// attributes applies the entry's permission bits and, with KeepOwners, its
// owner. Chown comes first: it clears setuid bits.
func (x *extractor) attributes(name string, hdr *tar.Header) error {
	if x.opts.KeepOwners {
		if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
			return refused(name, err)
		}
	}
	return refused(name, x.root.Chmod(name, fileMode(hdr.Mode)))
}

// fileMode converts tar permission bits (with setuid, setgid, sticky) to
// an fs.FileMode.
func fileMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// whiteout writes an OCI whiteout the overlayfs way: the opaque marker sets
// trusted.overlay.opaque on its directory; ".wh.name" becomes a 0/0
// character device called name.
func (x *extractor) whiteout(name string) error {
	dir, base := path.Dir(name), path.Base(name)
	if err := x.root.MkdirAll(dir, 0o755); err != nil {
		return refused(name, err)
	}
	d, err := x.root.Open(dir)
	if err != nil {
		return refused(name, err)
	}
	defer d.Close()
	fd := int(d.Fd())
	if base == opaqueMarker {
		if err := unix.Fsetxattr(fd, "trusted.overlay.opaque", []byte("y"), 0); err != nil {
			return fmt.Errorf("archive: marking %s opaque: %w", dir, err)
		}
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("%w: whiteout %q", ErrUnsafe, name)
	}
	if err := x.clear(path.Join(dir, target), false); err != nil {
		return err
	}
	if err := unix.Mknodat(fd, target, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("archive: whiteout %s: %w", name, err)
	}
	return nil
}

// finish sets the directories' times (a Chtimes does not change the
// parent's mtime, so the order does not matter).
func (x *extractor) finish() error {
	for name, t := range x.dirTimes {
		if err := x.root.Chtimes(name, t, t); err != nil {
			return refused(name, err)
		}
	}
	return nil
}

// Format is an archive format the fetcher recognises by file name.
type Format int

const (
	NotArchive Format = iota
	Tar
	TarGzip
	TarBzip2
	TarXz
	Gzip // one gzip-compressed file
	Zip
)

// formatSuffixes maps the extensions of reference §8 to formats; longer
// suffixes come first.
var formatSuffixes = []struct {
	suffix string
	format Format
}{
	{".tar.gz", TarGzip}, {".tar.bz2", TarBzip2}, {".tar.xz", TarXz},
	{".tgz", TarGzip}, {".tbz2", TarBzip2}, {".txz", TarXz},
	{".tar", Tar}, {".gz", Gzip}, {".zip", Zip},
}

// FormatOf tells an archive's format by its file name.
func FormatOf(name string) Format {
	lower := strings.ToLower(name)
	for _, s := range formatSuffixes {
		if strings.HasSuffix(lower, s.suffix) {
			return s.format
		}
	}
	return NotArchive
}

// ExtractFile unpacks the archive at file into dir according to its format.
// A Gzip file is decompressed into dir under its name without ".gz".
func ExtractFile(file, dir string, format Format, opts Options) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	switch format {
	case Zip:
		return extractZip(f, dir, opts)
	case Gzip:
		return gunzipFile(f, dir, strings.TrimSuffix(path.Base(file), path.Ext(file)))
	case NotArchive:
		return fmt.Errorf("archive: %s is not an archive", file)
	}
	r, err := Decompress(bufio.NewReader(f), format)
	if err != nil {
		return err
	}
	return ExtractTar(r, dir, opts)
}

// Decompress wraps r in the decompressor of a tar format.
func Decompress(r io.Reader, format Format) (io.Reader, error) {
	switch format {
	case Tar:
		return r, nil
	case TarGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("archive: gzip: %w", err)
		}
		return zr, nil
	case TarBzip2:
		return bzip2.NewReader(r), nil
	case TarXz:
		xr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("archive: xz: %w", err)
		}
		return xr, nil
	}
	return nil, fmt.Errorf("archive: format %d is not a tar format", format)
}

func gunzipFile(f *os.File, dir, name string) error {
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return fmt.Errorf("archive: gzip: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root}
	hdr := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, ModTime: time.Now()}
	return x.entry(hdr, zr)
}

// extractZip unpacks a zip archive with the same rules as a tar.
func extractZip(f *os.File, dir string, opts Options) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil {
		return fmt.Errorf("archive: zip: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer root.Close()
	x := &extractor{root: root, opts: opts}
	for _, zf := range zr.File {
		if err := x.zipEntry(zf); err != nil {
			return err
		}
	}
	return x.finish()
}

func (x *extractor) zipEntry(zf *zip.File) error {
	hdr := &tar.Header{Name: zf.Name, Mode: int64(zf.Mode().Perm()), ModTime: zf.Modified, Typeflag: tar.TypeReg}
	switch m := zf.Mode(); {
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
	case m&fs.ModeSymlink != 0:
		target, err := readSmall(zf)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case !m.IsRegular():
		return fmt.Errorf("%w: %q is not a regular file, directory or symbolic link", ErrUnsafe, zf.Name)
	}
	if hdr.Typeflag != tar.TypeReg {
		return x.entry(hdr, nil)
	}
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("archive: zip entry %s: %w", zf.Name, err)
	}
	defer rc.Close()
	return x.entry(hdr, rc)
}

// readSmall reads a zip entry that holds a symbolic link's target.
func readSmall(zf *zip.File) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", fmt.Errorf("archive: zip entry %s: %w", zf.Name, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(rc, 4096)); err != nil {
		return "", fmt.Errorf("archive: zip entry %s: %w", zf.Name, err)
	}
	return b.String(), nil
}
