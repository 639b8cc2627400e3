package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of v1's cpuacct.stat.
const clockTicks = 100

// Stats reads the container's usage. Files a kernel lacks are skipped.
func (c *Cgroup) Stats() (Stats, error) {
	if !c.Exists() {
		return Stats{}, fmt.Errorf("cgroups: %s: %w", c.id, os.ErrNotExist)
	}
	if c.h.version == V2 {
		return c.statsV2(), nil
	}
	return c.statsV1(), nil
}

func (c *Cgroup) statsV2() Stats {
	var s Stats
	d := c.dir("memory")
	cpu := readKeyed(d, "cpu.stat")
	s.CPUUser = time.Duration(cpu["user_usec"]) * time.Microsecond
	s.CPUSystem = time.Duration(cpu["system_usec"]) * time.Microsecond
	s.CPUPeriods, s.CPUThrottled = cpu["nr_periods"], cpu["nr_throttled"]
	s.CPUThrottledTime = time.Duration(cpu["throttled_usec"]) * time.Microsecond
	s.MemoryUsage = readUint(d, "memory.current")
	mem := readKeyed(d, "memory.stat")
	s.MemoryRSS, s.MemoryCache = mem["anon"], mem["file"]
	s.MemoryLimit = readUint(d, "memory.max") // "max" reads as 0: unlimited
	s.OOMKills = readKeyed(d, "memory.events")["oom_kill"]
	s.Pids = readUint(d, "pids.current")
	return s
}

func (c *Cgroup) statsV1() Stats {
	var s Stats
	acct := readKeyed(c.dir("cpuacct"), "cpuacct.stat")
	s.CPUUser = time.Duration(acct["user"]) * time.Second / clockTicks
	s.CPUSystem = time.Duration(acct["system"]) * time.Second / clockTicks
	cpu := readKeyed(c.dir("cpu"), "cpu.stat")
	s.CPUPeriods, s.CPUThrottled = cpu["nr_periods"], cpu["nr_throttled"]
	s.CPUThrottledTime = time.Duration(cpu["throttled_time"])
	md := c.dir("memory")
	s.MemoryUsage = readUint(md, "memory.usage_in_bytes")
	mem := readKeyed(md, "memory.stat")
	s.MemoryRSS, s.MemoryCache = mem["total_rss"], mem["total_cache"]
	if limit := readUint(md, "memory.limit_in_bytes"); limit < 1<<62 {
		s.MemoryLimit = limit
	}
	s.OOMKills = readKeyed(md, "memory.oom_control")["oom_kill"]
	s.Pids = readUint(c.dir("pids"), "pids.current")
	return s
}

// readKeyed parses a "key value" per line file; a missing file reads as
// empty.
func readKeyed(dir, name string) map[string]uint64 {
	out := map[string]uint64{}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); ok && err == nil {
			out[k] = n
		}
	}
	return out
}

// readUint reads a one-number file; missing, "max" or garbage read as 0.
func readUint(dir, name string) uint64 {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
