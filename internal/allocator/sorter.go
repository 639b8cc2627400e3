package allocator

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/agoraproject/agora/internal/resources"
)

// shareBasis is what dominant shares are measured against: the cluster total
// of every scalar resource that takes part in fair sharing. All sorters of an
// allocator share one basis; epoch changes whenever the totals do, and each
// sorter recomputes its shares lazily when it sees a new epoch.
type shareBasis struct {
	epoch uint64
	names []shareName // sorted by name, totals > 0
}

type shareName struct {
	name  string
	total float64
}

// share is q's dominant share: the largest fraction of any total it holds.
func (b *shareBasis) share(q resources.Quantities) float64 {
	var s float64
	for _, n := range b.names {
		if v := q.Get(n.name); v > 0 {
			s = max(s, float64(v)/n.total)
		}
	}
	return s
}

// sorter orders the clients that compete for an agent's resources: the roles
// of the cluster (a tree of role paths, weights on every level) or the
// frameworks of one role (flat, all weights 1). With DRF order, children of
// every node are kept sorted by (dominant share ÷ weight, allocation count,
// path) — updated in place as allocations change, re-sorted only when the
// cluster totals or weights change. With random order (rng set), each walk
// draws a fresh weighted random order.
//
// Every node's children slice holds the active children first (those with an
// active client below them), sorted when the sorter is clean, then the
// inactive ones in no particular order. Walks never look past nActive.
type sorter[T any] struct {
	root     *snode[T]
	hier     bool                 // client paths are role paths, split on "/"
	internal map[string]*snode[T] // hierarchical sorters: internal nodes by path
	weightOf func(path string) float64
	basis    *shareBasis
	rng      *rng   // non-nil: weighted random order
	epoch    uint64 // basis epoch the shares were computed for
	dirty    bool   // weights or structure changed: re-sort before the next walk
}

// snode is a node of a sorter tree. Clients are leaves; in a hierarchical
// sorter every client is a virtual leaf "." under the internal node of its
// path, so role "a" and role "a/b" can both be clients (as in Mesos).
type snode[T any] struct {
	path         string // unique; the final tie-breaker
	parent       *snode[T]
	children     []*snode[T]
	nActive      int
	leaf         bool
	active       bool // leaf: wants offers; internal: activeLeaves > 0
	activeLeaves int
	weight       float64
	alloc        resources.Quantities // this subtree's allocation
	share        float64              // dominant share ÷ weight (valid while clean and active)
	count        uint64               // allocations made to this subtree
	visited      uint64               // walk generation that visited this node
	client       T
}

func newSorter[T any](basis *shareBasis, hier bool, random *rng, weightOf func(string) float64) *sorter[T] {
	s := &sorter[T]{root: &snode[T]{weight: 1}, hier: hier, basis: basis, rng: random, weightOf: weightOf}
	if hier {
		s.internal = map[string]*snode[T]{}
	}
	return s
}

// nodeLess is the DRF order: lower weighted share first, then fewer
// allocations, then path.
func nodeLess[T any](x, y *snode[T]) bool {
	if x.share != y.share {
		return x.share < y.share
	}
	if x.count != y.count {
		return x.count < y.count
	}
	return x.path < y.path
}

func compareNodes[T any](x, y *snode[T]) int {
	if nodeLess(x, y) {
		return -1
	}
	if nodeLess(y, x) {
		return 1
	}
	return 0
}

func (s *sorter[T]) ordered() bool { return s.rng == nil && s.clean() }

func (s *sorter[T]) clean() bool { return !s.dirty && s.epoch == s.basis.epoch }

func (s *sorter[T]) shareOf(n *snode[T]) float64 { return s.basis.share(n.alloc) / n.weight }

// add makes path a client (inactive) and returns its leaf.
func (s *sorter[T]) add(path string, client T) *snode[T] {
	parent := s.root
	if s.hier {
		parent = s.internalNode(path)
		path += "/."
	}
	leaf := &snode[T]{path: path, leaf: true, weight: 1, client: client}
	parent.attach(leaf)
	return leaf
}

// internalNode returns the internal node of a role path, creating it and its
// ancestors as needed.
func (s *sorter[T]) internalNode(path string) *snode[T] {
	if n := s.internal[path]; n != nil {
		return n
	}
	parent := s.root
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		parent = s.internalNode(path[:i])
	}
	n := &snode[T]{path: path, weight: s.weightOf(path)}
	parent.attach(n)
	s.internal[path] = n
	return n
}

