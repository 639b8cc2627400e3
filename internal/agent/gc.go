package agent

import (
	"container/heap"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Sandbox garbage collection (reference §8). When an executor retires,
// its sandbox run (and its checkpoint run) is scheduled; when a framework
// retires, its directories are. A scheduled path is removed once its age
// (time since it was scheduled, or since its mtime for paths found at
// recovery) reaches the age limit:
//
//	limit = gc_delay × max(0, 1 − gc_disk_headroom − disk usage)
//
// so a full disk (usage ≥ 1 − headroom) removes everything scheduled at
// once. Disk usage is sampled every disk_watch_interval; between samples
// the collector also wakes when the oldest path comes due. A path the
// agent needs again (an executor ID re-used) is unscheduled; unscheduling
// a path that is being removed waits for the removal to finish, so a new
// run never sees half a directory.
//
// The age limit is the same for every path, so paths come due in the order
// of their start: a min-heap on it gives the next due path without a scan
// (an agent schedules two paths per finished executor; scanning them all
// at every retirement made the collector quadratic in the tasks run).
//
// Time is read through the time package only (time.Now, timers), so tests
// run the collector under testing/synctest with a fake clock.
type sandboxGC struct {
	delay    time.Duration
	headroom float64
	interval time.Duration
	// usage samples the work directory's disk usage, a fraction in [0, 1].
	usage func() (float64, error)
	// removed is told every path removed (the agent detaches it from
	// /files).
	removed func(path string)
	log     *slog.Logger

	mu    sync.Mutex
	paths map[string]time.Time // scheduled path → since
	// queue orders the scheduled paths by since. An entry whose since no
	// longer matches paths (unscheduled, or scheduled again) is stale and
	// dropped when it reaches the top.
	queue     gcQueue
	removing  map[string]chan struct{} // closed when its removal ends
	wake      chan struct{}
	succeeded uint64
	failed    uint64
}

func newSandboxGC(cfg Config, usage func() (float64, error), removed func(string)) *sandboxGC {
	return &sandboxGC{
		delay:    cfg.GCDelay,
		headroom: cfg.GCDiskHeadroom,
		interval: cfg.DiskWatchInterval,
		usage:    usage,
		removed:  removed,
		log:      cfg.Logger,
		paths:    make(map[string]time.Time),
		removing: make(map[string]chan struct{}),
		wake:     make(chan struct{}, 1),
	}
}

// schedule makes path due for removal once it is older than the age
// limit, counting from since. Scheduling a scheduled path moves its start.
// The collector is woken only when path comes due before every other.
func (g *sandboxGC) schedule(path string, since time.Time) {
	g.mu.Lock()
	g.paths[path] = since
	first := len(g.queue) == 0 || since.Before(g.queue[0].since)
	heap.Push(&g.queue, gcEntry{path, since})
	if len(g.queue) > 2*len(g.paths)+64 {
		g.compact()
	}
	g.mu.Unlock()
	if first {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

// compact rebuilds the queue from paths, without its stale entries.
// Callers hold g.mu.
func (g *sandboxGC) compact() {
	g.queue = g.queue[:0]
	for path, since := range g.paths {
		g.queue = append(g.queue, gcEntry{path, since})
	}
	heap.Init(&g.queue)
}

// peek is the earliest scheduled path, dropping stale entries on the way.
// Callers hold g.mu.
func (g *sandboxGC) peek() (gcEntry, bool) {
	for len(g.queue) > 0 {
		top := g.queue[0]
		if since, ok := g.paths[top.path]; ok && since.Equal(top.since) {
			return top, true
		}
		heap.Pop(&g.queue)
	}
	return gcEntry{}, false
}

// unschedule cancels path's removal; if it is being removed right now, it
// returns once that is over.
func (g *sandboxGC) unschedule(path string) {
	g.mu.Lock()
	delete(g.paths, path)
	done := g.removing[path]
	g.mu.Unlock()
	if done != nil {
		<-done
	}
}

// maxAge is the age limit at a disk usage.
func (g *sandboxGC) maxAge(usage float64) time.Duration {
	return time.Duration(float64(g.delay) * max(0, 1-g.headroom-usage))
}

// collect removes every path whose age at now reached maxAge.
func (g *sandboxGC) collect(now time.Time, maxAge time.Duration) {
	for _, path := range g.takeDue(now, maxAge) {
		err := os.RemoveAll(path)
		g.finish(path, err)
		if err != nil {
			g.log.Warn("garbage collection failed to remove a sandbox", "path", path, "err", err)
			continue
		}
		g.log.Debug("garbage collected", "path", path)
		if g.removed != nil {
			g.removed(path)
		}
	}
}

// takeDue unschedules the due paths and marks them as being removed.
func (g *sandboxGC) takeDue(now time.Time, maxAge time.Duration) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var due []string
	for {
		top, ok := g.peek()
		if !ok || now.Sub(top.since) < maxAge {
			return due
		}
		heap.Pop(&g.queue)
		due = append(due, top.path)
		delete(g.paths, top.path)
		g.removing[top.path] = make(chan struct{})
	}
}

func (g *sandboxGC) finish(path string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.failed++
	} else {
		g.succeeded++
	}
	close(g.removing[path])
	delete(g.removing, path)
}

// nextDue is when the oldest scheduled path comes due under maxAge.
func (g *sandboxGC) nextDue(maxAge time.Duration) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	top, ok := g.peek()
	if !ok {
		return time.Time{}, false
	}
	return top.since.Add(maxAge), true
}

