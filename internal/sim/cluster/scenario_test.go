package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The scenarios in ../testdata/scenarios run for ciSeeds in every test
// run. -seeds=N runs each for N random seeds more; -seed=S runs only seed
// S; -history prints the history of the runs (use with -run and -seed).
var (
	randomSeeds = flag.Int("seeds", 0, "also run every scenario with this many random seeds")
	oneSeed     = flag.Uint64("seed", 0, "run the scenarios with this seed only")
	showHistory = flag.Bool("history", false, "print each run's history")
)

var ciSeeds = []uint64{1, 2, 3, 4, 5}

func loadScenarios(t *testing.T, dir ...string) []*Scenario {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(append(append([]string{"..", "testdata", "scenarios"}, dir...), "*.sim")...))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	var out []*Scenario
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := ParseScenario(strings.TrimSuffix(filepath.Base(f), ".sim"), string(text))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return out
}

func seedsToRun(t *testing.T) []uint64 {
	if *oneSeed != 0 {
		return []uint64{*oneSeed}
	}
	seeds := append([]uint64(nil), ciSeeds...)
	for range *randomSeeds {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, binary.LittleEndian.Uint64(b[:]))
	}
	return seeds
}

// TestScenarios runs every scenario for every seed. The fixed seeds run
// twice, and the two histories must be the same.
func TestScenarios(t *testing.T) {
	seeds := seedsToRun(t)
	for _, sc := range loadScenarios(t) {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			for _, seed := range seeds {
				res := runScenario(t, sc, seed)
				if res == nil || !slices.Contains(ciSeeds, seed) {
					continue
				}
				again := runScenario(t, sc, seed)
				if again != nil && again.History != res.History {
					t.Errorf("seed %d: two runs differ, first at step %d: the simulation is not deterministic",
						seed, FirstDivergence(res.StepDigests, again.StepDigests))
				}
			}
		})
	}
}

func runScenario(t *testing.T, sc *Scenario, seed uint64) *Result {
	t.Helper()
	opts := Options{Seed: seed}
	var buf bytes.Buffer
	if *showHistory {
		opts.Trace = &buf
		defer func() { t.Logf("history of seed %d:\n%s", seed, buf.String()) }()
	}
	res, err := sc.Run(opts)
	var v *Violation
	switch {
	case errors.As(err, &v):
		t.Errorf("%v\n    reproduce: go test ./internal/sim/cluster -run 'TestScenarios/%s$' -seed=%d -history", v, sc.Name, seed)
		return nil
	case err != nil:
		t.Fatalf("seed %d: %v", seed, err)
	}
	return res
}

// TestKnownBugs runs the scenarios that reproduce bugs found in the master
// and not fixed yet (../testdata/scenarios/known-bugs): each must still
// break an invariant for one of the first 20 seeds. When one no longer
// does, the bug is fixed: move the scenario into the CI set.
func TestKnownBugs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "scenarios", "known-bugs", "*.sim"))
	if len(files) == 0 {
		t.Log("no known bugs open")
		return
	}
	for _, sc := range loadScenarios(t, "known-bugs") {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= 20; seed++ {
				_, err := sc.Run(Options{Seed: seed})
				var v *Violation
				if errors.As(err, &v) {
					t.Logf("still broken: %v", v)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Errorf("%s no longer breaks an invariant for seeds 1-20: if the bug is fixed, move it to the CI scenarios", sc.Name)
		})
	}
}

func TestParseScenarioErrors(t *testing.T) {
	for _, text := range []string{
		"",
		"masters",
		"masters two",
		"fly 3",
		"frameworks 1 colour=red",
		"agents 2 cpus:x",
		"expect running",
		"expect height=3",
		"drop 1.5",
		"partition agent-1",
	} {
		if _, err := ParseScenario("bad", text); err == nil {
			t.Errorf("ParseScenario(%q) accepted it", text)
		}
	}
}

func TestScenarioRuntimeErrors(t *testing.T) {
	for _, text := range []string{
		"agents 1 cpus:1",                  // no masters yet
		"masters 1\nrestart agent-9",       // no such node
		"masters 1\ntick 1s",               // settings after masters
		"tick 300ms\nmasters 1",            // a tick that does not divide a second
		"masters 1\nkill-tasks fw-3 1",     // no such framework
		"masters 1\nexpect fw-2.running=0", // no such framework
	} {
		sc, err := ParseScenario("bad", text)
		if err != nil {
			t.Fatalf("ParseScenario(%q): %v", text, err)
		}
		if _, err := sc.Run(Options{Seed: 1}); err == nil {
			t.Errorf("Run(%q) succeeded", text)
		} else if errors.As(err, new(*Violation)) {
			t.Errorf("Run(%q): %v, want a script error", text, err)
		}
	}
}

func ExampleViolation() {
	v := &Violation{Scenario: "failover-launch", Seed: 3, Step: 412, At: 41200 * 1e6, Invariant: "offers", Detail: "offer m1-1-O7 delivered twice"}
	fmt.Println(v)
	// Output: failover-launch: seed 3, step 412 (t=41.2s): invariant "offers" broken: offer m1-1-O7 delivered twice
}
