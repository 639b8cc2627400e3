package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/containerizer/image/imagetest"
	"github.com/agoraproject/agora/internal/schedtest"
	"github.com/agoraproject/agora/internal/testenv"
)

// linuxIsolation is the --isolation of the agents that run real
// containers.
const linuxIsolation = "cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,filesystem/linux,docker/runtime"

// testImage is the busybox image the tests import.
const testImage = "agora-e2e/busybox:1"

// linuxAgent starts a cluster whose agent runs containers in namespaces
// and cgroups of its own cgroup root, with the busybox test image
// imported into its store. Cleanup checks that the agent left no cgroup
// behind and nothing mounted under its work dir, then removes the root.
func linuxAgent(t testing.TB, extra ...string) (*cluster, string) {
	t.Helper()
	testenv.RequireRoot(t, "Linux namespaces, cgroups, mounts")
	root := fmt.Sprintf("agora-e2e-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_"))
	workDir := t.TempDir()
	t.Cleanup(func() { removeCgroupRoot(t, root) })
	src := filepath.Join(t.TempDir(), "busybox.tar")
	imagetest.WriteDockerSave(t, src, testImage, imagetest.BusyboxImage(t))
	if out := runAgora(t, "image", "import", "--work_dir="+workDir, src); !strings.Contains(out, testImage) {
		t.Fatalf("agora image import: %s", out)
	}
	c := startCluster(t)
	args := append([]string{"--isolation=" + linuxIsolation, "--image_providers=docker", "--cgroups_root=" + root,
		"--cgroups_enable_cfs"}, extra...)
	c.agents = append(c.agents, c.startAgent(t, "agent1", "127.0.0.2", workDir, args...))
	t.Cleanup(func() { checkNoMounts(t, workDir) })
	return c, root
}

// execAgora runs an agora client command and returns its output.
func execAgora(args ...string) (string, error) {
	out, err := exec.Command(agoraBin, args...).CombinedOutput()
	return string(out), err
}

func killPid(pid int) { syscall.Kill(pid, syscall.SIGKILL) }

