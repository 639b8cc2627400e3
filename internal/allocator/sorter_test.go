package allocator

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/agoraproject/agora/internal/resources"
)

// TestSorterInvariants applies random changes to a hierarchical sorter and
// checks its structure after each: active children first, active flags and
// counts right, and, while clean, every share current and every active
// prefix sorted — the in-place moves must keep what a full re-sort would.
func TestSorterInvariants(t *testing.T) {
	paths := []string{"a", "b", "a/x", "a/y", "a/x/z", "c"}
	rapid.Check(t, func(t *rapid.T) {
		basis := &shareBasis{names: []shareName{{"cpus", 100_000}, {"mem", 400_000}}}
		weights := map[string]float64{}
		s := newSorter[string](basis, true, nil, func(p string) float64 { return max(weights[p], 1) })
		leaves := map[string]*snode[string]{}
		for range rapid.IntRange(1, 80).Draw(t, "steps") {
			path := rapid.SampledFrom(paths).Draw(t, "path")
			leaf := leaves[path]
			switch op := rapid.IntRange(0, 6).Draw(t, "op"); {
			case leaf == nil:
				leaves[path] = s.add(path, path)
			case op == 0 && leaf.alloc.IsEmpty():
				s.remove(leaf)
				delete(leaves, path)
			case op == 1:
				s.setActive(leaf, !leaf.active)
			case op == 2:
				w := rapid.SampledFrom([]float64{1, 2, 5}).Draw(t, "weight")
				weights[path] = w
				s.setWeight(path, w)
			case op == 3:
				s.refresh()
			case op == 4 && !leaf.alloc.IsEmpty():
				s.unallocated(leaf, leaf.alloc)
			default:
				s.allocated(leaf, resources.QuantitiesFromMap(map[string]resources.Scalar{
					"cpus": resources.Scalar(rapid.IntRange(0, 5).Draw(t, "cpus")) * resources.ScalarUnit,
					"mem":  resources.Scalar(rapid.IntRange(0, 20).Draw(t, "mem")) * resources.ScalarUnit,
				}))
			}
			checkNode(t, s, s.root)
		}
		s.refresh()
		checkNode(t, s, s.root)
	})
}

// checkNode checks a node's children and returns its active leaves.
func checkNode(t *rapid.T, s *sorter[string], n *snode[string]) int {
	if n.leaf {
		return boolInt(n.active)
	}
	activeLeaves := 0
	for i, c := range n.children {
		if c.parent != n {
			t.Fatalf("%q: child %q has another parent", n.path, c.path)
		}
		below := checkNode(t, s, c)
		activeLeaves += below
		if c.active != (below > 0) || (i < n.nActive) != c.active {
			t.Fatalf("%q: child %q active=%v with %d active leaves at %d (nActive %d)", n.path, c.path, c.active, below, i, n.nActive)
		}
		if s.clean() && c.active && c.share != s.shareOf(c) {
			t.Fatalf("%q: stale share %v, want %v", c.path, c.share, s.shareOf(c))
		}
	}
	if n != s.root && n.activeLeaves != activeLeaves {
		t.Fatalf("%q: activeLeaves %d, counted %d", n.path, n.activeLeaves, activeLeaves)
	}
	if act := n.children[:n.nActive]; s.clean() && !slices.IsSortedFunc(act, compareNodes[string]) {
		t.Fatalf("%q: active children out of order", n.path)
	}
	return activeLeaves
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
