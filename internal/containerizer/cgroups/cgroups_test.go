package cgroups

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/testenv"
)

// fakeTree is a cgroupfs stand-in in a temp dir: plain files, and rmdir
// that removes the control files as the kernel would.
func fakeV2(t *testing.T) (*Hierarchy, string) {
	mount := t.TempDir()
	h := NewV2(mount, "agora")
	h.rmdir = os.RemoveAll
	return h, mount
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestV2AgainstAFakeTree walks the whole v2 code path: controller
// delegation, limits, joining, stats (OOM kills included), destruction.
func TestV2AgainstAFakeTree(t *testing.T) {
	h, mount := fakeV2(t)
	cg, err := h.Create("c1", Limits{CPUs: 0.5, CFSQuota: true, MemoryBytes: 64 << 20, PidsMax: 100})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	dir := filepath.Join(mount, "agora", "c1")
	for file, want := range map[string]string{
		filepath.Join(mount, "cgroup.subtree_control"):          "+cpu +memory +pids",
		filepath.Join(mount, "agora", "cgroup.subtree_control"): "+cpu +memory +pids",
		filepath.Join(dir, "cpu.weight"):                        "20", // 512 shares
		filepath.Join(dir, "cpu.max"):                           "50000 100000",
		filepath.Join(dir, "memory.max"):                        "67108864",
		filepath.Join(dir, "pids.max"):                          "100",
	} {
		if got := read(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if err := cg.AddProcess(4242); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "4242" {
		t.Errorf("cgroup.procs = %q", got)
	}
	write(t, filepath.Join(dir, "cpu.stat"), "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 50\nnr_throttled 20\nthrottled_usec 400000\n")
	write(t, filepath.Join(dir, "memory.current"), "1048576\n")
	write(t, filepath.Join(dir, "memory.stat"), "anon 524288\nfile 4096\n")
	write(t, filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
	write(t, filepath.Join(dir, "pids.current"), "7\n")
	st, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{CPUUser: 2 * time.Second, CPUSystem: time.Second, CPUPeriods: 50, CPUThrottled: 20,
		CPUThrottledTime: 400 * time.Millisecond, MemoryUsage: 1 << 20, MemoryRSS: 512 << 10, MemoryCache: 4096,
		MemoryLimit: 64 << 20, OOMKills: 1, Pids: 7}
	if st != want {
		t.Errorf("Stats = %+v\nwant    %+v", st, want)
	}
	write(t, filepath.Join(dir, "cgroup.procs"), "")
	if err := cg.Destroy(context.Background()); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists", dir)
	}
}

func TestV1AgainstAFakeTree(t *testing.T) {
	base := t.TempDir()
	mounts := map[string]string{}
	for _, c := range []string{"cpu", "cpuacct", "memory", "pids"} {
		mounts[c] = filepath.Join(base, c)
	}
	mounts["cpuacct"] = mounts["cpu"] // co-mounted, as cpu,cpuacct often is
	h := NewV1(mounts, "agora")
	h.rmdir = os.RemoveAll
	cg, err := h.Create("c1", Limits{CPUs: 2, CFSQuota: true, MemoryBytes: 1 << 30, PidsMax: 64})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"cpu/agora/c1/cpu.shares":               "2048",
		"cpu/agora/c1/cpu.cfs_quota_us":         "200000",
		"cpu/agora/c1/cpu.cfs_period_us":        "100000",
		"memory/agora/c1/memory.limit_in_bytes": "1073741824",
		"pids/agora/c1/pids.max":                "64",
	} {
		if got := read(t, filepath.Join(base, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if len(cg.dirs()) != 3 {
		t.Errorf("dirs = %v, want cpu,cpuacct once, memory, pids", cg.dirs())
	}
	write(t, filepath.Join(base, "memory/agora/c1/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	write(t, filepath.Join(base, "cpu/agora/c1/cpuacct.stat"), "user 150\nsystem 50\n")
	st, _ := cg.Stats()
	if st.OOMKills != 2 || st.CPUUser != 1500*time.Millisecond || st.CPUSystem != 500*time.Millisecond {
		t.Errorf("Stats = %+v", st)
	}
}

func TestDetectParsesMountInfo(t *testing.T) {
	mp, fs, opts, ok := parseMountInfo(`35 25 0:30 / /sys/fs/cgroup/cpu\040x rw,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct`)
	if !ok || mp != "/sys/fs/cgroup/cpu x" || fs != "cgroup" || opts != "rw,cpu,cpuacct" {
		t.Fatalf("parseMountInfo = %q %q %q %v", mp, fs, opts, ok)
	}
}

// TestLiveHierarchy runs against this machine's cgroups: a process joins,
// is counted, is killed by Destroy, and nothing is left.
func TestLiveHierarchy(t *testing.T) {
	testenv.RequireRoot(t, "cgroups")
	h, err := Detect("agora-test-" + strings.ReplaceAll(t.Name(), "/", "_"))
	if err != nil {
		t.Fatalf("Detect: %v", err)
	}
	t.Logf("cgroup v%d", h.Version())
	cg, err := h.Create("c1", Limits{CPUs: 0.2, CFSQuota: true, MemoryBytes: 32 << 20, PidsMax: 16})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { removeRoot(t, h) })
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	if err := cg.AddProcess(cmd.Process.Pid); err != nil {
		t.Fatalf("AddProcess: %v", err)
	}
	pids, _ := cg.Pids()
	if len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Pids = %v, want [%d]", pids, cmd.Process.Pid)
	}
	st, err := cg.Stats()
	if err != nil || st.MemoryLimit != 32<<20 || st.Pids != 1 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.Destroy(ctx); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if cg.Exists() {
		t.Fatalf("cgroup still exists")
	}
}

func removeRoot(t *testing.T, h *Hierarchy) {
	if err := h.RemoveRoot(); err != nil {
		t.Error(err)
	}
}
