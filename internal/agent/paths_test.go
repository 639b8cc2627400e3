package agent

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestLayoutPaths(t *testing.T) {
	l := layout{workDir: "/w"}
	cases := map[string]string{
		l.sandbox("S1", "F1", "E1", "C1"):                        "/w/slaves/S1/frameworks/F1/executors/E1/runs/C1",
		l.latestRun("S1", "F1", "E1"):                            "/w/slaves/S1/frameworks/F1/executors/E1/runs/latest",
		l.bootIDFile():                                           "/w/meta/boot_id",
		l.metaLatestAgent():                                      "/w/meta/slaves/latest",
		l.agentInfoFile("S1"):                                    "/w/meta/slaves/S1/slave.info",
		l.frameworkInfoFile("S1", "F1"):                          "/w/meta/slaves/S1/frameworks/F1/framework.info",
		l.executorInfoFile("S1", "F1", "E1"):                     "/w/meta/slaves/S1/frameworks/F1/executors/E1/executor.info",
		forkedPidFile(l.metaRun("S1", "F1", "E1", "C1")):         "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/pids/forked.pid",
		taskInfoFile(l.metaRun("S1", "F1", "E1", "C1"), "T1"):    "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/tasks/T1/task.info",
		taskUpdatesFile(l.metaRun("S1", "F1", "E1", "C1"), "T1"): "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/tasks/T1/task.updates",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("path %q, want %q", got, want)
		}
	}
}

func TestValidPathID(t *testing.T) {
	for _, ok := range []string{"task-1", "my.app_v2", "x y", strings.Repeat("a", 255)} {
		if err := validPathID("task ID", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "../etc", "a\x00b", "tab\there", strings.Repeat("a", 256)} {
		if err := validPathID("task ID", bad); !errors.Is(err, errBadID) {
			t.Errorf("%q accepted (err %v)", bad, err)
		}
	}
}

func TestNewUUIDIsVersion4(t *testing.T) {
	raw, text := newUUID()
	if len(raw) != 16 || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(text) {
		t.Errorf("newUUID = %x %q", raw, text)
	}
	if _, other := newUUID(); other == text {
		t.Error("two UUIDs are equal")
	}
}

func TestRunDirsAndLatestLinkAcrossRuns(t *testing.T) {
	l := layout{workDir: t.TempDir()}
	// The framework's first run creates the whole tree; a second executor
	// and a second run of the first executor reuse what exists.
	for _, run := range []struct{ eid, cid string }{{"E1", "C1"}, {"E2", "C2"}, {"E1", "C3"}} {
		dir := l.sandbox("S1", "F1", run.eid, run.cid)
		if err := makeRunDir(dir); err != nil {
			t.Fatalf("makeRunDir(%s): %v", dir, err)
		}
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			t.Fatalf("run dir %s: %v", dir, err)
		}
		latest := l.latestRun("S1", "F1", run.eid)
		if err := linkLatest(run.cid, latest); err != nil {
			t.Fatalf("linkLatest: %v", err)
		}
		if target, err := os.Readlink(latest); err != nil || target != run.cid {
			t.Errorf("%s -> %q (%v), want %s", latest, target, err, run.cid)
		}
	}
}
