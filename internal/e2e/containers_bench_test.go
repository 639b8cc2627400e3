package e2e

import (
	"os/exec"
	"strconv"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// BenchmarkContainerLaunch measures ACCEPT→TASK_RUNNING of one `sleep 0.05`
// task at a time on one agent, for each way of running it, and reports
// p50/p99. Run with:
//
//	go test ./internal/e2e -run '^$' -bench ContainerLaunch -benchtime 100x
//
// posix and fork-exec run anywhere; linux and linux-image need root and
// busybox-static; docker needs a Docker Engine. Results go in
// docs/BENCHMARKS.md.
func BenchmarkContainerLaunch(b *testing.B) {
	b.Run("fork-exec", benchForkExec)
	b.Run("posix", func(b *testing.B) {
		measureLaunches(b, startCluster(b, "127.0.0.2"), nil)
	})
	b.Run("linux", func(b *testing.B) {
		c, _ := linuxAgent(b)
		measureLaunches(b, c, nil)
	})
	b.Run("linux-image", func(b *testing.B) {
		c, _ := linuxAgent(b)
		measureLaunches(b, c, imageContainer())
	})
	b.Run("docker", func(b *testing.B) {
		e := requireDocker(b)
		loadBusybox(b, e)
		c := startCluster(b)
		c.agents = append(c.agents, c.startAgent(b, "agent1", "127.0.0.2", b.TempDir(), "--containerizers=docker,mesos"))
		measureLaunches(b, c, dockerContainer())
	})
}

// benchForkExec is the floor: starting the same command as a bare child
// process, from exec to a running process.
func benchForkExec(b *testing.B) {
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command("sleep", "0.05")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		cmd.Wait()
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// measureLaunches launches one task per iteration and waits for its
// TASK_RUNNING, then for its end before the next.
func measureLaunches(b *testing.B, c *cluster, container *mesos.ContainerInfo) {
	s := schedtest.Subscribe(b, c.master, wire.Protobuf, schedtest.FrameworkInfo("bench-containers"))
	var lat []time.Duration
	var offers []*mesos.Offer
	i := 0
	for b.Loop() {
		if len(offers) == 0 {
			offers = s.Next(sched.Event_OFFERS).GetOffers().GetOffers()
		}
		offer := offers[0]
		offers = offers[1:]
		id := "launch-" + strconv.Itoa(i)
		i++
		task := shortTask(id, offer, "sleep 0.05")
		task.Resources = []*mesos.Resource{schedtest.Scalar("cpus", 0.1), schedtest.Scalar("mem", 64)}
		task.Container = container
		start := time.Now()
		accept(b, s, offer, []*mesos.TaskInfo{task})
		for {
			st := s.NextUpdate()
			s.Ack(st)
			if st.GetTaskId().GetValue() != id {
				continue
			}
			if st.GetState() == mesos.TaskState_TASK_RUNNING {
				lat = append(lat, time.Since(start))
			}
			if st.GetState().IsTerminal() {
				if st.GetState() != mesos.TaskState_TASK_FINISHED {
					b.Fatalf("task %s ended %s: %s", id, st.GetState(), st.GetMessage())
				}
				break
			}
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}