// attach adds an inactive child.
func (n *snode[T]) attach(child *snode[T]) {
	child.parent = n
	n.children = append(n.children, child)
}

// remove drops a client, giving back its allocation, and prunes internal
// nodes left without clients.
func (s *sorter[T]) remove(leaf *snode[T]) {
	if !leaf.alloc.IsEmpty() {
		s.update(leaf, leaf.alloc, false)
	}
	s.setActive(leaf, false)
	for n := leaf; n != s.root && (n.leaf || len(n.children) == 0); {
		p := n.parent
		p.detachInactive(n)
		if !n.leaf {
			delete(s.internal, n.path)
		}
		n = p
	}
}

func (n *snode[T]) detachInactive(child *snode[T]) {
	i := n.nActive + slices.Index(n.children[n.nActive:], child)
	last := len(n.children) - 1
	n.children[i] = n.children[last]
	n.children[last] = nil
	n.children = n.children[:last]
}

// setWeight changes the weight of a role path's subtree.
func (s *sorter[T]) setWeight(path string, w float64) {
	if n := s.internal[path]; n != nil && n.weight != w {
		n.weight = w
		s.dirty = true
	}
}

// setActive turns a client's wish for offers on or off.
func (s *sorter[T]) setActive(leaf *snode[T], on bool) {
	if leaf.active == on {
		return
	}
	delta := 1
	if !on {
		delta = -1
	}
	for c := leaf; c != s.root; c = c.parent {
		was := c.active
		if c.leaf {
			c.active = on
		} else {
			c.activeLeaves += delta
			c.active = c.activeLeaves > 0
		}
		switch {
		case c.active == was: // ancestors still count the leaf
		case c.active:
			s.activateChild(c.parent, c)
		default:
			s.deactivateChild(c.parent, c)
		}
	}
	s.root.activeLeaves += delta
}

func (s *sorter[T]) activateChild(p, c *snode[T]) {
	j := p.nActive + slices.Index(p.children[p.nActive:], c)
	p.children[j], p.children[p.nActive] = p.children[p.nActive], p.children[j]
	p.nActive++
	if s.ordered() {
		c.share = s.shareOf(c)
		p.move(p.nActive - 1)
	}
}

func (s *sorter[T]) deactivateChild(p, c *snode[T]) {
	i := slices.Index(p.children[:p.nActive], c)
	copy(p.children[i:], p.children[i+1:p.nActive])
	p.children[p.nActive-1] = c
	p.nActive--
}

// allocated charges q to a client (and its ancestors) and counts one
// allocation; unallocated gives q back.
func (s *sorter[T]) allocated(leaf *snode[T], q resources.Quantities) { s.update(leaf, q, true) }

func (s *sorter[T]) unallocated(leaf *snode[T], q resources.Quantities) { s.update(leaf, q, false) }

// update changes the allocation along the path from leaf to the root. While
// the sorter is clean, each changed node moves to its new place among its
// siblings (binary search and one copy), so the order stays exact without a
// re-sort.
func (s *sorter[T]) update(leaf *snode[T], q resources.Quantities, add bool) {
	ordered := s.ordered()
	for c := leaf; c != s.root; c = c.parent {
		i := -1
		if ordered && c.active {
			i = c.parent.indexOf(c)
		}
		if add {
			c.alloc = c.alloc.Add(q)
			c.count++
		} else {
			c.alloc = c.alloc.Subtract(q)
		}
		if i >= 0 {
			c.share = s.shareOf(c)
			c.parent.move(i)
		}
	}
}

// indexOf finds an active child in the sorted active prefix.
func (n *snode[T]) indexOf(c *snode[T]) int {
	act := n.children[:n.nActive]
	i, _ := slices.BinarySearchFunc(act, c, compareNodes[T])
	if i >= len(act) || act[i] != c {
		panic(fmt.Sprintf("allocator: sorter node %q is out of order", c.path))
	}
	return i
}

// move shifts the active child at i, whose key changed, to its sorted place.
func (n *snode[T]) move(i int) {
	act := n.children[:n.nActive]
	c := act[i]
	switch {
	case i+1 < len(act) && nodeLess(act[i+1], c):
		rest := act[i+1:]
		j := i + 1 + searchAfter(rest, c)
		copy(act[i:j-1], act[i+1:j])
		act[j-1] = c
	case i > 0 && nodeLess(c, act[i-1]):
		k := searchAfter(act[:i], c)
		copy(act[k+1:i+1], act[k:i])
		act[k] = c
	}
}

