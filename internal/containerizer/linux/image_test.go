package linux

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer/image"
	"github.com/agoraproject/agora/internal/containerizer/image/imagetest"
	"github.com/agoraproject/agora/internal/testenv"
)

// withBusybox gives the containerizer an image store holding the busybox
// test image as "agora-test/busybox:1".
func withBusybox(t *testing.T, copyMode bool) (func(*Config), string) {
	testenv.RequireRoot(t, "namespaces, cgroups and mounts")
	work := t.TempDir()
	store, err := image.Open(filepath.Join(work, "images"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "busybox.tar")
	imagetest.WriteDockerSave(t, src, "agora-test/busybox:1", imagetest.BusyboxImage(t))
	if _, err := store.Import(src, ""); err != nil {
		t.Fatal(err)
	}
	backend := image.BackendOverlay
	if copyMode {
		backend = image.BackendCopy
	}
	p, err := image.NewProvisioner(store, filepath.Join(work, "provisioner"), backend, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.Images = p }, filepath.Join(work, "provisioner")
}

func busybox() *mesos.ContainerInfo {
	return &mesos.ContainerInfo{
		Type: mesos.ContainerInfo_MESOS.Enum(),
		Mesos: &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{
			Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String("agora-test/busybox:1")}}},
	}
}

// TestImageIsTheRoot: a container whose first process runs in the image
// sees the image's files, not the host's, its sandbox at
// /mnt/mesos/sandbox, the image's environment; and its root filesystem is
// gone once it ended. Both with overlayfs and with the copy fallback.
func TestImageIsTheRoot(t *testing.T) {
	for _, copyMode := range []bool{false, true} {
		t.Run(map[bool]string{false: "overlay", true: "copy"}[copyMode], func(t *testing.T) {
			mod, provDir := withBusybox(t, copyMode)
			c := newTestContainerizer(t, mod)
			spec := shellSpec(t, "img1", `cat /etc/agora-test-image; echo "var=$IMAGE_VAR sandbox=$MESOS_SANDBOX pwd=$(pwd)"; `+
				`test -e /usr/bin/apt-get && echo HOST-VISIBLE; echo hi > /mnt/mesos/sandbox/written; echo x > /etc/new-file`)
			spec.Container = busybox()
			spec.Argv = []string{"sh", "-c", spec.Argv[2]}
			spec.Env = []string{"PATH=/bin"}
			os.WriteFile(filepath.Join(spec.Sandbox, "from-host"), nil, 0o644)
			launch(t, c, spec)
			st := waitEnd(t, c, "img1")
			out := readFile(t, spec.Stdout)
			if !st.Known || st.WaitStatus.ExitStatus() != 0 {
				t.Fatalf("status %s; stdout %q stderr %q", st, out, readFile(t, spec.Stderr))
			}
			for _, want := range []string{imagetest.MarkerContent, "var=from-image", "sandbox=" + image.SandboxPath, "pwd=" + image.SandboxPath} {
				if !strings.Contains(out, want) {
					t.Errorf("output %q lacks %q", out, want)
				}
			}
			if strings.Contains(out, "HOST-VISIBLE") {
				t.Errorf("the host's files are visible: %q", out)
			}
			if got := readFile(t, filepath.Join(spec.Sandbox, "written")); got != "hi\n" {
				t.Errorf("sandbox file = %q", got)
			}
			if entries, _ := os.ReadDir(filepath.Join(provDir, "containers")); len(entries) != 0 {
				t.Errorf("provisioner left %d containers", len(entries))
			}
		})
	}
}

// TestImageForTaskKeepsTheHostRoot: for a command task the executor stays
// on the host's filesystem and learns where the task's root is.
func TestImageForTaskKeepsTheHostRoot(t *testing.T) {
	mod, _ := withBusybox(t, false)
	c := newTestContainerizer(t, mod)
	spec := shellSpec(t, "img2", `echo "rootfs=$`+image.EnvRootfs+`"; cat "$`+image.EnvRootfs+`/etc/agora-test-image"; test -e /usr/bin/apt-get && echo HOST-VISIBLE; echo "config=$`+image.EnvRuntimeConfig+`"`)
	spec.Container = busybox()
	spec.ImageForTask = true
	launch(t, c, spec)
	st := waitEnd(t, c, "img2")
	out := readFile(t, spec.Stdout)
	if st.WaitStatus.ExitStatus() != 0 || !strings.Contains(out, imagetest.MarkerContent) ||
		!strings.Contains(out, "HOST-VISIBLE") || !strings.Contains(out, `"IMAGE_VAR=from-image"`) {
		t.Fatalf("status %s, output %q, stderr %q", st, out, readFile(t, spec.Stderr))
	}
}

// TestMissingImageFailsTheLaunch names the image and the way to import it.
func TestMissingImageFailsTheLaunch(t *testing.T) {
	mod, _ := withBusybox(t, false)
	c := newTestContainerizer(t, mod)
	spec := shellSpec(t, "img3", "true")
	spec.Container = busybox()
	spec.Container.Mesos.Image.Docker.Name = proto.String("nosuch/image:7")
	_, err := c.Launch(t.Context(), spec)
	if err == nil || !strings.Contains(err.Error(), "nosuch/image:7") || !strings.Contains(err.Error(), "agora image import") {
		t.Fatalf("Launch = %v", err)
	}
	waitEnd(t, c, "img3")
}
