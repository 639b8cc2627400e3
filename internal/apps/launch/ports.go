package launch

import (
	"math/rand/v2"
	"slices"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// freePort is a port number and the pool resource it comes from.
type freePort struct {
	port uint64
	res  *mesos.Resource
}

func (p *Pool) freePorts(roles []string) []freePort {
	var out []freePort
	for _, r := range p.resources {
		if r.GetName() != "ports" || r.GetType() != mesos.Value_RANGES || !slices.Contains(roles, ResourceRole(r)) {
			continue
		}
		for _, rg := range r.GetRanges().GetRange() {
			for port := rg.GetBegin(); port <= rg.GetEnd(); port++ {
				out = append(out, freePort{port, r})
			}
		}
	}
	return out
}

// takePorts picks a host port per request: fixed ones must be free,
// dynamic ones are taken at random (consecutive where possible, so ports
// are not reused at once). It returns the ports by request index and the
// resources that hold them.
func (p *Pool) takePorts(reqs []portRequest, roles []string, rng *rand.Rand) ([]int, []*mesos.Resource, bool) {
	if len(reqs) == 0 {
		return nil, nil, true
	}
	free := p.freePorts(roles)
	used := map[uint64]*mesos.Resource{}
	out := make([]int, len(reqs))
	for i, r := range reqs {
		if r.fixed == 0 {
			continue
		}
		j := slices.IndexFunc(free, func(f freePort) bool { return f.port == uint64(r.fixed) })
		if j < 0 || used[uint64(r.fixed)] != nil {
			return nil, nil, false
		}
		used[free[j].port] = free[j].res
		out[i] = r.fixed
	}
	start := 0
	if len(free) > 0 && rng != nil {
		start = rng.IntN(len(free))
	}
	next := 0
	for i, r := range reqs {
		if !r.dynamic {
			continue
		}
		found := false
		for ; next < len(free); next++ {
			f := free[(start+next)%len(free)]
			if used[f.port] == nil {
				used[f.port] = f.res
				out[i] = int(f.port)
				found = true
				break
			}
		}
		if !found {
			return nil, nil, false
		}
	}
	return out, p.removePorts(used), true
}

// removePorts takes the used ports out of the pool's ranges and returns
// them as resources, one per source resource.
func (p *Pool) removePorts(used map[uint64]*mesos.Resource) []*mesos.Resource {
	bySource := map[*mesos.Resource][]uint64{}
	for port, res := range used {
		bySource[res] = append(bySource[res], port)
	}
	var out []*mesos.Resource
	for _, r := range p.resources {
		ports := bySource[r]
		if len(ports) == 0 {
			continue
		}
		slices.Sort(ports)
		piece := proto.Clone(r).(*mesos.Resource)
		piece.Ranges = toRanges(ports)
		out = append(out, piece)
		r.Ranges = subtract(r.GetRanges(), ports)
	}
	return out
}

func toRanges(sorted []uint64) *mesos.Value_Ranges {
	out := &mesos.Value_Ranges{}
	for _, port := range sorted {
		n := len(out.Range)
		if n > 0 && out.Range[n-1].GetEnd()+1 == port {
			out.Range[n-1].End = proto.Uint64(port)
			continue
		}
		out.Range = append(out.Range, &mesos.Value_Range{Begin: proto.Uint64(port), End: proto.Uint64(port)})
	}
	return out
}

func subtract(rs *mesos.Value_Ranges, sorted []uint64) *mesos.Value_Ranges {
	var keep []uint64
	for _, rg := range rs.GetRange() {
		for port := rg.GetBegin(); port <= rg.GetEnd(); port++ {
			if _, found := slices.BinarySearch(sorted, port); !found {
				keep = append(keep, port)
			}
		}
	}
	return toRanges(keep)
}
