package linux

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/cgroups"
	"github.com/agoraproject/agora/internal/testenv"
)

// The test binary is its own container init: the launcher runs it as
// `<test binary> container-init`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "container-init" {
		os.Exit(Init())
	}
	os.Exit(m.Run())
}

// cgroupRoot is the test's own cgroup sub-tree, removed at cleanup.
const cgroupRoot = "agora-test-linux"

// newTestContainerizer returns a containerizer with cgroups whose
// cleanup checks that no container cgroup is left and removes the root.
func newTestContainerizer(t *testing.T, mod func(*Config)) *Containerizer {
	t.Helper()
	testenv.RequireRoot(t, "namespaces and cgroups")
	h, err := cgroups.Detect(cgroupRoot)
	if err != nil {
		t.Fatalf("cgroups: %v", err)
	}
	cfg := Config{InitCommand: []string{os.Args[0], "container-init"}, Cgroups: h, PidsMax: 256}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.RemoveRoot(); err != nil {
			t.Errorf("cgroups left behind: %v", err)
		}
	})
	return c
}

func mem(mb float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(mb)}}
}

func cpus(n float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(n)}}
}

func shellSpec(t *testing.T, id, script string) containerizer.LaunchSpec {
	dir := t.TempDir()
	return containerizer.LaunchSpec{
		ContainerID: id,
		Sandbox:     dir,
		Argv:        []string{"/bin/sh", "-c", script},
		Env:         []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Stdout:      filepath.Join(dir, "stdout"),
		Stderr:      filepath.Join(dir, "stderr"),
		Resources:   []*mesos.Resource{cpus(1), mem(64)},
	}
}

func launch(t *testing.T, c *Containerizer, spec containerizer.LaunchSpec) {
	t.Helper()
	if _, err := c.Launch(context.Background(), spec); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.Destroy(ctx, spec.ContainerID); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
	})
}

func waitEnd(t *testing.T, c *Containerizer, id string) containerizer.ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNamespacesAndInit: the first process is PID 1's child in a pid
// namespace of its own, with its own hostname and the container's /proc.
func TestNamespacesAndInit(t *testing.T) {
	c := newTestContainerizer(t, nil)
	spec := shellSpec(t, "ns1", `echo "pid=$$ ppid=$PPID host=$(hostname) ns=$(readlink /proc/self/ns/pid) procs=$(ls -d /proc/[0-9]* | wc -l)"`)
	launch(t, c, spec)
	st := waitEnd(t, c, "ns1")
	if !st.Known || st.WaitStatus.ExitStatus() != 0 {
		t.Fatalf("status %s; stderr %s", st, readFile(t, spec.Stderr))
	}
	out := readFile(t, spec.Stdout)
	hostNS, _ := os.Readlink("/proc/self/ns/pid")
	if strings.HasPrefix(out, "pid=1 ") {
		t.Errorf("the first process is PID 1, want the init's child: %q", out)
	}
	for _, want := range []string{"ppid=1 ", "host=ns1 "} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "ns="+hostNS) {
		t.Errorf("the container shares the host's pid namespace: %q", out)
	}
}

// TestBuiltinExecutorIsPID1: a built-in executor is exec'd as PID 1.
func TestBuiltinExecutorIsPID1(t *testing.T) {
	c := newTestContainerizer(t, nil)
	spec := shellSpec(t, "pid1", `echo "pid=$$"`)
	spec.BuiltinExecutor = true
	launch(t, c, spec)
	waitEnd(t, c, "pid1")
	if out := readFile(t, spec.Stdout); !strings.Contains(out, "pid=1\n") {
		t.Fatalf("output %q, want pid=1", out)
	}
}

// TestMemoryHogIsAContainerLimitation: beyond its memory limit the
// container is OOM-killed, and its end says so.
func TestMemoryHogIsAContainerLimitation(t *testing.T) {
	c := newTestContainerizer(t, nil)
	spec := shellSpec(t, "hog", `dd if=/dev/zero of=/dev/null bs=256M count=1`)
	spec.Resources = []*mesos.Resource{cpus(1), mem(32)}
	launch(t, c, spec)
	st := waitEnd(t, c, "hog")
	if st.Limitation == nil || st.Limitation.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY {
		t.Fatalf("status %s (limitation %+v), want a memory limitation; stderr %s", st, st.Limitation, readFile(t, spec.Stderr))
	}
}

