package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agoraproject/agora/internal/testenv"
)

// entry is one tar entry of a test archive.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func file(name, body string) entry {
	return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) entry {
	return entry{name: name, link: target, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, target string) entry {
	return entry{name: name, link: target, typ: tar.TypeLink, mode: 0o644}
}

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode,
			Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if e.typ == tar.TypeChar {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sandboxed returns a target directory inside a parent that holds nothing
// else, and a func listing everything under the parent, to prove that an
// extraction wrote nowhere else.
func sandboxed(t *testing.T) (target string, outside func() []string) {
	parent := t.TempDir()
	target = filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	return target, func() []string {
		var names []string
		filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(parent, p)
			if rel != "." && rel != "target" && !strings.HasPrefix(rel, "target/") {
				names = append(names, rel)
			}
			return nil
		})
		return names
	}
}

func TestExtractTarWritesFilesDirsLinksAndModes(t *testing.T) {
	target, outside := sandboxed(t)
	data := tarOf(t,
		dir("bin/"),
		entry{name: "bin/busybox", body: "#!binary", typ: tar.TypeReg, mode: 0o755},
		symlink("bin/sh", "/bin/busybox"),
		hardlink("bin/ls", "bin/busybox"),
		file("/etc/hostname", "image\n"),
		file("etc/hostname", "replaced\n"),
		symlink("usr", "."),
		file("usr/etc/motd", "through a link that stays inside\n"),
	)
	if err := ExtractTar(bytes.NewReader(data), target, Options{}); err != nil {
		t.Fatalf("ExtractTar: %v", err)
	}
	if got := read(t, target, "etc/hostname"); got != "replaced\n" {
		t.Errorf("etc/hostname = %q, want the later entry", got)
	}
	if got := read(t, target, "etc/motd"); got == "" {
		t.Errorf("etc/motd missing")
	}
	fi, err := os.Stat(filepath.Join(target, "bin/busybox"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/busybox: %v, mode %v", err, fi.Mode())
	}
	if l, err := os.Readlink(filepath.Join(target, "bin/sh")); err != nil || l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q (%v)", l, err)
	}
	ls, _ := os.Stat(filepath.Join(target, "bin/ls"))
	if !os.SameFile(fi, ls) {
		t.Errorf("bin/ls is not a hard link of bin/busybox")
	}
	if o := outside(); len(o) > 0 {
		t.Fatalf("wrote outside the target: %v", o)
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}

// TestExtractTarRefusesHostileEntries is the escape catalogue: each archive
// must fail with ErrUnsafe and leave the directory around the target as it
// was.
func TestExtractTarRefusesHostileEntries(t *testing.T) {
	cases := map[string][]entry{
		"dot-dot":                       {file("../evil", "x")},
		"dot-dot inside":                {file("a/../../evil", "x")},
		"absolute symlink, then write":  {symlink("out", "/PARENT"), file("out/evil", "x")},
		"relative symlink out, write":   {symlink("out", "../"), file("out/evil", "x")},
		"symlinked dir chain":           {symlink("a", "."), symlink("a/b", "../.."), file("a/b/evil", "x")},
		"hard link to outside file":     {hardlink("passwd", "../outside-file")},
		"hard link to absolute path":    {hardlink("passwd", "/PARENT/outside-file")},
		"hard link through symlink out": {symlink("out", "/PARENT"), hardlink("x", "out/outside-file")},
		"char device":                   {{name: "dev/mem", typ: tar.TypeChar, mode: 0o600}},
		"fifo":                          {{name: "fifo", typ: tar.TypeFifo, mode: 0o600}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			target, outside := sandboxed(t)
			parent := filepath.Dir(target)
			if err := os.WriteFile(filepath.Join(parent, "outside-file"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			for i := range entries {
				entries[i].link = strings.ReplaceAll(entries[i].link, "/PARENT", parent)
			}
			err := ExtractTar(bytes.NewReader(tarOf(t, entries...)), target, Options{})
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("ExtractTar = %v, want ErrUnsafe", err)
			}
			if o := outside(); len(o) != 1 || o[0] != "outside-file" {
				t.Fatalf("the parent now holds %v", o)
			}
			if got := read(t, parent, "outside-file"); got != "secret" {
				t.Fatalf("outside-file changed to %q", got)
			}
			fi, _ := os.Stat(filepath.Join(parent, "outside-file"))
			if st := fi.Sys().(*syscall.Stat_t); st.Nlink != 1 {
				t.Fatalf("outside-file gained a hard link")
			}
		})
	}
}

func TestOverlayWhiteouts(t *testing.T) {
	testenv.RequireRoot(t, "mknod and trusted.* attributes")
	target, _ := sandboxed(t)
	data := tarOf(t, dir("etc/"), file("etc/.wh.passwd", ""), dir("var/"), file("var/.wh..wh..opq", ""))
	if err := ExtractTar(bytes.NewReader(data), target, Options{Whiteouts: WhiteoutOverlay}); err != nil {
		t.Fatalf("ExtractTar: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(target, "etc/passwd"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/passwd is not a 0/0 character device: mode %o rdev %d", st.Mode, st.Rdev)
	}
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(target, "var"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("var opaque xattr = %q, %v", buf[:n], err)
	}
	if _, err := os.Lstat(filepath.Join(target, "var/.wh..wh..opq")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the opaque marker was extracted as a file")
	}
}

func TestExtractFileFormats(t *testing.T) {
	data := tarOf(t, file("app/run.sh", "#!/bin/sh\necho hi\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	var plainGz bytes.Buffer
	zw = gzip.NewWriter(&plainGz)
	zw.Write([]byte("just a file\n"))
	zw.Close()
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"bundle.tar", data, "app/run.sh"},
		{"bundle.tar.gz", gz.Bytes(), "app/run.sh"},
		{"bundle.tgz", gz.Bytes(), "app/run.sh"},
		{"notes.txt.gz", plainGz.Bytes(), "notes.txt"},
		{"bundle.zip", zipOf(t, map[string]string{"app/run.sh": "x"}), "app/run.sh"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), c.name)
			os.WriteFile(src, c.data, 0o644)
			dst := t.TempDir()
			if err := ExtractFile(src, dst, FormatOf(c.name), Options{}); err != nil {
				t.Fatalf("ExtractFile: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dst, c.want)); err != nil {
				t.Fatalf("%s not extracted: %v (have %v)", c.want, err, list(dst))
			}
		})
	}
}

