package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// The allocation benchmarks sweep agents × frameworks. Frameworks sit ten to
// a role; every agent is "cpus:16;mem:65536;disk:1048576;ports:[31000-32000]".
//
//	full     one cycle over an idle cluster: every agent is offered
//	quota    the same with a tenth of the roles holding guarantees (30% of the
//	         cluster in all) and limits
//	filters  every agent has refusal filters for five frameworks first
//	decline  steady state: every offer is declined with refuse_seconds 5 and
//	         a cycle runs every second (the declines are not timed)
//
// Run them with: go test -run '^$' -bench Allocate -benchtime 5x ./internal/allocator
var benchAgents = []int{1000, 10000, 50000}

var benchFrameworks = []int{10, 100, 1000}

func BenchmarkAllocate(b *testing.B) {
	for _, scenario := range []string{"full", "quota", "filters", "decline"} {
		for _, agents := range benchAgents {
			for _, fws := range benchFrameworks {
				b.Run(fmt.Sprintf("%s/agents=%d/frameworks=%d", scenario, agents, fws), func(b *testing.B) {
					benchScenario(b, scenario, agents, fws)
				})
			}
		}
	}
}

func benchScenario(b *testing.B, scenario string, agents, fws int) {
	a := benchCluster(b, agents, fws, scenario == "quota")
	now := epoch
	if scenario == "filters" {
		for range 5 {
			declineAll(a, a.Allocate(now), time.Hour, now)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(time.Second)
		offers := a.Allocate(now)
		b.StopTimer()
		if len(offers) == 0 {
			b.Fatal("no offers")
		}
		refuse := time.Duration(0)
		if scenario == "decline" {
			refuse = 5 * time.Second
		}
		declineAll(a, offers, refuse, now)
		b.StartTimer()
	}
}

func benchCluster(b *testing.B, agents, fws int, quota bool) *Allocator {
	b.Helper()
	a := New()
	total := mustResources(b, "cpus:16;mem:65536;disk:1048576;ports:[31000-32000]")
	roles := max(1, fws/10)
	for i := range fws {
		a.AddFramework(fmt.Sprintf("fw%04d", i), Framework{Roles: []string{fmt.Sprintf("role%03d", i%roles)}, Active: true})
	}
	for i := range agents {
		a.AddAgent(fmt.Sprintf("agent%05d", i), Agent{Hostname: "h", Total: total, Active: true}, nil)
	}
	if quota {
		quotaRoles := max(1, roles/10)
		cpus := resources.Scalar(agents*16*3/10/quotaRoles) * resources.ScalarUnit
		for i := range quotaRoles {
			g := resources.QuantitiesFromMap(map[string]resources.Scalar{"cpus": cpus})
			a.SetQuota(fmt.Sprintf("role%03d", i*10), g, Limits{"cpus": 2 * cpus})
		}
	}
	return a
}

func declineAll(a *Allocator, offers []Offer, refuse time.Duration, now time.Time) {
	for _, o := range offers {
		a.Recover(o.FrameworkID, o.AgentID, o.Resources, refuse, now)
	}
}

// BenchmarkDecline is the master's side of the steady state: declining a
// whole cycle of offers (10,000 agents, 100 frameworks) with
// refuse_seconds 5, one cycle a second; ns/decline is per Recover call.
func BenchmarkDecline(b *testing.B) {
	a := benchCluster(b, 10000, 100, false)
	now := epoch
	declines := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		offers := a.Allocate(now)
		b.StartTimer()
		declineAll(a, offers, 5*time.Second, now)
		declines += len(offers)
		now = now.Add(time.Second)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(declines), "ns/decline")
}