// TestForkBombIsHeldByThePidsLimit: a fork bomb stays within the pids
// limit while this process can still fork, and Destroy ends it all.
func TestForkBombIsHeldByThePidsLimit(t *testing.T) {
	c := newTestContainerizer(t, func(cfg *Config) { cfg.PidsMax = 32 })
	spec := shellSpec(t, "bomb", `bomb() { bomb | bomb & }; bomb; exec sleep 600`)
	launch(t, c, spec)
	deadline := time.Now().Add(2 * time.Second)
	peak := uint32(0)
	for time.Now().Before(deadline) {
		if u, err := c.Usage("bomb"); err == nil {
			peak = max(peak, u.GetProcesses())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if peak == 0 || peak > 32 {
		t.Fatalf("peak processes %d, want 1..32", peak)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Fatalf("the host cannot fork during the bomb: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Destroy(ctx, "bomb"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if st := waitEnd(t, c, "bomb"); !st.Destroyed {
		t.Fatalf("status %+v, want destroyed", st)
	}
}

// TestCPUQuotaThrottles: a busy loop in a 0.1 cpu container with a CFS
// quota gets about a tenth of a cpu, and the kernel says it throttled it.
func TestCPUQuotaThrottles(t *testing.T) {
	c := newTestContainerizer(t, func(cfg *Config) { cfg.CFSQuota = true })
	spec := shellSpec(t, "busy", `while :; do :; done`)
	spec.Resources = []*mesos.Resource{cpus(0.1), mem(64)}
	launch(t, c, spec)
	start := time.Now()
	time.Sleep(1500 * time.Millisecond)
	u, err := c.Usage("busy")
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start).Seconds()
	used := u.GetCpusUserTimeSecs() + u.GetCpusSystemTimeSecs()
	t.Logf("cpu %.2fs over %.2fs wall; throttled %d of %d periods", used, wall, u.GetCpusNrThrottled(), u.GetCpusNrPeriods())
	if u.GetCpusNrThrottled() == 0 || used > 0.3*wall {
		t.Fatalf("not throttled: %.2fs cpu in %.2fs, %d throttled periods", used, wall, u.GetCpusNrThrottled())
	}
}

// TestDestroyLeavesNothing: after Destroy, no process of the container
// lives and its cgroups are gone.
func TestDestroyLeavesNothing(t *testing.T) {
	c := newTestContainerizer(t, nil)
	spec := shellSpec(t, "d1", `sleep 600 & sleep 600 & echo started; wait`)
	pid, err := c.Launch(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	cg := c.cfg.Cgroups.Open("d1")
	waitFor(t, "three processes", func() bool { pids, _ := cg.Pids(); return len(pids) >= 3 })
	pids, _ := cg.Pids()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Destroy(ctx, "d1"); err != nil {
		t.Fatal(err)
	}
	if cg.Exists() {
		t.Fatalf("cgroup still exists")
	}
	for _, p := range append(pids, pid) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err == nil {
			if b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); strings.Contains(string(b), ") Z") {
				continue
			}
			t.Errorf("process %d still alive", p)
		}
	}
}

// TestRecoverDestroysUnknownCgroups: a restarted agent's containerizer
// adopts the containers it is told about and destroys the cgroups, and
// the processes, of any other container under its root.
func TestRecoverDestroysUnknownCgroups(t *testing.T) {
	before := newTestContainerizer(t, nil)
	keptPid, err := before.Launch(context.Background(), shellSpec(t, "kept", `sleep 600`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.Launch(context.Background(), shellSpec(t, "stale", `sleep 600`)); err != nil {
		t.Fatal(err)
	}
	stale := before.cfg.Cgroups.Open("stale")
	waitFor(t, "the stale container's processes", func() bool { pids, _ := stale.Pids(); return len(pids) >= 2 })

	after := newTestContainerizer(t, nil)
	if err := after.Recover(context.Background(), []containerizer.RecoverSpec{{ContainerID: "kept", Pid: keptPid}}); err != nil {
		t.Fatal(err)
	}
	if stale.Exists() {
		t.Fatal("the unknown container's cgroup was not destroyed")
	}
	waitEnd(t, before, "stale")
	if syscall.Kill(keptPid, 0) != nil {
		t.Fatal("the recovered container was killed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := after.Destroy(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, before, "kept")
}

// TestSetupFailureFailsTheLaunch: a program that does not exist fails
// Launch with the init's message, and nothing is left.
func TestSetupFailureFailsTheLaunch(t *testing.T) {
	c := newTestContainerizer(t, nil)
	spec := shellSpec(t, "bad", "")
	spec.Argv = []string{"/no/such/program"}
	_, err := c.Launch(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "/no/such/program") {
		t.Fatalf("Launch = %v, want an error naming the program", err)
	}
	waitEnd(t, c, "bad")
	if c.cfg.Cgroups.Open("bad").Exists() {
		t.Fatalf("cgroup left behind")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNetworkNamespaceOnRequest: a container whose ContainerInfo names a
// network gets a network namespace with only loopback, up; others share
// the host's.
func TestNetworkNamespaceOnRequest(t *testing.T) {
	c := newTestContainerizer(t, nil)
	script := `ls /sys/class/net | tr '\n' ' '; cat /sys/class/net/lo/flags`
	isolated := shellSpec(t, "net1", script)
	isolated.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(),
		NetworkInfos: []*mesos.NetworkInfo{{Name: proto.String("isolated")}}}
	shared := shellSpec(t, "net2", script)
	launch(t, c, isolated)
	launch(t, c, shared)
	waitEnd(t, c, "net1")
	waitEnd(t, c, "net2")
	hostIfaces, _ := os.ReadDir("/sys/class/net")
	if out := readFile(t, isolated.Stdout); out != "lo 0x9\n" {
		t.Errorf("isolated container sees %q, want lo only, up (flags 0x9)", out)
	}
	if out := readFile(t, shared.Stdout); len(hostIfaces) > 1 && strings.HasPrefix(out, "lo 0x") {
		t.Errorf("host-network container sees %q, want the host's %d interfaces", out, len(hostIfaces))
	}
}
