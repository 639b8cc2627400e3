// Package promexport serves a daemon's Mesos-style metrics (the flat
// name → value map of /metrics/snapshot) in the Prometheus text format at
// /metrics. Both endpoints read the same map from the same function, so no
// number is computed twice: "allocator/mesos/allocation_runs" becomes
// agora_allocator_mesos_allocation_runs.
package promexport

import (
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source returns the current metrics, or an error if they cannot be read.
type Source func(r *http.Request) (map[string]float64, error)

// Handler serves the metrics of src for Prometheus.
func Handler(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		metrics, err := src(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(collector(metrics))
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// Name turns a Mesos metric name into a Prometheus one.
func Name(mesosName string) string {
	var b strings.Builder
	b.WriteString("agora_")
	for _, c := range mesosName {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// collector exposes one snapshot as untyped metrics (Mesos does not say
// which are counters).
type collector map[string]float64

func (c collector) Describe(chan<- *prometheus.Desc) {} // unchecked: names vary

func (c collector) Collect(ch chan<- prometheus.Metric) {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, n := range names {
		pn := Name(n)
		if seen[pn] {
			continue // two Mesos names folding onto one Prometheus name
		}
		seen[pn] = true
		desc := prometheus.NewDesc(pn, "Mesos metric "+n, nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.UntypedValue, c[n])
	}
}
