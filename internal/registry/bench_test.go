package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Write throughput on this machine's disk (every entry is fsynced by each
// node), one key per operation. "registrar" merges concurrent callers'
// transactions into shared entries; "apply" proposes one entry per call
// (hashicorp/raft still groups concurrent entries into one disk write).
func BenchmarkWrites(b *testing.B) {
	for _, size := range []int{1, 3} {
		for _, mode := range []struct {
			name        string
			concurrency int
			registrar   bool
		}{
			{"apply/sequential", 1, false},
			{"apply/concurrent=64", 64, false},
			{"registrar/concurrent=64", 64, true},
			{"registrar/concurrent=1024", 1024, true},
		} {
			b.Run(fmt.Sprintf("nodes=%d/%s", size, mode.name), func(b *testing.B) {
				nodes := startCluster(b, size, productionTimings)
				leader := waitLeader(b, nodes)
				write := leader.reg.Apply
				if mode.registrar {
					g := NewRegistrar(leader.reg)
					b.Cleanup(g.Close)
					write = g.Apply
				}
				benchmarkWrites(b, write, mode.concurrency)
			})
		}
	}
}

// productionTimings drops the tests' short Raft timeouts: under full load
// on two cores, a 50 ms leader lease is lost.
func productionTimings(c *Config) {
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 0, 0, 0
}

func benchmarkWrites(b *testing.B, write func(context.Context, ...*Operation) error, concurrency int) {
	var next atomic.Int64
	value := make([]byte, 256)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := write(context.Background(), Put("bench", fmt.Sprint(i), value)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkReregistration10k is the failover case: 10,000 agents each
// updating their record at once, through the Registrar, on three nodes.
func BenchmarkReregistration10k(b *testing.B) {
	const agents = 10000
	nodes := startCluster(b, 3, productionTimings)
	leader := waitLeader(b, nodes)
	g := NewRegistrar(leader.reg)
	b.Cleanup(g.Close)
	for i := range agents {
		if err := g.Apply(context.Background(), AdmitAgent(testAgent(fmt.Sprint("a", i)))); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		before := g.Stats()
		var wg sync.WaitGroup
		for i := range agents {
			wg.Go(func() {
				if err := g.Apply(context.Background(), UpdateAgent(testAgent(fmt.Sprint("a", i)).Info, nil)); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(g.Stats().Entries-before.Entries), "entries/round")
	}
	b.ReportMetric(float64(agents*b.N)/b.Elapsed().Seconds(), "ops/s")
}
