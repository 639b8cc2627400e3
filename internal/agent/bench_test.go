package agent

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/protocol"
)

// benchWorkDirs are the file systems the benchmarks run on: the test temp
// dir (the machine's disk) and tmpfs, where creating files is ~50x cheaper
// on the reference VM.
func benchWorkDirs(b *testing.B) map[string]func() string {
	dirs := map[string]func() string{"disk": b.TempDir}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dirs["tmpfs"] = func() string {
			d, err := os.MkdirTemp("/dev/shm", "agent-bench")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return dirs
}

func benchAgent(b *testing.B, workDir string) *fakeMaster {
	m := newFakeMaster(b)
	m.setAutoAck(true)
	startAgent(b, Config{
		WorkDir:         workDir,
		Masters:         []string{m.addr()},
		Containerizer:   newPosixForTest(b),
		ExecutorCommand: []string{testExecutorPath},
	})
	m.nextSubscribe(wait)
	return m
}

// BenchmarkRunTaskToRunning measures one task at a time from RUN_TASK
// leaving the master to its TASK_RUNNING arriving there: sandbox, launch
// of the test executor, SUBSCRIBE, LAUNCH, STARTING (checkpointed, acked),
// RUNNING.
func BenchmarkRunTaskToRunning(b *testing.B) {
	for name, dir := range benchWorkDirs(b) {
		for _, checkpoint := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/checkpoint=%v", name, checkpoint), func(b *testing.B) {
				m := benchAgent(b, dir())
				fw := testFramework("fw")
				fw.Checkpoint = &checkpoint
				var lat []time.Duration
				for i := 0; b.Loop(); i++ {
					id := fmt.Sprintf("t%d", i)
					start := time.Now()
					m.send(runTaskEvent(fw, commandTask(id, "finish")))
					waitForState(b, m, id, mesos.TaskState_TASK_RUNNING)
					lat = append(lat, time.Since(start))
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

// waitForState consumes calls until task id reports state.
func waitForState(b *testing.B, m *fakeMaster, id string, state mesos.TaskState) {
	for {
		c := m.nextCall(wait)
		if u := c.GetUpdate(); c.GetType() == protocol.AgentCall_UPDATE &&
			u.GetStatus().GetTaskId().GetValue() == id && u.GetStatus().GetState() == state {
			return
		}
	}
}

// BenchmarkTaskThroughput carries `true` tasks from RUN_TASK to an
// acknowledged TASK_FINISHED, keeping up to 32 in flight.
func BenchmarkTaskThroughput(b *testing.B) {
	const window = 32
	for name, dir := range benchWorkDirs(b) {
		for _, checkpoint := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/checkpoint=%v", name, checkpoint), func(b *testing.B) {
				m := benchAgent(b, dir())
				fw := testFramework("fw")
				fw.Checkpoint = &checkpoint
				start, cpu := time.Now(), processCPU()
				sent, finished := 0, 0
				for ; sent < min(window, b.N); sent++ {
					m.send(runTaskEvent(fw, commandTask(fmt.Sprint("t", sent), "exec true")))
				}
				for finished < b.N {
					c := m.nextCall(wait)
					if u := c.GetUpdate(); u != nil && u.GetStatus().GetState().IsTerminal() {
						if u.GetStatus().GetState() != mesos.TaskState_TASK_FINISHED {
							b.Fatalf("task ended %v", u.GetStatus())
						}
						finished++
						if sent < b.N {
							m.send(runTaskEvent(fw, commandTask(fmt.Sprint("t", sent), "exec true")))
							sent++
						}
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
				// The agent's CPU, with the fake master's and this loop's
				// (small) but not the executors' (child processes).
				b.ReportMetric(float64((processCPU()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/task")
			})
		}
	}
}

// processCPU is the user+system CPU time of this process, children aside.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
