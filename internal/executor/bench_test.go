package executor

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// BenchmarkLaunchToRunning measures, in process, the time from the agent
// writing LAUNCH to it receiving TASK_RUNNING, and the whole short task.
func BenchmarkLaunchToRunning(b *testing.B) {
	a := newFakeAgent(b)
	quiet := func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) }
	var toRunning, toDone []time.Duration
	for b.Loop() {
		e := startExecutor(b, a, quiet)
		a.nextSubscribe()
		launched := time.Now()
		a.launch(shellTask("task-1", "true"))
		running := nextUpdateOf(b, a, mesos.TaskState_TASK_RUNNING)
		nextUpdateOf(b, a, mesos.TaskState_TASK_FINISHED)
		if err := e.result(b); err != nil {
			b.Fatal(err)
		}
		toRunning = append(toRunning, running.Sub(launched))
		toDone = append(toDone, time.Since(launched))
	}
	reportPercentiles(b, "launch→running", toRunning)
	reportPercentiles(b, "launch→exit", toDone)
}

// BenchmarkExecutorProcess runs the real `agora executor` process:
//
//	go build -o /tmp/agora ./cmd/agora
//	AGORA_BIN=/tmp/agora go test -run - -bench ExecutorProcess ./internal/executor
//
// It reports process start → SUBSCRIBE received, LAUNCH → RUNNING received,
// process start → process exit for a `true` task, and the CPU time the
// executor and its task used.
func BenchmarkExecutorProcess(b *testing.B) {
	bin := os.Getenv("AGORA_BIN")
	if bin == "" {
		b.Skip("set AGORA_BIN to a built agora binary (go build -o /tmp/agora ./cmd/agora)")
	}
	a := newFakeAgent(b)
	var toSubscribe, toRunning, total, cpu []time.Duration
	for b.Loop() {
		dir := b.TempDir()
		cmd := exec.Command(bin, "executor")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = createFile(b, dir, "stdout"), createFile(b, dir, "stderr")
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"),
			"MESOS_FRAMEWORK_ID=" + testFrameworkID,
			"MESOS_EXECUTOR_ID=" + testExecutorID,
			"MESOS_SLAVE_ID=" + testAgentID,
			"MESOS_AGENT_ENDPOINT=" + a.endpoint(),
			"MESOS_DIRECTORY=" + dir,
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sub := a.nextSubscribe()
		launched := time.Now()
		a.launch(shellTask("task-1", "true"))
		running := nextUpdateOf(b, a, mesos.TaskState_TASK_RUNNING)
		nextUpdateOf(b, a, mesos.TaskState_TASK_FINISHED)
		if err := cmd.Wait(); err != nil {
			logs, _ := os.ReadFile(filepath.Join(dir, "stderr"))
			b.Fatalf("executor: %v\n%s", err, logs)
		}
		toSubscribe = append(toSubscribe, sub.at.Sub(start))
		toRunning = append(toRunning, running.Sub(launched))
		total = append(total, time.Since(start))
		cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	reportPercentiles(b, "start→subscribe", toSubscribe)
	reportPercentiles(b, "launch→running", toRunning)
	reportPercentiles(b, "start→exit", total)
	reportPercentiles(b, "executor-cpu", cpu)
}

// nextUpdateOf skips updates until one in state arrives and returns when it
// arrived.
func nextUpdateOf(tb testing.TB, a *fakeAgent, state mesos.TaskState) time.Time {
	tb.Helper()
	for {
		r := recv(tb, a.updates, state.String())
		if r.call.GetUpdate().GetStatus().GetState() == state {
			return r.at
		}
	}
}

func reportPercentiles(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), name+"-p50-ms")
	b.ReportMetric(at(0.99), name+"-p99-ms")
}

// BenchmarkShellTrueFloor is the floor under every short command task:
// fork/exec of `/bin/sh -c true` in a session of its own and its wait,
// with the CPU it costs the child (the shell's start, run and exit) and
// the parent, from getrusage.
func BenchmarkShellTrueFloor(b *testing.B) {
	var self0, self1, kids0, kids1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
	n := 0
	for b.Loop() {
		cmd := exec.Command("/bin/sh", "-c", "true")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
	cpu := func(a, z syscall.Rusage) float64 {
		return float64(z.Utime.Nano()-a.Utime.Nano()+z.Stime.Nano()-a.Stime.Nano()) / 1e6 / float64(n)
	}
	b.ReportMetric(cpu(kids0, kids1), "child-cpu-ms/op")
	b.ReportMetric(cpu(self0, self1), "parent-cpu-ms/op")
}