func runAgora(t testing.TB, args ...string) string {
	t.Helper()
	out, err := execAgora(args...)
	if err != nil {
		t.Fatalf("agora %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cgroupDirs lists the container cgroups left under root, in every
// hierarchy.
func cgroupDirs(root string) []string {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", root, "*"))
	dirs2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", root, "*"))
	var out []string
	for _, d := range append(dirs, dirs2...) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

// removeCgroupRoot kills whatever the stopped agent left in its cgroups
// (containers outlive their agent by design) and removes them.
func removeCgroupRoot(t testing.TB, root string) {
	deadline := time.Now().Add(20 * time.Second)
	for _, d := range cgroupDirs(root) {
		for time.Now().Before(deadline) {
			procs, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			for _, p := range strings.Fields(string(procs)) {
				var pid int
				fmt.Sscan(p, &pid)
				if pid > 0 {
					killPid(pid)
				}
			}
			if os.Remove(d) == nil || os.IsNotExist(os.Remove(d)) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", root))
	roots2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", root))
	for _, r := range append(roots, roots2...) {
		if err := os.Remove(r); err != nil && !os.IsNotExist(err) {
			t.Errorf("cgroup root %s left behind: %v", r, err)
		}
	}
}

func checkNoMounts(t testing.TB, dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, dir) {
			t.Errorf("mount left under %s: %s", dir, line)
		}
	}
}

// expectNoContainerCgroups checks that every container the agent ran has
// had its cgroups removed.
func expectNoContainerCgroups(t *testing.T, root string) {
	t.Helper()
	waitUntil(t, "container cgroups removed", 10*time.Second, func() bool { return len(cgroupDirs(root)) == 0 })
}

func imageContainer() *mesos.ContainerInfo {
	return &mesos.ContainerInfo{
		Type: mesos.ContainerInfo_MESOS.Enum(),
		Mesos: &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{
			Type: mesos.Image_DOCKER.Enum(), Docker: &mesos.Image_Docker{Name: proto.String(testImage)}}},
	}
}

func withMem(ti *mesos.TaskInfo, mb float64) *mesos.TaskInfo {
	ti.Resources = []*mesos.Resource{schedtest.Scalar("cpus", 0.5), schedtest.Scalar("mem", mb)}
	return ti
}

// TestImageTaskRunsIsolated: a task from an image the test built and
// imported with `agora image import` runs in its own pid, mount and UTS
// namespaces: it is PID 1's child, has its own hostname, sees the image's
// files and not the host's, and runs as its command's user.
func TestImageTaskRunsIsolated(t *testing.T) {
	c, root := linuxAgent(t)
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("image"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := withMem(schedtest.CommandTask("img", offer, `echo "ppid=$PPID pid=$$ host=$(hostname) sandbox=$MESOS_SANDBOX pwd=$(pwd)"; `+
		`cat /etc/agora-test-image; test -e /usr/bin/apt-get && echo HOST-FILES; echo "uid=$(id -u)"; touch written && echo wrote`), 64)
	task.Container = imageContainer()
	task.Command.User = proto.String("nobody")
	s.Launch(offer, task)
	running := waitForState(t, s, "img", mesos.TaskState_TASK_RUNNING)
	waitForState(t, s, "img", mesos.TaskState_TASK_FINISHED)
	out := readSandboxFile(t, offer, s.FrameworkID, "img", "stdout")
	host, _ := os.Hostname()
	cid := running.GetContainerStatus().GetContainerId().GetValue()
	for _, want := range []string{"ppid=1 ", "host=" + cid, "sandbox=/mnt/mesos/sandbox", "pwd=/mnt/mesos/sandbox",
		imagetest.MarkerContent, "uid=65534", "wrote"} {
		if !strings.Contains(out, want) {
			t.Errorf("task output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "HOST-FILES") || strings.Contains(out, "host="+host+" ") {
		t.Errorf("the task sees the host:\n%s", out)
	}
	expectNoContainerCgroups(t, root)
}

// TestMemoryHogFailsWithContainerLimitation: beyond its memory limit a
// task ends TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY.
func TestMemoryHogFailsWithContainerLimitation(t *testing.T) {
	c, root := linuxAgent(t)
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("hog"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	s.Launch(offer, withMem(schedtest.CommandTask("hog", offer, "dd if=/dev/zero of=/dev/null bs=512M count=1"), 64))
	st := waitForState(t, s, "hog", mesos.TaskState_TASK_FAILED)
	if st.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY {
		t.Fatalf("TASK_FAILED with reason %s (%s), want REASON_CONTAINER_LIMITATION_MEMORY", st.GetReason(), st.GetMessage())
	}
	expectNoContainerCgroups(t, root)
}

// TestSIGTERMReachesTheTaskAndTheGraceIsHonoured: a task that traps
// SIGTERM hears it, lives on through the grace period, then is SIGKILLed.
func TestSIGTERMReachesTheTaskAndTheGraceIsHonoured(t *testing.T) {
	c, root := linuxAgent(t)
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("grace"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := withMem(schedtest.CommandTask("stubborn", offer, `trap 'echo got-TERM' TERM; echo ready; while :; do sleep 0.05; done`), 64)
	task.Container = imageContainer()
	const grace = 1500 * time.Millisecond
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(grace))}}
	s.Launch(offer, task)
	waitForState(t, s, "stubborn", mesos.TaskState_TASK_RUNNING)
	waitUntil(t, "the task's trap", 10*time.Second, func() bool {
		return strings.Contains(readSandboxFile(t, offer, s.FrameworkID, "stubborn", "stdout"), "ready")
	})
	killed := time.Now()
	s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{
		TaskId: &mesos.TaskID{Value: proto.String("stubborn")}, AgentId: offer.GetAgentId()}})
	st := waitForState(t, s, "stubborn", mesos.TaskState_TASK_KILLED)
	took := time.Since(killed)
	if took < grace || took > grace+5*time.Second {
		t.Fatalf("TASK_KILLED %v after the kill, want just after the %v grace period", took, grace)
	}
	if !strings.Contains(st.GetMessage(), "SIGKILL") {
		t.Errorf("terminal message %q, want the task SIGKILLed", st.GetMessage())
	}
	if out := readSandboxFile(t, offer, s.FrameworkID, "stubborn", "stdout"); !strings.Contains(out, "got-TERM") {
		t.Errorf("the task never saw SIGTERM:\n%s", out)
	}
	expectNoContainerCgroups(t, root)
}

// TestLaunchGroupSharesTheContainer: two tasks of a group run in the same
// container (one pid namespace, one hostname), each ends with its own
// status, each in its nested sandbox.
func TestLaunchGroupSharesTheContainer(t *testing.T) {
	c, root := linuxAgent(t)
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("group"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	script := `echo "ns=$(readlink /proc/self/ns/pid) host=$(hostname)"`
	first := withMem(schedtest.CommandTask("first", offer, script), 32)
	second := withMem(schedtest.CommandTask("second", offer, script+"; sleep 0.5; exit 3"), 32)
	executor := &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String("group-executor")},
		Resources:  []*mesos.Resource{schedtest.Scalar("cpus", 0.1), schedtest.Scalar("mem", 32), schedtest.Scalar("disk", 10)},
	}
	s.MustCall(&sched.Call{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{
		OfferIds: []*mesos.OfferID{offer.GetId()},
		Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
			LaunchGroup: &mesos.Offer_Operation_LaunchGroup{Executor: executor, TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{first, second}}}}},
	}})
	final := map[string]*mesos.TaskStatus{}
	for len(final) < 2 {
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetState().IsTerminal() {
			final[st.GetTaskId().GetValue()] = st
		}
	}
	if final["first"].GetState() != mesos.TaskState_TASK_FINISHED || final["second"].GetState() != mesos.TaskState_TASK_FAILED {
		t.Fatalf("first %s (%s), second %s (%s); want FINISHED and FAILED", final["first"].GetState(), final["first"].GetMessage(),
			final["second"].GetState(), final["second"].GetMessage())
	}
	outs := map[string]string{}
	for _, id := range []string{"first", "second"} {
		pattern := filepath.Join(c.agents[0].workDir, "slaves", "*", "frameworks", s.FrameworkID, "executors",
			"group-executor", "runs", "latest", "tasks", id, "stdout")
		matches, _ := filepath.Glob(pattern)
		if len(matches) != 1 {
			t.Fatalf("no nested sandbox stdout for %s (%s)", id, pattern)
		}
		b, _ := os.ReadFile(matches[0])
		outs[id] = string(b)
	}
	hostNS, _ := os.Readlink("/proc/self/ns/pid")
	if outs["first"] == "" || outs["first"] != outs["second"] || strings.Contains(outs["first"], hostNS) {
		t.Fatalf("tasks do not share one container of their own:\nfirst:  %q\nsecond: %q\nhost ns %s", outs["first"], outs["second"], hostNS)
	}
	expectNoContainerCgroups(t, root)
}

