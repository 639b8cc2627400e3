package apps

import (
	"net/http"

	"github.com/agoraproject/agora/api/marathon"
)

// metrics are loop-owned counters.
type metrics struct {
	statusUpdates, offers, launched, revives, suppresses int64
	deployments, rollbacks, unhealthyKills               int64
}

// getMetrics is GET /metrics in Dropwizard's JSON layout.
func (f *Framework) getMetrics(w http.ResponseWriter, r *http.Request) (any, error) {
	out := marathon.Metrics{Version: "4.0.0", Counters: map[string]marathon.MetricCount{}, Gauges: map[string]marathon.MetricValue{},
		Histograms: map[string]marathon.MetricHistogram{}, Meters: map[string]marathon.MetricMeter{}, Timers: map[string]marathon.MetricHistogram{}}
	err := f.do(r.Context(), func() error {
		m := f.metrics
		for name, v := range map[string]int64{
			"marathon.mesos.task-updates.counter":            m.statusUpdates,
			"marathon.mesos.offers.incoming.counter":         m.offers,
			"marathon.tasks.launched.counter":                m.launched,
			"marathon.mesos.calls.revive.counter":            m.revives,
			"marathon.mesos.calls.suppress.counter":          m.suppresses,
			"marathon.deployments.counter":                   m.deployments,
			"marathon.deployments.rollbacks.counter":         m.rollbacks,
			"marathon.health-checks.unhealthy-kills.counter": m.unhealthyKills,
		} {
			out.Counters[name] = marathon.MetricCount{Count: v}
		}
		running, staged := 0, 0
		for _, in := range f.instances {
			switch taskState(in) {
			case "TASK_RUNNING":
				running++
			case "TASK_STAGING", "TASK_STARTING":
				if !in.scheduled() {
					staged++
				}
			}
		}
		published, dropped := f.bus.Stats()
		for name, v := range map[string]float64{
			"marathon.apps.active.gauge":                float64(len(f.apps)),
			"marathon.deployments.active.gauge":         float64(len(f.deployments)),
			"marathon.instances.running.gauge":          float64(running),
			"marathon.instances.staged.gauge":           float64(staged),
			"marathon.instances.launch-queue.gauge":     float64(f.queued()),
			"marathon.http.event-streams.active.gauge":  float64(f.bus.Subscribers()),
			"marathon.events.published.gauge":           float64(published),
			"marathon.http.event-streams.dropped.gauge": float64(dropped),
		} {
			out.Gauges[name] = marathon.MetricValue{Value: v}
		}
		return nil
	})
	return out, err
}

func (f *Framework) queued() int {
	n := 0
	for _, in := range f.instances {
		if in.scheduled() && in.Goal == goalRunning {
			n++
		}
	}
	return n
}
