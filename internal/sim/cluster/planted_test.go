package cluster

import (
	"errors"
	"testing"
)

const plantedScenario = `
masters 3
agents 4 cpus:4;mem:4096
frameworks 2 tasks=6 duration=10s
run 30s
`

// TestPlantedBugIsCaught turns on a deliberate master bug (an accepted
// offer is not removed) and checks that an invariant breaks, naming the
// seed and the step, that the same seed breaks it at the same step again,
// and that without the bug the same seed passes.
func TestPlantedBugIsCaught(t *testing.T) {
	sc, err := ParseScenario("planted", plantedScenario)
	if err != nil {
		t.Fatal(err)
	}
	const seed = 11
	_, err = sc.Run(Options{Seed: seed, KeepAcceptedOffers: true})
	var v *Violation
	if !errors.As(err, &v) {
		t.Fatalf("with the planted bug the run gave %v, want a violation", err)
	}
	t.Logf("caught: %v", v)
	if v.Seed != seed || v.Step <= 0 {
		t.Errorf("the violation names seed %d, step %d", v.Seed, v.Step)
	}
	if v.Invariant != "allocation" && v.Invariant != "offers" {
		t.Errorf("the planted bug broke %q, want the offer or allocation invariant", v.Invariant)
	}
	_, again := sc.Run(Options{Seed: seed, KeepAcceptedOffers: true})
	var w *Violation
	if !errors.As(again, &w) || w.Step != v.Step || w.Detail != v.Detail {
		t.Errorf("a second run with the same seed gave %v, want %v", again, v)
	}
	if _, err := sc.Run(Options{Seed: seed}); err != nil {
		t.Errorf("without the planted bug: %v", err)
	}
}
