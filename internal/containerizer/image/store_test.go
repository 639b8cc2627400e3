package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer/image"
	"github.com/agoraproject/agora/internal/containerizer/image/imagetest"
	"github.com/agoraproject/agora/internal/fetcher/archive"
	"github.com/agoraproject/agora/internal/testenv"
)

func textLayer(t *testing.T, files map[string]string) []byte {
	var entries []imagetest.Entry
	for name, body := range files {
		entries = append(entries, imagetest.Entry{Name: name, Body: body, Type: tar.TypeReg, Mode: 0o644})
	}
	return imagetest.LayerTar(t, entries...)
}

func openStore(t *testing.T) *image.Store {
	s, err := image.Open(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestImportFormats: the same image imported from a docker save tarball,
// an OCI layout and an OCI archive; the shared layer is unpacked once.
func TestImportFormats(t *testing.T) {
	img := imagetest.Image(t, v1.Config{Env: []string{"A=1"}, Entrypoint: []string{"/bin/app"}, WorkingDir: "/srv"},
		textLayer(t, map[string]string{"etc/os": "base\n"}), textLayer(t, map[string]string{"bin/app": "app\n"}))
	src := t.TempDir()
	imagetest.WriteDockerSave(t, filepath.Join(src, "save.tar"), "example/app:1", img)
	imagetest.WriteOCILayout(t, filepath.Join(src, "layout"), "example/app:2", img)
	tarDir(t, filepath.Join(src, "layout"), filepath.Join(src, "oci.tar"))

	s := openStore(t)
	for _, c := range []struct{ path, name string }{
		{filepath.Join(src, "save.tar"), "example/app:1"},
		{filepath.Join(src, "layout"), "example/app:2"},
		{filepath.Join(src, "oci.tar"), "example/app:3"},
	} {
		given := ""
		if strings.HasSuffix(c.path, "oci.tar") {
			given = c.name // the archive's annotation says :2; name it explicitly
		}
		recs, err := s.Import(c.path, given)
		if err != nil {
			t.Fatalf("Import(%s): %v", c.path, err)
		}
		if len(recs) != 1 || recs[0].Name != c.name {
			t.Fatalf("Import(%s) = %+v, want one image named %s", c.path, recs, c.name)
		}
		r, err := s.Lookup("docker.io/" + c.name)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if len(r.Layers) != 2 || r.Config.WorkingDir != "/srv" || r.Config.Entrypoint[0] != "/bin/app" {
			t.Fatalf("record %+v", r)
		}
	}
	layers, _ := os.ReadDir(filepath.Join(s.Dir(), "layers", "sha256"))
	if len(layers) != 2 {
		t.Fatalf("%d layers unpacked, want 2 (shared by three names)", len(layers))
	}
	list, _ := s.List()
	if len(list) != 3 {
		t.Fatalf("List = %d images, want 3", len(list))
	}
	for _, n := range []string{"example/app:1", "example/app:2"} {
		if err := s.Remove(n, nil); err != nil {
			t.Fatalf("Remove(%s): %v", n, err)
		}
	}
	if layers, _ := os.ReadDir(filepath.Join(s.Dir(), "layers", "sha256")); len(layers) != 2 {
		t.Fatalf("layers removed while example/app:3 still uses them")
	}
	if err := s.Remove("example/app:3", nil); err != nil {
		t.Fatal(err)
	}
	if layers, _ := os.ReadDir(filepath.Join(s.Dir(), "layers", "sha256")); len(layers) != 0 {
		t.Fatalf("%d layers left after removing every image", len(layers))
	}
}

func tarDir(t *testing.T, dir, out string) {
	if b, err := exec.Command("tar", "-C", dir, "-cf", out, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, b)
	}
}

func TestLookupOfAMissingImageSaysHowToImport(t *testing.T) {
	_, err := openStore(t).Lookup("busybox")
	if !errors.Is(err, image.ErrNotFound) || !strings.Contains(err.Error(), "busybox") ||
		!strings.Contains(err.Error(), "agora image import") {
		t.Fatalf("Lookup = %v", err)
	}
}

// TestHostileLayersAreRefused: an image whose layer climbs out, writes
// through a symbolic link pointing out, or hard-links a host file is
// refused, and nothing outside the store changes.
func TestHostileLayersAreRefused(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("untouched"), 0o600)
	cases := map[string][]imagetest.Entry{
		"dot-dot":                {{Name: "../../../../" + victim, Body: "x", Type: tar.TypeReg, Mode: 0o644}},
		"absolute symlink out":   {{Name: "escape", Link: outside, Type: tar.TypeSymlink}, {Name: "escape/victim", Body: "x", Type: tar.TypeReg, Mode: 0o644}},
		"hard link out":          {{Name: "stolen", Link: victim, Type: tar.TypeLink}},
		"hard link via dot-dot":  {{Name: "stolen", Link: "../../../../../../../../" + victim, Type: tar.TypeLink}},
		"device node":            {{Name: "dev/sda", Type: tar.TypeBlock, Mode: 0o600}},
		"relative symlink climb": {{Name: "up", Link: "../../../../../../../../../../" + outside, Type: tar.TypeSymlink}, {Name: "up/victim", Body: "x", Type: tar.TypeReg, Mode: 0o644}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			src := filepath.Join(t.TempDir(), "evil.tar")
			imagetest.WriteDockerSave(t, src, "evil:latest", imagetest.Image(t, v1.Config{}, imagetest.LayerTar(t, entries...)))
			_, err := s.Import(src, "")
			if !errors.Is(err, archive.ErrUnsafe) {
				t.Fatalf("Import = %v, want ErrUnsafe", err)
			}
			if b, _ := os.ReadFile(victim); string(b) != "untouched" {
				t.Fatalf("victim now %q", b)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 1 {
				t.Fatalf("outside dir holds %d entries", len(entries))
			}
			if fi, _ := os.Stat(victim); fi.Sys().(*syscall.Stat_t).Nlink != 1 {
				t.Fatalf("the victim gained a hard link")
			}
			if _, err := s.Lookup("evil"); !errors.Is(err, image.ErrNotFound) {
				t.Fatalf("a refused image was recorded: %v", err)
			}
			if tmp, _ := os.ReadDir(filepath.Join(s.Dir(), "tmp")); len(tmp) != 0 {
				t.Fatalf("tmp/ holds %d leftovers", len(tmp))
			}
		})
	}
}