// TestHTTPHealthCheckKillsAFailingTask: healthy while its endpoint answers
// 200; once it fails, healthy=false updates, then the task is killed and
// the framework sees TASK_KILLED.
func TestHTTPHealthCheckKillsAFailingTask(t *testing.T) {
	var failing atomic.Bool
	port := serveHealth(t, &failing)
	c := startCluster(t, "127.0.0.2")
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("health"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := schedtest.CommandTask("web", offer, "sleep 600")
	task.HealthCheck = &mesos.HealthCheck{
		Type:                mesos.HealthCheck_HTTP.Enum(),
		Http:                &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(port), Path: proto.String("/health")},
		DelaySeconds:        proto.Float64(0),
		IntervalSeconds:     proto.Float64(0.2),
		TimeoutSeconds:      proto.Float64(2),
		GracePeriodSeconds:  proto.Float64(0),
		ConsecutiveFailures: proto.Uint32(2),
	}
	s.Launch(offer, task)
	healthy := waitForState(t, s, "web", mesos.TaskState_TASK_RUNNING)
	for healthy.Healthy == nil {
		healthy = waitForState(t, s, "web", mesos.TaskState_TASK_RUNNING)
	}
	if !healthy.GetHealthy() {
		t.Fatalf("first health update healthy=false")
	}
	failing.Store(true)
	unhealthy := 0
	for {
		st := s.NextUpdate()
		s.Ack(st)
		switch {
		case st.GetState() == mesos.TaskState_TASK_RUNNING && st.Healthy != nil && !st.GetHealthy():
			unhealthy++
		case st.GetState() == mesos.TaskState_TASK_KILLED:
			if unhealthy < 2 || st.GetHealthy() || st.Healthy == nil {
				t.Fatalf("killed after %d unhealthy updates, healthy=%v; want 2 and false", unhealthy, st.Healthy)
			}
			return
		case st.GetState().IsTerminal():
			t.Fatalf("task ended %s (%s)", st.GetState(), st.GetMessage())
		}
	}
}