// gcEntry is a scheduled path and the start of its age.
type gcEntry struct {
	path  string
	since time.Time
}

// gcQueue is a min-heap of entries by since (container/heap).
type gcQueue []gcEntry

func (q gcQueue) Len() int           { return len(q) }
func (q gcQueue) Less(i, j int) bool { return q[i].since.Before(q[j].since) }
func (q gcQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *gcQueue) Push(x any)        { *q = append(*q, x.(gcEntry)) }
func (q *gcQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// stats are the gc/path_removals_* metrics.
func (g *sandboxGC) stats() (succeeded, failed, pending uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.succeeded, g.failed, uint64(len(g.paths) + len(g.removing))
}

// run collects until ctx ends: at every disk sample and whenever the
// oldest path comes due.
func (g *sandboxGC) run(ctx context.Context) {
	usage := g.sampleUsage()
	nextSample := time.Now().Add(g.interval)
	for {
		now := time.Now()
		if !now.Before(nextSample) {
			usage, nextSample = g.sampleUsage(), now.Add(g.interval)
		}
		maxAge := g.maxAge(usage)
		g.collect(now, maxAge)
		wait := nextSample.Sub(now)
		if due, ok := g.nextDue(maxAge); ok && due.Sub(now) < wait {
			wait = max(due.Sub(now), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-g.wake:
			t.Stop()
		}
	}
}

// sampleUsage reads the disk usage; an error reads as an empty disk (the
// normal gc_delay applies).
func (g *sandboxGC) sampleUsage() float64 {
	u, err := g.usage()
	if err != nil {
		g.log.Warn("cannot read the work directory's disk usage", "err", err)
		return 0
	}
	g.log.Debug("disk usage sampled", "usage", u, "sandbox_age_limit", g.maxAge(u))
	return u
}

// diskUsage is the used fraction of the file system holding dir.
func diskUsage(dir string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	return float64(st.Blocks-st.Bfree) / float64(st.Blocks), nil
}

// keepFromGC unschedules the directories a new executor run goes in: its
// framework's and its executor's, in the sandbox and meta trees (they
// were scheduled when the previous ones retired). Callers hold a.mu.
func (a *Agent) keepFromGC(fw *framework, eid string) {
	a.gc.unschedule(a.frameworkDir(fw.id))
	a.gc.unschedule(a.paths.executorDir(a.agentID, fw.id, eid))
	a.gc.unschedule(a.paths.metaFrameworkDir(a.agentID, fw.id))
	a.gc.unschedule(a.paths.metaExecutorDir(a.agentID, fw.id, eid))
}

// executorRetired schedules a retired executor's run and executor
// directories (sandbox and checkpoint). Callers hold a.mu.
func (a *Agent) executorRetired(ex *executor) {
	now := time.Now()
	a.gc.schedule(ex.directory, now)
	a.gc.schedule(filepath.Dir(filepath.Dir(ex.directory)), now)
	if ex.metaRun != "" {
		a.gc.schedule(ex.metaRun, now)
		a.gc.schedule(filepath.Dir(filepath.Dir(ex.metaRun)), now)
	}
}

// frameworkRetired schedules a retired framework's directories. Callers
// hold a.mu.
func (a *Agent) frameworkRetired(fw *framework) {
	now := time.Now()
	a.gc.schedule(a.frameworkDir(fw.id), now)
	if fw.info.GetCheckpoint() {
		a.gc.schedule(a.paths.metaFrameworkDir(a.agentID, fw.id), now)
	}
}

// frameworkDir is a framework's sandbox directory. Callers hold a.mu.
func (a *Agent) frameworkDir(fid string) string {
	return filepath.Join(a.paths.agentDir(a.agentID), "frameworks", fid)
}

// markRunEnded empties the run's forked.pid once its executor has ended:
// a restarted agent then knows not to adopt the pid, which may name
// another process by then (Mesos writes a sentinel file; emptying costs no
// new inode). Callers hold a.mu.
func (a *Agent) markRunEnded(ex *executor) {
	if ex.runEnded || ex.metaRun == "" {
		return
	}
	ex.runEnded = true
	if err := os.Truncate(forkedPidFile(ex.metaRun), 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Error("marking an executor run ended", "executor_id", ex.id, "err", err)
	}
}