// TestProvisionerCopiesWithWhiteoutsWithoutOverlay: the copy fallback
// applies layers in order, whiteouts included.
func TestProvisionerCopiesWithWhiteoutsWithoutOverlay(t *testing.T) {
	testenv.RequireRoot(t, "overlay whiteouts are device nodes")
	base := textLayer(t, map[string]string{"etc/a": "a", "etc/b": "b", "var/x/old": "old"})
	top := imagetest.LayerTar(t,
		imagetest.Entry{Name: "etc/.wh.a", Type: tar.TypeReg},
		imagetest.Entry{Name: "var/x/", Type: tar.TypeDir, Mode: 0o755},
		imagetest.Entry{Name: "var/x/.wh..wh..opq", Type: tar.TypeReg},
		imagetest.Entry{Name: "var/x/new", Body: "new", Type: tar.TypeReg, Mode: 0o644})
	s := openStore(t)
	src := filepath.Join(t.TempDir(), "img.tar")
	imagetest.WriteDockerSave(t, src, "layered:1", imagetest.Image(t, v1.Config{}, base, top))
	if _, err := s.Import(src, ""); err != nil {
		t.Fatal(err)
	}
	p, err := image.NewProvisioner(s, filepath.Join(t.TempDir(), "provisioner"), image.BackendCopy, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := &mesos.Image{Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("layered:1")}}
	r, err := p.Provision(context.Background(), "c1", img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Release("c1") })
	if r.Lower != nil {
		t.Fatalf("copy mode returned overlay layers")
	}
	for path, want := range map[string]string{"etc/b": "b", "var/x/new": "new"} {
		if b, _ := os.ReadFile(filepath.Join(r.Dir, path)); string(b) != want {
			t.Errorf("%s = %q, want %q", path, b, want)
		}
	}
	for _, gone := range []string{"etc/a", "var/x/old"} {
		if _, err := os.Lstat(filepath.Join(r.Dir, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived its whiteout", gone)
		}
	}
	if err := p.Release("c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(r.Dir)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Release left %s", filepath.Dir(r.Dir))
	}
}
