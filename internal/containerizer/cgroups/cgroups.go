// Package cgroups holds containers to their cpu, memory and pids limits
// and reads their usage, on cgroup v2 (one unified hierarchy, most
// machines) and v1 (a hierarchy per controller, "hybrid" machines among
// them). It writes the kernel's files directly.
//
// Layout: every container gets <mount>/<root>/<container id> (v2), or that
// path under each controller's mount (v1: cpu, cpuacct, memory, pids),
// where root is the agent's --cgroups_root ("agora").
//
// Usage:
//
//	h, err := cgroups.Detect("agora")  // or NewV1 / NewV2 for a given tree
//	cg, err := h.Create(containerID, limits)
//	cg.AddProcess(pid)                 // before the process execs anything
//	st, err := cg.Stats()              // usage, throttling, OOM kills
//	cg.Destroy(ctx)                    // kills what is left, removes the dirs
//
// OOM: the kernel counts the OOM kills of a cgroup (memory.events on v2,
// memory.oom_control on v1); Stats.OOMKills > 0 after a container ended
// means it was killed for exceeding its memory limit.
package cgroups

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoCgroups is returned by Detect when no usable hierarchy is mounted.
var ErrNoCgroups = errors.New("cgroups: no usable cgroup hierarchy")

// DefaultCFSPeriod is the CFS period quotas are expressed in.
const DefaultCFSPeriod = 100 * time.Millisecond

// Limits are what a container is held to; zero fields are not limited.
type Limits struct {
	// CPUs sets the cpu share (weight) of the container: 1024 shares per
	// cpu, as Mesos does.
	CPUs float64
	// CFSQuota, with CPUs set, also caps the container at CPUs cpus of
	// run time per CFS period (Mesos' --cgroups_enable_cfs).
	CFSQuota bool
	// MemoryBytes caps memory; the kernel OOM-kills beyond it.
	MemoryBytes int64
	// PidsMax caps the number of processes and threads.
	PidsMax int64
}

// Stats is a container's usage.
type Stats struct {
	CPUUser, CPUSystem time.Duration
	// CFS accounting: periods elapsed, periods throttled, time throttled.
	CPUPeriods, CPUThrottled uint64
	CPUThrottledTime         time.Duration
	MemoryUsage              uint64 // bytes in use, cache included
	MemoryRSS, MemoryCache   uint64
	MemoryLimit              uint64 // 0 when unlimited
	OOMKills                 uint64
	Pids                     uint64
}

// Version is a cgroup hierarchy's version.
type Version int

const (
	V1 Version = 1
	V2 Version = 2
)

// v1Controllers are the v1 hierarchies a container joins.
var v1Controllers = []string{"cpu", "cpuacct", "memory", "pids"}

// Hierarchy is where containers' cgroups are made.
type Hierarchy struct {
	version Version
	root    string            // the agent's sub-tree, e.g. "agora"
	unified string            // v2 mount point
	mounts  map[string]string // v1: controller → mount point
	// rmdir removes a cgroup directory; tests of a fake tree replace it.
	rmdir func(string) error
}

// NewV2 is the v2 hierarchy mounted at mount, with containers under root.
func NewV2(mount, root string) *Hierarchy {
	return &Hierarchy{version: V2, root: root, unified: mount, rmdir: unix.Rmdir}
}

// NewV1 is a v1 hierarchy; mounts maps each of cpu, cpuacct, memory and
// pids to where it is mounted (a co-mounted pair shares a path).
func NewV1(mounts map[string]string, root string) *Hierarchy {
	return &Hierarchy{version: V1, root: root, mounts: mounts, rmdir: unix.Rmdir}
}

// Version tells which cgroup version the hierarchy is.
func (h *Hierarchy) Version() Version { return h.version }