func TestZipRefusesDotDot(t *testing.T) {
	target, outside := sandboxed(t)
	src := filepath.Join(t.TempDir(), "evil.zip")
	os.WriteFile(src, zipOf(t, map[string]string{"../evil": "x"}), 0o644)
	if err := ExtractFile(src, target, Zip, Options{}); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("ExtractFile = %v, want ErrUnsafe", err)
	}
	if o := outside(); len(o) > 0 {
		t.Fatalf("wrote outside: %v", o)
	}
}

func TestFormatOf(t *testing.T) {
	for name, want := range map[string]Format{
		"a.tar": Tar, "a.TAR.GZ": TarGzip, "a.tgz": TarGzip, "a.tar.bz2": TarBzip2, "a.tbz2": TarBzip2,
		"a.tar.xz": TarXz, "a.txz": TarXz, "a.gz": Gzip, "a.zip": Zip, "a.sh": NotArchive, "tar": NotArchive,
	} {
		if got := FormatOf(name); got != want {
			t.Errorf("FormatOf(%q) = %v, want %v", name, got, want)
		}
	}
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	return b.Bytes()
}

func list(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		out = append(out, p)
		return nil
	})
	sort.Strings(out)
	return out
}

// FuzzExtractTar: whatever the archive, extraction writes nothing outside
// the target directory.
func FuzzExtractTar(f *testing.F) {
	f.Add(tarOf(f, file("a", "b")))
	f.Add(tarOf(f, symlink("l", "/"), file("l/x", "y")))
	f.Add(tarOf(f, hardlink("h", "../x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		target, outside := sandboxed(t)
		ExtractTar(bytes.NewReader(data), target, Options{})
		if o := outside(); len(o) > 0 {
			t.Fatalf("wrote outside the target: %v", o)
		}
	})
}
