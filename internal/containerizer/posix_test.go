package containerizer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/testenv"
)

func testSpec(t *testing.T, id string, argv ...string) LaunchSpec {
	t.Helper()
	dir := t.TempDir()
	return LaunchSpec{
		ContainerID: id,
		Sandbox:     dir,
		Argv:        argv,
		Env:         []string{"PATH=/usr/bin:/bin", "GREETING=hello"},
		Stdout:      filepath.Join(dir, "stdout"),
		Stderr:      filepath.Join(dir, "stderr"),
	}
}

// launch starts spec and destroys the container at cleanup.
func launch(t *testing.T, p *Posix, spec LaunchSpec) int {
	t.Helper()
	pid, err := p.Launch(context.Background(), spec)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Destroy(ctx, spec.ContainerID); err != nil {
			t.Errorf("cleanup Destroy: %v", err)
		}
	})
	return pid
}

func wait(t *testing.T, p *Posix, id string) ExitStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := p.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	return st
}

func TestPosixRunsInSandboxWithEnvAndAppendsOutput(t *testing.T) {
	p := NewPosix(nil)
	spec := testSpec(t, "c1", "/bin/sh", "-c", `echo "$GREETING from $(pwd)"; echo oops >&2; exit 3`)
	if err := os.WriteFile(spec.Stdout, []byte("before\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	launch(t, p, spec)
	st := wait(t, p, "c1")
	if !st.Known || !st.WaitStatus.Exited() || st.WaitStatus.ExitStatus() != 3 || st.Destroyed {
		t.Fatalf("status = %+v (%s), want exit 3", st, st)
	}
	out, _ := os.ReadFile(spec.Stdout)
	if want := "before\nhello from " + spec.Sandbox + "\n"; string(out) != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	errOut, _ := os.ReadFile(spec.Stderr)
	if string(errOut) != "oops\n" {
		t.Errorf("stderr = %q", errOut)
	}
	// Wait answers again with the same status.
	if again := wait(t, p, "c1"); again != st {
		t.Errorf("second Wait = %+v, want %+v", again, st)
	}
}

func TestPosixContainerLeadsItsOwnSession(t *testing.T) {
	p := NewPosix(nil)
	pid := launch(t, p, testSpec(t, "c1", "sleep", "30"))
	st, err := readProcStat("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.session != pid {
		t.Errorf("session of %d = %d, want its own (setsid)", pid, st.session)
	}
	if mine := syscall.Getpid(); st.session == mine {
		t.Errorf("container shares the agent's session")
	}
}

func TestPosixDestroyKillsTheWholeGroup(t *testing.T) {
	p := NewPosix(nil)
	spec := testSpec(t, "c1", "/bin/sh", "-c", "sleep 300 & echo $! > child.pid; wait")
	pid := launch(t, p, spec)
	child := waitForPid(t, filepath.Join(spec.Sandbox, "child.pid"))

	usage, err := p.Usage("c1")
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if usage.GetProcesses() != 2 || usage.GetThreads() < 2 || usage.GetMemRssBytes() == 0 || usage.GetTimestamp() == 0 {
		t.Errorf("usage = %v, want 2 processes with rss", usage)
	}

	if err := p.Destroy(context.Background(), "c1"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	st := wait(t, p, "c1")
	if !st.Destroyed || !st.WaitStatus.Signaled() || st.WaitStatus.Signal() != syscall.SIGKILL {
		t.Errorf("status = %+v (%s), want destroyed by SIGKILL", st, st)
	}
	if alive(pid) {
		t.Errorf("leader %d still alive", pid)
	}
	if inSession(child, pid) {
		t.Errorf("child %d survived Destroy", child)
	}
	if err := p.Destroy(context.Background(), "c1"); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestPosixDestroyKillsChildrenInTheirOwnProcessGroups(t *testing.T) {
	p := NewPosix(nil)
	spec := helperSpec(t, "c1", helperLeader)
	pid := launch(t, p, spec)
	child := waitForPid(t, filepath.Join(spec.Sandbox, "child.pid"))
	st, err := readProcStat("/proc", child)
	if err != nil {
		t.Fatal(err)
	}
	if st.session != pid || st.pgrp != child {
		t.Fatalf("child session %d, group %d; want session %d and a group of its own", st.session, st.pgrp, pid)
	}
	for _, proc := range []int{pid, child} {
		if !ignoresSIGTERM(t, proc) {
			t.Fatalf("process %d does not ignore SIGTERM", proc)
		}
	}
	if usage, err := p.Usage("c1"); err != nil || usage.GetProcesses() != 2 {
		t.Errorf("Usage = %v, %v; want both processes of the session", usage, err)
	}

	if err := p.Destroy(context.Background(), "c1"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if st := wait(t, p, "c1"); !st.Destroyed {
		t.Errorf("status = %+v, want destroyed", st)
	}
	if alive(pid) || inSession(child, pid) {
		t.Errorf("after Destroy: leader alive %v, child alive %v", alive(pid), inSession(child, pid))
	}
}

func TestPosixEndOfTheLeaderKillsWhatItLeftBehind(t *testing.T) {
	p := NewPosix(nil)
	// Several containers ending together share the sweeper's rounds.
	specs := map[int]LaunchSpec{}
	for _, id := range []string{"c1", "c2", "c3"} {
		spec := helperSpec(t, id, helperLeaderExits)
		specs[launch(t, p, spec)] = spec
	}
	for pid, spec := range specs {
		st := wait(t, p, spec.ContainerID)
		if !st.Known || st.WaitStatus.ExitStatus() != 0 || st.Destroyed {
			errOut, _ := os.ReadFile(spec.Stderr)
			t.Fatalf("%s: status = %+v (%s), want exit 0; stderr %q", spec.ContainerID, st, st, errOut)
		}
		// The container ended with its first process; what that left
		// behind dies with the sweeper's next round.
		child := waitForPid(t, filepath.Join(spec.Sandbox, "child.pid"))
		deadline := time.Now().Add(5 * time.Second)
		for inSession(child, pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: child %d outlived its container", spec.ContainerID, child)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Then the first process, kept as a zombie to pin the session ID,
		// is reaped.
		for ourZombie(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: first process %d never reaped", spec.ContainerID, pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// ourZombie reports whether pid is an unreaped child of this process.
func ourZombie(pid int) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(os.Getpid())
}

func TestChildExitStatusFromSiginfo(t *testing.T) {
	for _, c := range []struct {
		code, status int32
		want         string
	}{
		{cldExited, 3, "exited with status 3"},
		{cldKilled, int32(syscall.SIGKILL), "terminated by signal killed"},
		{cldDumped, int32(syscall.SIGSEGV), "terminated by signal segmentation fault"},
	} {
		st := childExitStatus(c.code, c.status)
		if !st.Known || st.String() != c.want {
			t.Errorf("childExitStatus(%d, %d) = %+v (%s), want %q", c.code, c.status, st, st, c.want)
		}
	}
	if st := childExitStatus(cldDumped, int32(syscall.SIGSEGV)); !st.WaitStatus.CoreDump() {
		t.Error("a dumped child's status has no core flag")
	}
}

func TestPosixDestroyCatchesProcessesForkedWhileItKills(t *testing.T) {
	p := NewPosix(nil)
	spec := helperSpec(t, "c1", helperForkingLeader)
	pid := launch(t, p, spec)
	waitForPid(t, filepath.Join(spec.Sandbox, "child.pid"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		usage, err := p.Usage("c1")
		if err == nil && usage.GetProcesses() >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the forker did not get going: %v, %v", usage, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.Destroy(context.Background(), "c1"); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if left, err := liveSessionMembers("/proc", pid); err != nil || len(left) > 0 {
		t.Errorf("after Destroy, session %d still has %v (%v)", pid, left, err)
	}
}

// ignoresSIGTERM reads the process's ignored-signal mask.
func ignoresSIGTERM(t *testing.T, pid int) bool {
	t.Helper()
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if hex, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask&(1<<(syscall.SIGTERM-1)) != 0
		}
	}
	t.Fatalf("no SigIgn in /proc/%d/status", pid)
	return false
}

// inSession reports whether pid is alive and still in session sid (so not a
// later process that reused the pid).
func inSession(pid, sid int) bool {
	st, err := readProcStat("/proc", pid)
	return err == nil && st.state != 'Z' && st.session == sid
}

func waitForPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(data), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := readProcStat("/proc", pid)
	return err == nil && st.state != 'Z'
}

func TestPosixUnknownUserIsALaunchError(t *testing.T) {
	p := NewPosix(nil)
	spec := testSpec(t, "c1", "true")
	spec.User = "no-such-user-agora"
	_, err := p.Launch(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), `"no-such-user-agora"`) {
		t.Fatalf("Launch = %v, want an error naming the user", err)
	}
	if _, err := p.Wait(context.Background(), "c1"); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("Wait after failed launch = %v, want ErrUnknownContainer", err)
	}
}

func TestPosixRunsAsUser(t *testing.T) {
	nobody := testenv.Nobody(t, "switching users")
	p := NewPosix(nil)
	spec := testSpec(t, "c1", "/bin/sh", "-c", `id -u; echo "$HOME"; touch written`)
	spec.User = "nobody"
	letAnyoneReach(spec.Sandbox)
	launch(t, p, spec)
	if st := wait(t, p, "c1"); st.WaitStatus.ExitStatus() != 0 {
		errOut, _ := os.ReadFile(spec.Stderr)
		t.Fatalf("status %s, stderr %q", st, errOut)
	}
	out, _ := os.ReadFile(spec.Stdout)
	if want := nobody.Uid + "\n" + nobody.HomeDir + "\n"; string(out) != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	fi, err := os.Stat(filepath.Join(spec.Sandbox, "written"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != nobody.Uid {
		t.Errorf("file owner %d, want %s", uid, nobody.Uid)
	}
}

func TestPosixRecoverAdoptsLiveAndForgetsDead(t *testing.T) {
	first := NewPosix(nil)
	pid := launch(t, first, testSpec(t, "live", "sleep", "300"))

	second := NewPosix(nil) // a restarted agent: the process is not its child
	err := second.Recover(context.Background(), []RecoverSpec{
		{ContainerID: "live", Pid: pid},
		{ContainerID: "dead", Pid: 1 << 22}, // beyond pid_max
	})
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if st := wait(t, second, "dead"); st.Known {
		t.Errorf("dead container status = %+v, want unknown", st)
	}
	if _, err := second.Usage("live"); err != nil {
		t.Errorf("Usage of adopted container: %v", err)
	}
	if err := second.Destroy(context.Background(), "live"); err != nil {
		t.Fatalf("Destroy adopted: %v", err)
	}
	if st := wait(t, second, "live"); !st.Destroyed || st.Known {
		t.Errorf("adopted status = %+v, want destroyed, unknown code", st)
	}
}

func TestParseProcStatHandlesOddCommandNames(t *testing.T) {
	line := "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 12345 1000 77 18446744073709551615\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{state: 'S', pgrp: 42, session: 42, utimeTicks: 250, stimeTicks: 75, threads: 3, rssPages: 77}
	if st != want {
		t.Errorf("parsed %+v, want %+v", st, want)
	}
	if _, err := parseProcStat([]byte("42 (x) S 1")); err == nil {
		t.Error("short stat parsed without error")
	}
}

// BenchmarkSweepOfAnEmptySession is what the end of every container costs:
// the check that its leader left nothing behind.
func BenchmarkSweepOfAnEmptySession(b *testing.B) {
	for b.Loop() {
		if err := killSession(context.Background(), "/proc", 1<<22); err != nil {
			b.Fatal(err)
		}
	}
}

func TestForEachPidListsProcessesOnly(t *testing.T) {
	seen := map[int]bool{}
	if err := forEachPid("/proc", func(pid int) { seen[pid] = true }); err != nil {
		t.Fatal(err)
	}
	if !seen[os.Getpid()] || !seen[1] {
		t.Errorf("listing misses this process or init (%d pids)", len(seen))
	}
	for _, c := range []struct {
		name string
		pid  int
		ok   bool
	}{{"42\x00", 42, true}, {"7\x00\x00\x00", 7, true}, {"self\x00", 0, false}, {"1a\x00", 0, false}, {"\x00", 0, false}} {
		if pid, ok := parsePid([]byte(c.name)); pid != c.pid || ok != c.ok {
			t.Errorf("parsePid(%q) = %d, %v; want %d, %v", c.name, pid, ok, c.pid, c.ok)
		}
	}
}

// TestPosixForgetDropsOnlyEndedContainers: Forget drops a container that
// ended and keeps one that runs.
func TestPosixForgetDropsOnlyEndedContainers(t *testing.T) {
	p := NewPosix(nil)
	if _, err := p.Launch(context.Background(), testSpec(t, "done", "true")); err != nil {
		t.Fatal(err)
	}
	launch(t, p, testSpec(t, "running", "sleep", "600"))
	wait(t, p, "done")
	p.Forget("done")
	p.Forget("running")
	if _, err := p.Wait(context.Background(), "done"); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("Wait after Forget of an ended container: %v, want ErrUnknownContainer", err)
	}
	if _, err := p.Usage("running"); err != nil {
		t.Errorf("a running container was forgotten: %v", err)
	}
}

// TestReopenOutputAppendsAsTheUser: reopened output files are appended
// to, and one a task removed comes back owned by the task's user.
func TestReopenOutputAppendsAsTheUser(t *testing.T) {
	spec, nobody := nobodySpec(t)
	out, err := OpenOutput(spec)
	if err != nil {
		t.Fatal(err)
	}
	out.Stderr.WriteString("first\n")
	out.Close()
	if err := os.Remove(spec.Stdout); err != nil {
		t.Fatal(err)
	}

	again, err := out.Reopen(spec)
	if err != nil {
		t.Fatal(err)
	}
	again.Stderr.WriteString("second\n")
	again.Close()
	if data, _ := os.ReadFile(spec.Stderr); string(data) != "first\nsecond\n" {
		t.Errorf("stderr = %q, want both writes", data)
	}
	fi, err := os.Stat(spec.Stdout)
	if err != nil {
		t.Fatalf("stdout not made again: %v", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != nobody.Uid {
		t.Errorf("stdout owner %d, want %s", uid, nobody.Uid)
	}
}

// TestReopenOutputRefusesTheUsersSymlink: a task that replaced its stdout
// with a symlink to a file of root's does not get the next task's output
// appended there, nor the file given to it.
func TestReopenOutputRefusesTheUsersSymlink(t *testing.T) {
	spec, _ := nobodySpec(t)
	out, err := OpenOutput(spec)
	if err != nil {
		t.Fatal(err)
	}
	out.Close()
	private := filepath.Join(filepath.Dir(spec.Sandbox), "private")
	if err := os.WriteFile(private, []byte("root's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(spec.Stdout)
	if err := os.Symlink(private, spec.Stdout); err != nil {
		t.Fatal(err)
	}
	if again, err := out.Reopen(spec); err == nil {
		again.Close()
		t.Fatal("Reopen followed the user's symlink to a file only root may write")
	}
	fi, err := os.Stat(private)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(private); string(data) != "root's\n" || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("root's file was changed: %q, owner %d", data, fi.Sys().(*syscall.Stat_t).Uid)
	}
}

// nobodySpec is a container spec run as nobody, whose sandbox nobody can
// reach; it needs root.
func nobodySpec(t *testing.T) (LaunchSpec, *user.User) {
	t.Helper()
	nobody := testenv.Nobody(t, "giving files to another user")
	spec := testSpec(t, "c1", "/bin/true")
	spec.User = "nobody"
	letAnyoneReach(spec.Sandbox)
	return spec, nobody
}

// letAnyoneReach opens the test's temp directories (0700) down to dir to
// everyone, so that a task user can reach its sandbox.
func letAnyoneReach(dir string) {
	for d := dir; d != "/" && strings.HasPrefix(d, os.TempDir()); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
}