// Detect finds the hierarchy this machine uses from /proc/self/mountinfo:
// v1 when the memory controller is mounted as v1, else v2.
func Detect(root string) (*Hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	defer f.Close()
	v1 := map[string]string{}
	unified := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		mountPoint, fsType, opts, ok := parseMountInfo(sc.Text())
		switch {
		case !ok:
		case fsType == "cgroup2" && unified == "":
			unified = mountPoint
		case fsType == "cgroup":
			for _, o := range strings.Split(opts, ",") {
				if _, known := v1[o]; !known && isV1Controller(o) {
					v1[o] = mountPoint
				}
			}
		}
	}
	if _, ok := v1["memory"]; ok {
		for _, c := range v1Controllers {
			if v1[c] == "" {
				return nil, fmt.Errorf("%w: v1 controller %s is not mounted", ErrNoCgroups, c)
			}
		}
		return NewV1(v1, root), nil
	}
	if unified != "" {
		return NewV2(unified, root), nil
	}
	return nil, ErrNoCgroups
}

func isV1Controller(name string) bool {
	for _, c := range v1Controllers {
		if c == name {
			return true
		}
	}
	return false
}

// parseMountInfo returns a mountinfo line's mount point, filesystem type
// and super options.
func parseMountInfo(line string) (mountPoint, fsType, superOpts string, ok bool) {
	left, right, found := strings.Cut(line, " - ")
	if !found {
		return "", "", "", false
	}
	lf, rf := strings.Fields(left), strings.Fields(right)
	if len(lf) < 5 || len(rf) < 3 {
		return "", "", "", false
	}
	return unescapeMount(lf[4]), rf[0], rf[2], true
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// RemoveRoot removes the agent's sub-tree (<mount>/<root>) in every
// hierarchy; it must hold no container any more. Tests use it to leave
// nothing behind.
func (h *Hierarchy) RemoveRoot() error {
	dirs := []string{filepath.Join(h.unified, h.root)}
	if h.version == V1 {
		dirs = dirs[:0]
		for _, m := range h.mounts {
			dirs = append(dirs, filepath.Join(m, h.root))
		}
	}
	var errs []error
	for _, d := range dirs {
		if err := h.rmdir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("cgroups: removing %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// Containers lists the IDs of the containers that have a cgroup under the
// agent's sub-tree (in any v1 hierarchy), sorted.
func (h *Hierarchy) Containers() ([]string, error) {
	dirs := []string{filepath.Join(h.unified, h.root)}
	if h.version == V1 {
		dirs = dirs[:0]
		for _, m := range h.mounts {
			dirs = append(dirs, filepath.Join(m, h.root))
		}
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cgroups: listing %s: %w", d, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen)), nil
}

// Cgroup is one container's cgroup (one directory per v1 hierarchy).
type Cgroup struct {
	h  *Hierarchy
	id string
}

// dirs lists the container's directories, without duplicates (v1
// controllers may share a mount).
func (c *Cgroup) dirs() []string {
	if c.h.version == V2 {
		return []string{filepath.Join(c.h.unified, c.h.root, c.id)}
	}
	var out []string
	seen := map[string]bool{}
	for _, ctl := range v1Controllers {
		d := filepath.Join(c.h.mounts[ctl], c.h.root, c.id)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// dir is the directory holding a controller's files.
func (c *Cgroup) dir(controller string) string {
	if c.h.version == V2 {
		return filepath.Join(c.h.unified, c.h.root, c.id)
	}
	return filepath.Join(c.h.mounts[controller], c.h.root, c.id)
}

// Open returns the cgroup of a container made earlier (by this agent or
// before its restart).
func (h *Hierarchy) Open(id string) *Cgroup { return &Cgroup{h: h, id: id} }

// Exists reports whether the container's cgroup is there.
func (c *Cgroup) Exists() bool {
	_, err := os.Stat(c.dirs()[0])
	return err == nil
}

// Create makes the container's cgroup and applies its limits.
func (h *Hierarchy) Create(id string, l Limits) (*Cgroup, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return nil, fmt.Errorf("cgroups: invalid container id %q", id)
	}
	c := &Cgroup{h: h, id: id}
	if h.version == V2 {
		if err := h.enableV2Controllers(); err != nil {
			return nil, err
		}
	}
	for _, d := range c.dirs() {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.Destroy(context.Background())
			return nil, fmt.Errorf("cgroups: creating %s: %w", d, err)
		}
	}
	if err := c.apply(l); err != nil {
		c.Destroy(context.Background())
		return nil, err
	}
	return c, nil
}

// enableV2Controllers delegates cpu, memory and pids down to the
// containers' parent (v2 only enables a controller for a child when its
// parent's subtree_control lists it).
func (h *Hierarchy) enableV2Controllers() error {
	parent := filepath.Join(h.unified, h.root)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("cgroups: creating %s: %w", parent, err)
	}
	for _, d := range []string{h.unified, parent} {
		if err := writeFile(d, "cgroup.subtree_control", "+cpu +memory +pids"); err != nil {
			return err
		}
	}
	return nil
}

// apply writes the limits.
func (c *Cgroup) apply(l Limits) error {
	var errs []error
	set := func(controller, file, value string) {
		errs = append(errs, writeFile(c.dir(controller), file, value))
	}
	if l.CPUs > 0 {
		shares := max(2, uint64(l.CPUs*1024))
		period := uint64(DefaultCFSPeriod / time.Microsecond)
		quota := max(1000, uint64(l.CPUs*float64(period)))
		switch c.h.version {
		case V2:
			set("cpu", "cpu.weight", strconv.FormatUint(sharesToWeight(shares), 10))
			if l.CFSQuota {
				set("cpu", "cpu.max", fmt.Sprintf("%d %d", quota, period))
			}
		case V1:
			set("cpu", "cpu.shares", strconv.FormatUint(shares, 10))
			if l.CFSQuota {
				set("cpu", "cpu.cfs_period_us", strconv.FormatUint(period, 10))
				set("cpu", "cpu.cfs_quota_us", strconv.FormatUint(quota, 10))
			}
		}
	}
	if l.MemoryBytes > 0 {
		limit := strconv.FormatInt(l.MemoryBytes, 10)
		switch c.h.version {
		case V2:
			set("memory", "memory.max", limit)
			writeFile(c.dir("memory"), "memory.swap.max", "0") // absent without swap accounting
		case V1:
			set("memory", "memory.limit_in_bytes", limit)
			writeFile(c.dir("memory"), "memory.memsw.limit_in_bytes", limit) // likewise
		}
	}
	if l.PidsMax > 0 {
		set("pids", "pids.max", strconv.FormatInt(l.PidsMax, 10))
	}
	return errors.Join(errs...)
}

// sharesToWeight maps v1 cpu.shares [2, 262144] onto v2 cpu.weight
// [1, 10000], as runc does.
func sharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + (shares-2)*9999/262142
}

// AddProcess moves pid into every hierarchy of the container.
func (c *Cgroup) AddProcess(pid int) error {
	for _, d := range c.dirs() {
		if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Pids lists the processes in the container's cgroup.
func (c *Cgroup) Pids() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(c.dir("pids"), "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Kill SIGKILLs every process in the cgroup, round after round, until it
// is empty or ctx ends. v2's cgroup.kill does it in one write where the
// kernel has it.
func (c *Cgroup) Kill(ctx context.Context) error {
	if c.h.version == V2 {
		writeFile(c.dirs()[0], "cgroup.kill", "1") // absent before Linux 5.14
	}
	pause := time.Millisecond
	for {
		pids, err := c.Pids()
		// A cgroup removed meanwhile (its container ended and was cleaned
		// up) reads as ENOENT, or ENODEV when the removal raced the read.
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) || (err == nil && len(pids) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cgroups: %d processes of %s survive: %w", len(pids), c.id, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Destroy kills what is left in the cgroup and removes its directories. A
// cgroup already gone is not an error.
func (c *Cgroup) Destroy(ctx context.Context) error {
	if err := c.Kill(ctx); err != nil {
		return err
	}
	var errs []error
	for _, d := range c.dirs() {
		errs = append(errs, c.removeDir(ctx, d))
	}
	return errors.Join(errs...)
}

// removeDir removes a cgroup directory, retrying while the kernel still
// counts exiting processes in it (EBUSY).
func (c *Cgroup) removeDir(ctx context.Context, d string) error {
	for {
		err := c.h.rmdir(d)
		switch {
		case err == nil || errors.Is(err, os.ErrNotExist):
			return nil
		case !errors.Is(err, unix.EBUSY):
			return fmt.Errorf("cgroups: removing %s: %w", d, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cgroups: removing %s: %w", d, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func writeFile(dir, name, value string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
		return fmt.Errorf("cgroups: writing %q to %s: %w", value, filepath.Join(dir, name), err)
	}
	return nil
}
