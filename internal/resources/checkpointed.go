package resources

import (
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// WithCheckpointed is an agent's total: its static resources with its
// checkpointed ones (dynamic reservations and persistent volumes) applied,
// each replacing the plain resources it was made from, as Mesos' master
// and agent both compute it. A checkpointed resource that does not fit the
// static ones (--resources changed since) is left out and returned in
// unfit.
func WithCheckpointed(static, checkpointed Resources) (total Resources, unfit []Resources) {
	total = static
	for _, p := range checkpointed.ToProto(PostRefinement) {
		one := MustFromProto([]*mesos.Resource{p})
		base, err := FromProto([]*mesos.Resource{baseOf(p)})
		if err != nil || !total.Contains(base) {
			unfit = append(unfit, one)
			continue
		}
		total = total.Subtract(base).Add(one)
	}
	return total, unfit
}

// baseOf is the plain resource a checkpointed one was made from: without
// persistence and without the dynamic reservations on top of its stack.
func baseOf(p *mesos.Resource) *mesos.Resource {
	b := proto.CloneOf(p)
	b.Shared = nil
	if b.Disk != nil && b.Disk.Persistence != nil {
		b.Disk = nil
		if src := p.GetDisk().GetSource(); src != nil {
			b.Disk = &mesos.Resource_DiskInfo{Source: src}
		}
	}
	n := len(b.Reservations)
	for n > 0 && b.Reservations[n-1].GetType() == mesos.Resource_ReservationInfo_DYNAMIC {
		n--
	}
	b.Reservations = b.Reservations[:n]
	return b
}
