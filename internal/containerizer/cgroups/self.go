package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SelfOOMKills returns the OOM kill count of the memory cgroup the calling
// process is in: an executor uses it to tell a task the kernel killed for
// its container's memory limit from one killed otherwise.
func SelfOOMKills() (uint64, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, fmt.Errorf("cgroups: %w", err)
	}
	v1Path, v2Path := "", ""
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			v2Path = parts[2]
		case hasController(parts[1], "memory"):
			v1Path = parts[2]
		}
	}
	v1Mount, v2Mount, err := memoryMounts()
	if err != nil {
		return 0, err
	}
	switch {
	case v1Path != "" && v1Mount != "":
		return readKeyed(filepath.Join(v1Mount, v1Path), "memory.oom_control")["oom_kill"], nil
	case v2Path != "" && v2Mount != "":
		return readKeyed(filepath.Join(v2Mount, v2Path), "memory.events")["oom_kill"], nil
	}
	return 0, fmt.Errorf("%w: this process has no memory cgroup", ErrNoCgroups)
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// memoryMounts finds where the v1 memory controller and the v2 hierarchy
// are mounted ("" for none).
func memoryMounts() (v1, v2 string, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", "", fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mountPoint, fsType, opts, ok := parseMountInfo(sc.Text())
		switch {
		case !ok:
		case fsType == "cgroup" && hasController(opts, "memory") && v1 == "":
			v1 = mountPoint
		case fsType == "cgroup2" && v2 == "":
			v2 = mountPoint
		}
	}
	return v1, v2, nil
}
