package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/containerizer/hosted"
	"github.com/agoraproject/agora/internal/schedtest"
)

// Run with: go test ./internal/e2e -run '^$' -bench . -benchtime 100x
// Results go in docs/BENCHMARKS.md.

// BenchmarkAcceptToRunning measures, on one agent, the latency from ACCEPT
// to TASK_RUNNING of one command task at a time (each iteration is one
// launch), and reports p50/p99.
func BenchmarkAcceptToRunning(b *testing.B) {
	c := startCluster(b, "127.0.0.2")
	s := schedtest.Subscribe(b, c.master, wire.Protobuf, schedtest.FrameworkInfo("bench-latency"))
	var lat []time.Duration
	var offers []*mesos.Offer
	i := 0
	for b.Loop() {
		if len(offers) == 0 {
			offers = s.Next(sched.Event_OFFERS).GetOffers().GetOffers()
		}
		offer := offers[0]
		offers = offers[1:]
		id := "lat-" + strconv.Itoa(i)
		i++
		start := time.Now()
		accept(b, s, offer, []*mesos.TaskInfo{shortTask(id, offer, "sleep 0.05")})
		for {
			st := s.NextUpdate()
			s.Ack(st)
			if st.GetTaskId().GetValue() == id && st.GetState() == mesos.TaskState_TASK_RUNNING {
				lat = append(lat, time.Since(start))
				break
			}
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// BenchmarkShortTasks measures the rate of `true` tasks carried from ACCEPT
// to an acknowledged TASK_FINISHED on one agent, launching as many as each
// offer holds. Each iteration is one task. "host" runs the command
// executors in the agent's executor host (the default), "process" starts
// an executor process per task (--executor_host=false), as Mesos does.
func BenchmarkShortTasks(b *testing.B) {
	for _, mode := range []struct {
		name  string
		flags []string
	}{{"host", nil}, {"process", []string{"--executor_host=false"}}} {
		b.Run(mode.name, func(b *testing.B) { benchShortTasks(b, mode.flags) })
	}
}

func benchShortTasks(b *testing.B, agentFlags []string) {
	c := startClusterWith(b, nil)
	agentDir := b.TempDir()
	c.agents = append(c.agents, c.startAgent(b, "agent1", "127.0.0.2", agentDir, agentFlags...))
	s := schedtest.Subscribe(b, c.master, wire.Protobuf, schedtest.FrameworkInfo("bench-rate"))
	launched, finished := 0, 0
	start, cpuStart := time.Now(), machineCPUSeconds()
	for finished < b.N {
		ev := s.Next(sched.Event_OFFERS, sched.Event_UPDATE)
		switch ev.GetType() {
		case sched.Event_OFFERS:
			for _, offer := range ev.GetOffers().GetOffers() {
				if fits(offer) == 0 || launched == b.N {
					// As a real framework would: refuse what cannot be
					// used; resources freed later are offered anyway.
					s.Decline(5, offer)
					continue
				}
				var tasks []*mesos.TaskInfo
				for n := 0; n < fits(offer) && launched < b.N; n++ {
					tasks = append(tasks, shortTask("rate-"+strconv.Itoa(launched), offer, "true"))
					launched++
				}
				accept(b, s, offer, tasks)
			}
		case sched.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			s.Ack(st)
			if st.GetState() == mesos.TaskState_TASK_FINISHED {
				finished++
			} else if st.GetState().IsTerminal() {
				id := st.GetTaskId().GetValue()
				b.Fatalf("task %s ended %v: %s\nexecutor's stderr:\n%s", id, st.GetState(), st.GetMessage(), executorStderr(agentDir, id))
			}
		}
	}
	perTask := func(seconds float64) float64 { return seconds * 1000 / float64(finished) }
	b.ReportMetric(float64(finished)/time.Since(start).Seconds(), "tasks/s")
	b.ReportMetric(perTask(machineCPUSeconds()-cpuStart), "machine-cpu-ms/task")
	b.ReportMetric(perTask(cpuSeconds(c.masterProc.cmd.Process.Pid)), "master-cpu-ms/task")
	b.ReportMetric(perTask(cpuSeconds(c.agents[0].proc.cmd.Process.Pid)), "agent-cpu-ms/task")
	if pid := executorHostPid(agentDir); pid != 0 {
		b.ReportMetric(perTask(cpuSeconds(pid)), "host-cpu-ms/task")
	}
	m := masterMetrics(b, c.master)
	b.ReportMetric(m["master/offers_sent"]/float64(finished), "offers/task")
	b.ReportMetric(float64(callRetries(agentDir)), "call-retries")
}

// callRetries counts the executors' calls that failed and were sent
// again, from their logs in the sandboxes under an agent's work directory.
func callRetries(workDir string) int {
	files, _ := filepath.Glob(filepath.Join(workDir, "slaves", "*", "frameworks", "*", "executors", "*", "runs", "*", "stderr"))
	n := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		n += strings.Count(string(data), "call failed; trying again")
	}
	return n
}

// machineCPUSeconds is the CPU time all processes have used (the first
// line of /proc/stat: everything but idle and iowait), in seconds.
func machineCPUSeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	var total float64
	for i, f := range strings.Fields(line)[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		v, _ := strconv.ParseFloat(f, 64)
		total += v
	}
	return total / 100
}

// executorStderr is the stderr file of the command executor of task id
// (its executor has the task's ID) under an agent's work directory.
func executorStderr(workDir, id string) string {
	files, _ := filepath.Glob(filepath.Join(workDir, "slaves", "*", "frameworks", "*", "executors", id, "runs", "latest", "stderr"))
	var out strings.Builder
	for _, f := range files {
		data, _ := os.ReadFile(f)
		out.Write(data)
	}
	return out.String()
}

// executorHostPid is the pid of the executor host of the agent whose work
// directory is workDir, 0 if none runs.
func executorHostPid(workDir string) int {
	pids := processesWithEnv(hosted.EnvHost + "=" + workDir)
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}

func masterMetrics(b testing.TB, master string) map[string]float64 {
	resp, err := http.Get("http://" + master + "/metrics/snapshot")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		b.Fatal(err)
	}
	return out
}

