// Package launch matches app instances to offers and builds their tasks
// (reference §4.11): roles (acceptedResourceRoles or the app role plus
// "*"), scalar resources, host ports (random from the offer's ranges, or
// the literal ports of requirePorts and fixed hostPorts), then the TaskInfo
// with its command or container, environment (PORT0.., PORTS, HOST,
// MARATHON_APP_*), fetch URIs, Mesos-side health check, kill policy,
// labels and discovery info. It is pure; randomness is a seeded argument.
package launch

import (
	"math"
	"math/rand/v2"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// Pool is what is left of one offer while instances are placed on it.
type Pool struct {
	Offer     *mesos.Offer
	resources []*mesos.Resource
}

// NewPool starts a pool with all of the offer's resources.
func NewPool(offer *mesos.Offer) *Pool {
	p := &Pool{Offer: offer}
	for _, r := range offer.GetResources() {
		p.resources = append(p.resources, proto.Clone(r).(*mesos.Resource))
	}
	return p
}

// Match is the resources and host ports one instance takes.
type Match struct {
	Resources []*mesos.Resource
	// HostPorts are the host ports by port index; 0 where the port has no
	// host port (container networking without hostPort).
	HostPorts []int
}

// AcceptedRoles are the resource roles an app may use.
func AcceptedRoles(app *marathon.App) []string {
	if len(app.AcceptedResourceRoles) > 0 {
		return app.AcceptedResourceRoles
	}
	if app.Role == "" || app.Role == "*" {
		return []string{"*"}
	}
	return []string{app.Role, "*"}
}

// ResourceRole is the role a resource is allocated to: its last
// reservation's role, or its (deprecated) role field.
func ResourceRole(r *mesos.Resource) string {
	if rs := r.GetReservations(); len(rs) > 0 {
		return rs[len(rs)-1].GetRole()
	}
	return r.GetRole()
}

// Take places one instance of app: it returns the resources taken, or the
// reasons (marathon.Reason*) it does not fit. On failure the pool is
// unchanged.
func (p *Pool) Take(app *marathon.App, rng *rand.Rand) (Match, []string) {
	roles := AcceptedRoles(app)
	if !p.hasRole(roles) {
		return Match{}, []string{marathon.ReasonUnfulfilledRole}
	}
	trial := &Pool{Offer: p.Offer, resources: cloneAll(p.resources)}
	var m Match
	var reasons []string
	for _, want := range []struct {
		name   string
		amount float64
		reason string
	}{
		{"cpus", app.CPUs, marathon.ReasonInsufficientCpus},
		{"mem", app.Mem, marathon.ReasonInsufficientMemory},
		{"disk", app.Disk, marathon.ReasonInsufficientDisk},
		{"gpus", float64(app.GPUs), marathon.ReasonInsufficientGpus},
	} {
		taken, ok := trial.takeScalar(want.name, want.amount, roles)
		if !ok {
			reasons = append(reasons, want.reason)
		}
		m.Resources = append(m.Resources, taken...)
	}
	ports, taken, ok := trial.takePorts(portRequests(app), roles, rng)
	if !ok {
		reasons = append(reasons, marathon.ReasonInsufficientPorts)
	}
	if len(reasons) > 0 {
		return Match{}, reasons
	}
	m.Resources = append(m.Resources, taken...)
	m.HostPorts = ports
	p.resources = trial.resources
	return m, nil
}

func cloneAll(rs []*mesos.Resource) []*mesos.Resource {
	out := make([]*mesos.Resource, len(rs))
	for i, r := range rs {
		out[i] = proto.Clone(r).(*mesos.Resource)
	}
	return out
}

func (p *Pool) hasRole(roles []string) bool {
	for _, r := range p.resources {
		if slices.Contains(roles, ResourceRole(r)) {
			return true
		}
	}
	return false
}

// round3 keeps scalars at Mesos' three decimals.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// takeScalar takes amount of a scalar from resources of accepted roles, in
// offer order.
func (p *Pool) takeScalar(name string, amount float64, roles []string) ([]*mesos.Resource, bool) {
	amount = round3(amount)
	if amount <= 0 {
		return nil, true
	}
	var out []*mesos.Resource
	for _, r := range p.resources {
		if amount <= 0 {
			break
		}
		if r.GetName() != name || r.GetType() != mesos.Value_SCALAR || !slices.Contains(roles, ResourceRole(r)) || r.GetDisk() != nil {
			continue
		}
		have := r.GetScalar().GetValue()
		take := round3(math.Min(have, amount))
		if take <= 0 {
			continue
		}
		piece := proto.Clone(r).(*mesos.Resource)
		piece.Scalar = &mesos.Value_Scalar{Value: proto.Float64(take)}
		out = append(out, piece)
		r.Scalar.Value = proto.Float64(round3(have - take))
		amount = round3(amount - take)
	}
	return out, amount <= 0
}

// portRequest is one port of an app: fixed (a literal host port), dynamic
// (any host port), or none (no host port).
type portRequest struct {
	fixed   int
	dynamic bool
}

func portRequests(app *marathon.App) []portRequest {
	var out []portRequest
	if spec.HostNetworking(app) {
		for _, pd := range app.PortDefinitions {
			if app.RequirePorts {
				out = append(out, portRequest{fixed: pd.Port})
			} else {
				out = append(out, portRequest{dynamic: true})
			}
		}
		return out
	}
	if app.Container != nil {
		for _, pm := range app.Container.PortMappings {
			switch {
			case pm.HostPort == nil:
				out = append(out, portRequest{})
			case *pm.HostPort == 0:
				out = append(out, portRequest{dynamic: true})
			default:
				out = append(out, portRequest{fixed: *pm.HostPort})
			}
		}
	}
	return out
}
