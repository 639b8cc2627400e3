package allocator

import (
	"container/heap"
	"slices"
	"time"

	"github.com/agoraproject/agora/internal/resources"
)

// offerFilter hides, from one framework in one role on one agent, any set of
// resources contained in refused, until expires (Mesos' RefusedOfferFilter).
// A framework may have several filters on an agent; each expires on its own.
type offerFilter struct {
	fr      *fwRole
	agent   *agent
	refused resources.Resources // unallocated form
	expires time.Time
	index   int // in the expiry heap
}

// filterHeap orders live filters by expiry, so each cycle drops the expired
// ones without scanning the others.
type filterHeap []*offerFilter

func (h filterHeap) Len() int           { return len(h) }
func (h filterHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h filterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *filterHeap) Push(x any) {
	f := x.(*offerFilter)
	f.index = len(*h)
	*h = append(*h, f)
}

func (h *filterHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	f.index = -1
	return f
}

// addFilter installs a refusal filter.
func (a *Allocator) addFilter(fr *fwRole, ag *agent, refused resources.Resources, expires time.Time) {
	if refused.IsEmpty() {
		return
	}
	f := &offerFilter{fr: fr, agent: ag, refused: refused, expires: expires}
	if fr.filters == nil {
		fr.filters = map[*agent][]*offerFilter{}
	}
	fr.filters[ag] = append(fr.filters[ag], f)
	fr.role.filters++
	heap.Push(&a.filters, f)
}

// isFiltered reports whether a filter of fr on ag hides res.
func (fr *fwRole) isFiltered(ag *agent, res resources.Resources) bool {
	if fr.filters == nil {
		return false
	}
	for _, f := range fr.filters[ag] {
		if f.refused.Contains(res) {
			return true
		}
	}
	return false
}

// expireFilters drops the filters that expire at or before now.
func (a *Allocator) expireFilters(now time.Time) {
	for len(a.filters) > 0 && !now.Before(a.filters[0].expires) {
		f := heap.Pop(&a.filters).(*offerFilter)
		a.unlinkFilter(f)
	}
}

// unlinkFilter removes a filter from its framework role's index.
func (a *Allocator) unlinkFilter(f *offerFilter) {
	fs := f.fr.filters[f.agent]
	i := slices.Index(fs, f)
	fs = slices.Delete(fs, i, i+1)
	if len(fs) == 0 {
		delete(f.fr.filters, f.agent)
	} else {
		f.fr.filters[f.agent] = fs
	}
	f.fr.role.filters--
}

// clearFilters drops all filters of a framework in a role (REVIVE). The
// order in which they leave the heap does not matter to any result.
func (a *Allocator) clearFilters(fr *fwRole) {
	for _, fs := range fr.filters {
		for _, f := range fs {
			heap.Remove(&a.filters, f.index)
			fr.role.filters--
		}
	}
	fr.filters = nil
}

// clearAgentFilters drops every filter for an agent.
func (a *Allocator) clearAgentFilters(ag *agent) {
	for _, fw := range a.frameworks {
		for _, fr := range fw.roles {
			for _, f := range fr.filters[ag] {
				heap.Remove(&a.filters, f.index)
				fr.role.filters--
			}
			delete(fr.filters, ag)
		}
	}
}