// serveHealth answers /health on 127.0.0.1 with 200, or 503 once failing.
func serveHealth(t *testing.T, failing *atomic.Bool) uint32 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return uint32(ln.Addr().(*net.TCPAddr).Port)
}

// TestFetcherBringsURIsIntoTheSandbox: an archive served over HTTP is
// extracted, an executable gets its bit, and a 404 fails the task with
// the URI in the message.
func TestFetcherBringsURIsIntoTheSandbox(t *testing.T) {
	files := map[string][]byte{
		"/bundle.tar.gz": tgz(t, map[string]string{"app/hello.sh": "#!/bin/sh\necho hello from the bundle\n"}),
		"/tool":          []byte("#!/bin/sh\necho tool ran\n"),
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	c := startCluster(t, "127.0.0.2")
	s := schedtest.Subscribe(t, c.master, wire.JSON, schedtest.FrameworkInfo("fetch"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	ok := schedtest.CommandTask("fetched", offer, "sh app/hello.sh && ./tool")
	ok.Command.Uris = []*mesos.CommandInfo_URI{
		{Value: proto.String(srv.URL + "/bundle.tar.gz")},
		{Value: proto.String(srv.URL + "/tool"), Executable: proto.Bool(true)},
	}
	missing := srv.URL + "/missing.tar.gz"
	bad := schedtest.CommandTask("unfetched", offer, "true")
	bad.Command.Uris = []*mesos.CommandInfo_URI{{Value: proto.String(missing)}}
	s.Launch(offer, ok, bad)
	final := map[string]*mesos.TaskStatus{}
	for len(final) < 2 {
		st := s.NextUpdate()
		s.Ack(st)
		if st.GetState().IsTerminal() {
			final[st.GetTaskId().GetValue()] = st
		}
	}
	if st := final["fetched"]; st.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("fetched: %s (%s)", st.GetState(), st.GetMessage())
	}
	if out := readSandboxFile(t, offer, s.FrameworkID, "fetched", "stdout"); !strings.Contains(out, "hello from the bundle") ||
		!strings.Contains(out, "tool ran") {
		t.Errorf("stdout %q", out)
	}
	if st := final["unfetched"]; st.GetState() != mesos.TaskState_TASK_FAILED || !strings.Contains(st.GetMessage(), missing) {
		t.Fatalf("unfetched: %s (%s), want TASK_FAILED naming %s", st.GetState(), st.GetMessage(), missing)
	}
}

func tgz(t *testing.T, files map[string]string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

// TestImageCommands: `agora image import`, `list` and `rm` on an agent's
// work dir.
func TestImageCommands(t *testing.T) {
	workDir := t.TempDir()
	layer := imagetest.LayerTar(t, imagetest.Entry{Name: "hello.txt", Body: "hi\n", Type: tar.TypeReg, Mode: 0o644})
	src := filepath.Join(t.TempDir(), "tiny.tar")
	imagetest.WriteDockerSave(t, src, "example/tiny:3", imagetest.Image(t, v1.Config{Cmd: []string{"/hello"}}, layer))
	if out := runAgora(t, "image", "import", "--work_dir", workDir, src); !strings.Contains(out, "imported example/tiny:3") {
		t.Fatalf("import: %s", out)
	}
	if out := runAgora(t, "image", "list", "--work_dir", workDir); !strings.Contains(out, "example/tiny:3") {
		t.Fatalf("list: %s", out)
	}
	runAgora(t, "image", "rm", "--work_dir", workDir, "example/tiny:3")
	if out := runAgora(t, "image", "list", "--work_dir", workDir); strings.Contains(out, "example/tiny") {
		t.Fatalf("list after rm: %s", out)
	}
	if out, err := execAgora("image", "rm", "--work_dir", workDir, "example/tiny:3"); err == nil || !strings.Contains(out, "agora image import") {
		t.Fatalf("rm of a missing image: %v %s", err, out)
	}
}
