package containerizer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// ErrDockerDisabled is returned for a DOCKER container on an agent whose
// --containerizers does not include docker.
var ErrDockerDisabled = errors.New("the docker containerizer is not enabled on this agent (--containerizers=docker,mesos)")

// Composite routes each container to the containerizer its ContainerInfo
// asks for, as Mesos' --containerizers does: type DOCKER to Docker, the
// rest to Mesos (posix or linux), but Agora's own executors to Hosted
// when there is one.
type Composite struct {
	Mesos Containerizer
	// Docker is nil when the docker containerizer is not enabled.
	Docker Containerizer
	// Hosted, when set, runs the built-in executors of MESOS containers
	// (the executor host; package hosted).
	Hosted Adopter

	mu    sync.Mutex
	owner map[string]Containerizer
}

// NewComposite returns a Composite; docker may be nil.
func NewComposite(mesosContainerizer, docker Containerizer) *Composite {
	return &Composite{Mesos: mesosContainerizer, Docker: docker, owner: make(map[string]Containerizer)}
}

// Adopter is a containerizer that recovers only the containers it holds.
type Adopter interface {
	Containerizer
	// Adopt recovers those of known that it holds, and returns the rest.
	Adopt(ctx context.Context, known []RecoverSpec) (rest []RecoverSpec, err error)
}

// chooseFor picks the containerizer that launches spec.
func (c *Composite) chooseFor(spec LaunchSpec) (Containerizer, error) {
	o, err := c.choose(spec.Container)
	if err == nil && o == c.Mesos && spec.BuiltinExecutor && c.Hosted != nil {
		return c.Hosted, nil
	}
	return o, err
}

func (c *Composite) choose(info *mesos.ContainerInfo) (Containerizer, error) {
	if info == nil || info.GetType() != mesos.ContainerInfo_DOCKER { // type is required: nil reads as DOCKER
		return c.Mesos, nil
	}
	if c.Docker == nil {
		return nil, ErrDockerDisabled
	}
	return c.Docker, nil
}

func (c *Composite) of(containerID string) (Containerizer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.owner[containerID]; ok {
		return o, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownContainer, containerID)
}

func (c *Composite) own(containerID string, o Containerizer) {
	c.mu.Lock()
	c.owner[containerID] = o
	c.mu.Unlock()
}

// Launch starts the container with the containerizer its type picks, or
// with Mesos when the executor host declines it (ErrUnavailable).
func (c *Composite) Launch(ctx context.Context, spec LaunchSpec) (int, error) {
	o, err := c.chooseFor(spec)
	if err != nil {
		return 0, err
	}
	c.own(spec.ContainerID, o)
	pid, err := o.Launch(ctx, spec)
	if errors.Is(err, ErrUnavailable) && o != c.Mesos {
		c.own(spec.ContainerID, c.Mesos)
		return c.Mesos.Launch(ctx, spec)
	}
	return pid, err
}

// Wait waits on the container's containerizer.
func (c *Composite) Wait(ctx context.Context, containerID string) (ExitStatus, error) {
	o, err := c.of(containerID)
	if err != nil {
		return ExitStatus{}, err
	}
	return o.Wait(ctx, containerID)
}

// Destroy destroys the container through its containerizer.
func (c *Composite) Destroy(ctx context.Context, containerID string) error {
	o, err := c.of(containerID)
	if err != nil {
		return err
	}
	return o.Destroy(ctx, containerID)
}

// Usage samples the container through its containerizer.
func (c *Composite) Usage(containerID string) (*mesos.ResourceStatistics, error) {
	o, err := c.of(containerID)
	if err != nil {
		return nil, err
	}
	return o.Usage(containerID)
}

// Forget drops an ended container here and in its containerizer.
func (c *Composite) Forget(containerID string) {
	o, err := c.of(containerID)
	if err != nil {
		return
	}
	o.Forget(containerID)
	c.mu.Lock()
	defer c.mu.Unlock()
	// The owner keeps a container that has not ended; so does the route.
	if _, err := o.Wait(canceled, containerID); errors.Is(err, ErrUnknownContainer) {
		delete(c.owner, containerID)
	}
}

// canceled is a done context: Wait with it answers at once, with
// ErrUnknownContainer for a container its containerizer forgot.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Recover gives Hosted the containers it holds and hands each other one to
// the containerizer its ContainerInfo picks (RecoverSpec.Container; none
// means Mesos). Every containerizer recovers, with no container too: it
// may have leftovers to clean up.
func (c *Composite) Recover(ctx context.Context, known []RecoverSpec) error {
	var errs []error
	if c.Hosted != nil {
		rest, err := c.Hosted.Adopt(ctx, known)
		errs = append(errs, err)
		held := make(map[string]bool, len(known))
		for _, spec := range known {
			held[spec.ContainerID] = true
		}
		for _, spec := range rest {
			delete(held, spec.ContainerID)
		}
		for id := range held {
			c.own(id, c.Hosted)
		}
		known = rest
	}
	byOwner := map[Containerizer][]RecoverSpec{c.Mesos: nil}
	if c.Docker != nil {
		byOwner[c.Docker] = nil
	}
	for _, spec := range known {
		o, err := c.choose(spec.Container)
		if err != nil {
			o = c.Mesos // docker disabled since: the Mesos side still knows the executor's process
		}
		c.own(spec.ContainerID, o)
		byOwner[o] = append(byOwner[o], spec)
	}
	for o, specs := range byOwner {
		errs = append(errs, o.Recover(ctx, specs))
	}
	return errors.Join(errs...)
}
