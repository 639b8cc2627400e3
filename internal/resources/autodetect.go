package resources

import (
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

const (
	megabyte = 1 << 20
	gigabyte = 1 << 30
)

// DefaultPorts is the port range an agent offers when --resources names none.
var DefaultPorts = Range{Begin: 31000, End: 32000}

// DefaultResources computes the agent's autodetected resources (unreserved)
// from the machine totals the caller reads, as Mesos does: cpus = the CPU count
// (1 when unknown); mem = total − 1 GB when total ≥ 2 GB, else half; disk =
// total − 5 GB when total ≥ 10 GB, else half (both in whole MB, truncated);
// ports = [31000-32000]. Use only the names --resources leaves out, and
// WithDefaultRole to apply --default_role.
func DefaultResources(cpus int, memTotalBytes, diskTotalBytes uint64) Resources {
	if cpus <= 0 {
		cpus = 1
	}
	return fromValidProto([]*mesos.Resource{
		scalarProto("cpus", float64(cpus)),
		scalarProto("mem", float64(leaveHeadroom(memTotalBytes, 2*gigabyte, gigabyte)/megabyte)),
		scalarProto("disk", float64(leaveHeadroom(diskTotalBytes, 10*gigabyte, 5*gigabyte)/megabyte)),
		{
			Name:   proto.String("ports"),
			Type:   mesos.Value_RANGES.Enum(),
			Ranges: rangesProto([]Range{DefaultPorts}),
		},
	})
}

// leaveHeadroom keeps headroom for the system: total − headroom when total is
// at least threshold, else half of it.
func leaveHeadroom(total, threshold, headroom uint64) uint64 {
	if total >= threshold {
		return total - headroom
	}
	return total / 2
}

func scalarProto(name string, v float64) *mesos.Resource {
	return &mesos.Resource{
		Name:   proto.String(name),
		Type:   mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
	}
}