// cpuSeconds is the user+system CPU time a running process has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

// tasksPerOffer caps the short tasks launched from one offer: how many
// start at once.
var tasksPerOffer = flag.Int("tasks_per_offer", 200, "BenchmarkShortTasks: most tasks launched from one offer")

// fits is how many short tasks (0.01 cpus, 4 MB) an offer holds, at most
// -tasks_per_offer.
func fits(offer *mesos.Offer) int {
	var cpus, mem float64
	for _, r := range offer.GetResources() {
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	return min(*tasksPerOffer, int(cpus/0.01+1e-9), int(mem/4))
}

func shortTask(id string, offer *mesos.Offer, cmd string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   offer.GetAgentId(),
		Resources: []*mesos.Resource{schedtest.Scalar("cpus", 0.01), schedtest.Scalar("mem", 4)},
		Command:   &mesos.CommandInfo{Value: proto.String(cmd)},
	}
}

// accept launches tasks on an offer without filtering what is left, so the
// rest is offered again at once.
func accept(b testing.TB, s *schedtest.Scheduler, offer *mesos.Offer, tasks []*mesos.TaskInfo) {
	s.MustCall(&sched.Call{
		Type: sched.Call_ACCEPT.Enum(),
		Accept: &sched.Call_Accept{
			OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{{
				Type:   mesos.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks},
			}},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)},
		},
	})
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	fmt.Printf("ACCEPT→RUNNING over %d launches: p50 %s p99 %s max %s\n", len(lat), pct(0.5), pct(0.99), lat[len(lat)-1])
}
