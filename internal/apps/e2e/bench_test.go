package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/agent"
	"github.com/agoraproject/agora/internal/apps"
	"github.com/agoraproject/agora/internal/containerizer/fake"
)

// Run with: go test ./internal/apps/e2e -run '^$' -bench DeployAndRestart -benchtime 1x
// Results go in docs/BENCHMARKS.md.

// addFakeAgents starts n agents with the fake containerizer (tasks run at
// once, no processes) on 127.0.0.2..., each with room for 200 instances.
func addFakeAgents(t testing.TB, c *cluster, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		fc := fake.New()
		fakeExecutors(fc)
		ip := fmt.Sprintf("127.0.0.%d", 2+i)
		a, err := agent.New(agent.Config{WorkDir: t.TempDir(), Masters: []string{c.master}, ListenAddr: ip + ":0", Hostname: ip,
			Resources: "cpus:64;mem:65536;disk:65536;ports:[20000-30000]", ExecutorCommand: []string{"/bin/false"},
			Containerizer: fc, RegistrationBackoff: 10 * time.Millisecond, Logger: quietLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { a.Run(ctx) })
		<-a.Ready()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// BenchmarkDeployAndRestart1000 deploys an app of 1,000 instances on 10
// fake-containerizer agents, then rolling-restarts it with the default
// upgrade strategy (1/1: 1,000 new before the old go), and reports both
// durations (until the deployment is gone from /v2/deployments).
func BenchmarkDeployAndRestart1000(b *testing.B) {
	for _, perOffer := range []int{5, 100} {
		b.Run(fmt.Sprintf("max_instances_per_offer=%d", perOffer), func(b *testing.B) {
			benchDeployAndRestart(b, 1000, perOffer)
		})
	}
}

func benchDeployAndRestart(b *testing.B, instances, perOffer int) {
	c := startCluster(b)
	addFakeAgents(b, c, 10)
	s := startApps(b, c, memStore(), func(cfg *apps.Config) { cfg.MaxInstancesPerOffer = perOffer })
	var deploy, restart time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("/bench%d", i)
		i++
		start := time.Now()
		if code := s.call("POST", "/v2/apps", map[string]any{"id": id, "cmd": "run", "instances": instances, "cpus": 0.01, "mem": 1}, nil); code != http.StatusCreated {
			b.Fatalf("POST: %d", code)
		}
		s.deployed(5 * time.Minute)
		deploy += time.Since(start)
		if a := s.app(id); a.TasksRunning != instances {
			b.Fatalf("%d running after the deployment", a.TasksRunning)
		}
		start = time.Now()
		var res marathon.DeploymentResult
		if code := s.call("POST", "/v2/apps"+id+"/restart", nil, &res); code != http.StatusOK {
			b.Fatalf("restart: %d", code)
		}
		s.deployed(5 * time.Minute)
		restart += time.Since(start)
		s.call("DELETE", "/v2/apps"+id, nil, nil)
		s.deployed(5 * time.Minute)
	}
	n := float64(i)
	b.ReportMetric(deploy.Seconds()/n, "deploy-s")
	b.ReportMetric(restart.Seconds()/n, "restart-s")
	b.ReportMetric(float64(instances)*n/deploy.Seconds(), "launches/s")
	fmt.Printf("%d instances, max_instances_per_offer=%d: deploy %.2fs, rolling restart %.2fs\n",
		instances, perOffer, deploy.Seconds()/n, restart.Seconds()/n)
}