// searchAfter returns the first index in sorted s whose node sorts after c.
func searchAfter[T any](s []*snode[T], c *snode[T]) int {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if nodeLess(c, s[m]) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// refresh recomputes every active share and re-sorts, if totals, weights or
// structure changed since the last sort.
func (s *sorter[T]) refresh() {
	if s.clean() {
		return
	}
	s.resort(s.root)
	s.dirty, s.epoch = false, s.basis.epoch
}

func (s *sorter[T]) resort(n *snode[T]) {
	act := n.children[:n.nActive]
	for _, c := range act {
		c.share = s.shareOf(c)
		if !c.leaf {
			s.resort(c)
		}
	}
	slices.SortFunc(act, compareNodes[T])
}

// walk visits the active clients in order until visit returns true (and
// reports whether it did). Allocations made by visit reorder the tree, but
// the walk keeps the order it started with, as if it walked a snapshot: a
// node that moves right is not visited twice (gen marks visited nodes) and
// the sibling that slides into its place is visited next.
func (s *sorter[T]) walk(gen uint64, visit func(T) bool) bool {
	if s.root.nActive == 0 {
		return false
	}
	if s.rng != nil {
		return s.walkRandom(s.root, visit)
	}
	s.refresh()
	return s.walkSorted(s.root, gen, visit)
}

func (s *sorter[T]) walkSorted(n *snode[T], gen uint64, visit func(T) bool) bool {
	for i := 0; i < n.nActive; {
		c := n.children[i]
		if c.visited == gen {
			i++
			continue
		}
		c.visited = gen
		var stop bool
		if c.leaf {
			stop = visit(c.client)
		} else {
			stop = s.walkSorted(c, gen, visit)
		}
		if stop {
			return true
		}
		if n.children[i] == c {
			i++
		}
	}
	return false
}

func (s *sorter[T]) walkRandom(n *snode[T], visit func(T) bool) bool {
	for _, c := range s.randomOrder(n.children[:n.nActive]) {
		var stop bool
		if c.leaf {
			stop = visit(c.client)
		} else {
			stop = s.walkRandom(c, visit)
		}
		if stop {
			return true
		}
	}
	return false
}

// randomOrder returns nodes in a weighted random order.
func (s *sorter[T]) randomOrder(nodes []*snode[T]) []*snode[T] {
	type keyed struct {
		key float64
		n   *snode[T]
	}
	ks := make([]keyed, len(nodes))
	for i, c := range nodes {
		ks[i] = keyed{s.rng.weightedKey(c.weight), c}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	out := make([]*snode[T], len(ks))
	for i, k := range ks {
		out[i] = k.n
	}
	return out
}

// orderClients sorts active leaves into walk order: DRF tree order, or for
// a random sorter a weighted random order (weights of the leaves' paths).
func (s *sorter[T]) orderClients(leaves []*snode[T]) {
	if s.rng != nil {
		keys := make(map[*snode[T]]float64, len(leaves))
		for _, l := range leaves {
			w := l.weight
			if s.hier {
				w = l.parent.weight
			}
			keys[l] = s.rng.weightedKey(w)
		}
		slices.SortStableFunc(leaves, func(x, y *snode[T]) int { return cmp.Compare(keys[x], keys[y]) })
		return
	}
	s.refresh()
	slices.SortFunc(leaves, func(x, y *snode[T]) int {
		if s.before(x, y) {
			return -1
		}
		if s.before(y, x) {
			return 1
		}
		return 0
	})
}

// before reports whether leaf x comes before leaf y in DRF tree order.
func (s *sorter[T]) before(x, y *snode[T]) bool {
	if x == y {
		return false
	}
	dx, dy := depth(x), depth(y)
	for ; dx > dy; dx-- {
		x = x.parent
	}
	for ; dy > dx; dy-- {
		y = y.parent
	}
	for x.parent != y.parent {
		x, y = x.parent, y.parent
	}
	return nodeLess(x, y)
}

func depth[T any](n *snode[T]) int {
	d := 0
	for ; n.parent != nil; n = n.parent {
		d++
	}
	return d
}
