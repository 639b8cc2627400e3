// Package hostinfo reads facts about the machine from /proc: CPU count,
// memory, load averages. Master and agent use it for the `system/*`
// metrics and the agent for resource autodetection.
package hostinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Memory is the machine's total and available memory in bytes, from
// /proc/meminfo.
func Memory() (total, free uint64, err error) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = kb * 1024
		case "MemAvailable:":
			free = kb * 1024
		}
	}
	return total, free, nil
}

// LoadAverage is the 1, 5 and 15 minute load averages from /proc/loadavg.
func LoadAverage() (l1, l5, l15 float64, err error) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, 0, 0, err
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return 0, 0, 0, nil
	}
	l1, _ = strconv.ParseFloat(f[0], 64)
	l5, _ = strconv.ParseFloat(f[1], 64)
	l15, _ = strconv.ParseFloat(f[2], 64)
	return l1, l5, l15, nil
}

// SystemMetrics are the `system/*` metrics of reference §7.1.
func SystemMetrics() map[string]float64 {
	out := map[string]float64{"system/cpus_total": float64(runtime.NumCPU())}
	if l1, l5, l15, err := LoadAverage(); err == nil {
		out["system/load_1min"], out["system/load_5min"], out["system/load_15min"] = l1, l5, l15
	}
	if total, free, err := Memory(); err == nil {
		out["system/mem_total_bytes"], out["system/mem_free_bytes"] = float64(total), float64(free)
	}
	return out
}

// ProcessMetrics are Agora's own process metrics (not Mesos names): the Go
// heap in use and the resident set size, in bytes.
func ProcessMetrics() map[string]float64 {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/sched/goroutines:goroutines"}}
	metrics.Read(samples)
	out := map[string]float64{}
	if samples[0].Value.Kind() == metrics.KindUint64 {
		out["agora/go_heap_bytes"] = float64(samples[0].Value.Uint64())
	}
	if samples[1].Value.Kind() == metrics.KindUint64 {
		out["agora/goroutines"] = float64(samples[1].Value.Uint64())
	}
	if rss, err := residentBytes("self"); err == nil {
		out["agora/rss_bytes"] = float64(rss)
	}
	return out
}

// ResidentBytes is a process's resident set size, from /proc/<pid>/status.
func ResidentBytes(pid int) (uint64, error) { return residentBytes(strconv.Itoa(pid)) }

func residentBytes(pid string) (uint64, error) {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for process %s", pid)
}
