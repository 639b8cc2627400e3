package master

import (
	"context"
	"time"

	"github.com/agoraproject/agora/internal/registry"
)

// Registry is what the master needs of the replicated registry:
// *registry.Registry in production, a registry.MemoryNode in the simulator.
type Registry interface {
	ID() string
	LeaderCh() <-chan bool
	Barrier(ctx context.Context) error
	State() *registry.State
	LeadingMaster() (*registry.LeadingMaster, bool)
	Apply(ctx context.Context, ops ...*registry.Operation) error
	Servers() ([]registry.Server, error)
	AddVoter(ctx context.Context, id, addr string) error
	RemoveServer(ctx context.Context, id string) error
}

// registryWriter commits operations; production batches them through a
// registry.Registrar.
type registryWriter interface {
	Apply(ctx context.Context, ops ...*registry.Operation) error
}

// newWriter is the Registrar of a real registry, else the registry itself.
func newWriter(r Registry) (w registryWriter, closeFn func()) {
	if real, ok := r.(*registry.Registry); ok {
		g := registry.NewRegistrar(real)
		return g, g.Close
	}
	return r, func() {}
}

// Clock is the master's source of time: the wall clock in production, a
// fake one in the deterministic simulator (internal/sim). Loop code reads
// time only through it.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f (on its own goroutine, or from the fake clock's
	// Advance) once d has passed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	Stop() bool
}

type wallClock struct{}

func (wallClock) Now() time.Time                            { return time.Now() }
func (wallClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
