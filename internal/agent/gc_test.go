package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// gcHarness is a collector on a fake clock (synctest) with a settable disk
// usage, recording what it removed.
type gcHarness struct {
	gc *sandboxGC

	mu      sync.Mutex
	usage   float64
	removed []string
}

func newGCHarness(t *testing.T, delay time.Duration) *gcHarness {
	h := &gcHarness{}
	cfg := Config{GCDelay: delay, GCDiskHeadroom: 0.1, DiskWatchInterval: time.Minute, Logger: testLogger()}
	h.gc = newSandboxGC(cfg, func() (float64, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.usage, nil
	}, func(path string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.removed = append(h.removed, filepath.Base(path))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.gc.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *gcHarness) setUsage(u float64) {
	h.mu.Lock()
	h.usage = u
	h.mu.Unlock()
}

func (h *gcHarness) removedNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.removed...)
}

func mkdirs(t *testing.T, root string, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		p := filepath.Join(root, n)
		must(t, os.MkdirAll(filepath.Join(p, "inner"), 0o755))
		out = append(out, p)
	}
	return out
}

// TestGCRemovesAtTheAgeLimitAndSoonerUnderDiskPressure: with an empty
// disk a path goes at gc_delay × (1 − headroom); a fuller disk shortens
// the limit at the next disk check; an unscheduled path stays.
func TestGCRemovesAtTheAgeLimitAndSoonerUnderDiskPressure(t *testing.T) {
	root := t.TempDir()
	paths := mkdirs(t, root, "old", "fresh", "kept")
	synctest.Test(t, func(t *testing.T) {
		h := newGCHarness(t, time.Hour) // limit at 0% usage: 54 min
		h.gc.schedule(paths[0], time.Now())
		h.gc.schedule(paths[2], time.Now())
		time.Sleep(30 * time.Minute)
		h.gc.schedule(paths[1], time.Now())
		h.gc.unschedule(paths[2])
		time.Sleep(23 * time.Minute)
		synctest.Wait()
		if got := h.removedNames(); len(got) != 0 {
			t.Fatalf("removed %v before the age limit", got)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if got := h.removedNames(); len(got) != 1 || got[0] != "old" {
			t.Fatalf("at 55 min removed %v, want [old]", got)
		}
		// 85% used: the limit drops to 3 min; "fresh" (25 min old) goes at
		// the next disk check.
		h.setUsage(0.85)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := h.removedNames(); len(got) != 2 || got[1] != "fresh" {
			t.Fatalf("under disk pressure removed %v, want [old fresh]", got)
		}
		if succeeded, failed, pending := h.gc.stats(); succeeded != 2 || failed != 0 || pending != 0 {
			t.Errorf("stats: %d succeeded, %d failed, %d pending", succeeded, failed, pending)
		}
	})
	for i, want := range []bool{false, false, true} {
		if _, err := os.Stat(paths[i]); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", paths[i], err == nil, want)
		}
	}
}

// TestGCRemovesInOrderOfAgeWhateverTheScheduling: paths scheduled out of
// order (recovery schedules by mtime), scheduled again (the later start
// counts) or unscheduled and scheduled again go each at its own limit.
func TestGCRemovesInOrderOfAgeWhateverTheScheduling(t *testing.T) {
	root := t.TempDir()
	paths := mkdirs(t, root, "a", "b", "c", "d")
	synctest.Test(t, func(t *testing.T) {
		h := newGCHarness(t, time.Hour) // limit: 54 min
		start := time.Now()
		h.gc.schedule(paths[0], start)                      // due at 54
		h.gc.schedule(paths[1], start.Add(-40*time.Minute)) // due at 14
		h.gc.schedule(paths[2], start)
		h.gc.schedule(paths[2], start.Add(10*time.Minute)) // moved: due at 64
		h.gc.schedule(paths[3], start)
		h.gc.unschedule(paths[3])
		h.gc.schedule(paths[3], start.Add(5*time.Minute)) // due at 59
		for _, step := range []struct {
			at   time.Duration
			want []string
		}{
			{13 * time.Minute, nil},
			{15 * time.Minute, []string{"b"}},
			{53 * time.Minute, []string{"b"}},
			{55 * time.Minute, []string{"b", "a"}},
			{60 * time.Minute, []string{"b", "a", "d"}},
			{63 * time.Minute, []string{"b", "a", "d"}},
			{65 * time.Minute, []string{"b", "a", "d", "c"}},
		} {
			time.Sleep(time.Until(start.Add(step.at)))
			synctest.Wait()
			if got := h.removedNames(); !slices.Equal(got, step.want) {
				t.Fatalf("at %v removed %v, want %v", step.at, got, step.want)
			}
		}
		if _, _, pending := h.gc.stats(); pending != 0 {
			t.Errorf("%d paths still pending", pending)
		}
	})
}

// TestGCQueueStaysBounded: a path scheduled and unscheduled over and over
// (an executor ID re-used) does not grow the collector's queue.
func TestGCQueueStaysBounded(t *testing.T) {
	h := newGCHarness(t, time.Hour)
	path := filepath.Join(t.TempDir(), "reused")
	for range 10_000 {
		h.gc.schedule(path, time.Now())
		h.gc.unschedule(path)
	}
	h.gc.mu.Lock()
	defer h.gc.mu.Unlock()
	if n := len(h.gc.queue); n > 200 {
		t.Errorf("queue holds %d entries for no scheduled path", n)
	}
}

// TestRetiredExecutorSandboxIsCollectedAndDetached: once an executor
// retires, its sandbox is scheduled; after the delay it is removed and
// /files no longer serves it.
func TestRetiredExecutorSandboxIsCollectedAndDetached(t *testing.T) {
	m := newFakeMaster(t)
	m.setAutoAck(true)
	a, fc := fakeAgent(t, m, func(c *Config) { c.GCDelay = 200 * time.Millisecond; c.GCDiskHeadroom = 0.001 })
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw"), commandTask("t1", "x")))
	spec := nextLaunch(t, fc)
	ex := findExecutor(t, a, "fw", "t1")
	virtual := "/frameworks/fw/executors/t1/runs/latest"
	waitFor(t, "the sandbox attached", func() bool { _, err := a.files.resolve(virtual); return err == nil })
	must(t, fc.Exit(spec.ContainerID, 0))
	wantUpdate(t, m.nextUpdate(wait), "t1", mesos.TaskState_TASK_FAILED)
	waitFor(t, "the sandbox removed", func() bool {
		_, err := os.Stat(ex.directory)
		return os.IsNotExist(err)
	})
	if _, err := a.files.resolve(virtual); err == nil {
		t.Errorf("%s still served after its sandbox was collected", virtual)
	}
	if _, err := a.files.resolve(ex.directory); err == nil {
		t.Errorf("%s still served after it was collected", ex.directory)
	}
	// The run, executor and framework directories, in the sandbox and
	// the checkpoint trees.
	waitFor(t, "six removals", func() bool { return a.metricsSnapshot()["gc/path_removals_succeeded"] == 6 })
	for _, dir := range []string{a.frameworkDir("fw"), a.paths.metaFrameworkDir(m.agentID, "fw")} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s not collected: %v", dir, err)
		}
	}
	if got := a.metricsSnapshot()["gc/path_removals_pending"]; got != 0 {
		t.Errorf("gc/path_removals_pending = %v", got)
	}
}
