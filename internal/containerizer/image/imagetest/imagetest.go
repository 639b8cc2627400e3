// Package imagetest builds small container images for tests: a one-layer
// image around Debian's static busybox (package busybox-static), written
// as a `docker save` tarball, an OCI layout or an OCI archive.
package imagetest

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BusyboxPath is where Debian's busybox-static installs the binary.
const BusyboxPath = "/usr/bin/busybox"

// Marker is a file only the test image has, and its content.
const (
	MarkerPath    = "/etc/agora-test-image"
	MarkerContent = "agora test image\n"
)

// RequireBusybox skips the test when busybox-static is missing (failing
// it under CI=true, where .ci/run installs it).
func RequireBusybox(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (install busybox-static; CI=true: not skipping)", BusyboxPath)
	}
	t.Skipf("%s is missing: apt-get install busybox-static", BusyboxPath)
}

// Entry is a file of a test layer.
type Entry struct {
	Name, Body, Link string
	Type             byte
	Mode             int64
}

// LayerTar writes entries as an uncompressed layer tar.
func LayerTar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Linkname: e.Link, Typeflag: e.Type, Mode: e.Mode,
			Size: int64(len(e.Body)), ModTime: time.Unix(1700000000, 0)}
		if e.Type != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.Type == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// BusyboxLayer is a layer with busybox at /bin/busybox, a link in /bin for
// each of its applets, /etc/passwd, /tmp and the marker file.
func BusyboxLayer(t testing.TB) []byte {
	t.Helper()
	RequireBusybox(t)
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	entries := []Entry{
		{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Body: string(bin), Type: tar.TypeReg, Mode: 0o755},
		{Name: "etc/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n", Type: tar.TypeReg, Mode: 0o644},
		{Name: strings.TrimPrefix(MarkerPath, "/"), Body: MarkerContent, Type: tar.TypeReg, Mode: 0o644},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			entries = append(entries, Entry{Name: "bin/" + applet, Link: "busybox", Type: tar.TypeSymlink, Mode: 0o777})
		}
	}
	return LayerTar(t, entries...)
}

// Image makes an image of the given layers (lowest first) with a runtime
// configuration.
func Image(t testing.TB, cfg v1.Config, layers ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, data := range layers {
		data := data
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// BusyboxImage is the busybox image with PATH set.
func BusyboxImage(t testing.TB) v1.Image {
	return Image(t, v1.Config{Env: []string{"PATH=/bin", "IMAGE_VAR=from-image"}, Cmd: []string{"/bin/sh"}}, BusyboxLayer(t))
}

// WriteDockerSave writes img as a `docker save` tarball tagged ref.
func WriteDockerSave(t testing.TB, path, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref, name.WeakValidation)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatal(err)
	}
}

// WriteOCILayout writes img as an OCI image layout in dir, named ref.
func WriteOCILayout(t testing.TB, dir, ref string, img v1.Image) {
	t.Helper()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		t.Fatal(err)
	}
}
