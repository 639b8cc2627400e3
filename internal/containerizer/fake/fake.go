// Package fake is an in-memory Containerizer for tests and the simulator.
// Containers start no process: Launch records the spec and calls the
// optional OnLaunch hook (where a test or the simulator may start an
// in-process executor), and a container "runs" until Exit or Destroy ends it.
package fake

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
)

// Containerizer is the fake. The zero value is not usable; call New.
type Containerizer struct {
	// OnLaunch, when set, is called (without locks held) after each
	// successful Launch.
	OnLaunch func(spec containerizer.LaunchSpec)

	mu         sync.Mutex
	nextPid    int
	containers map[string]*container
	history    []containerizer.LaunchSpec // every launch and recovery, in order
	launched   chan containerizer.LaunchSpec
	launchErr  error
}

// SetLaunchError makes every later Launch fail with err (nil: succeed).
func (f *Containerizer) SetLaunchError(err error) {
	f.mu.Lock()
	f.launchErr = err
	f.mu.Unlock()
}

type container struct {
	spec   containerizer.LaunchSpec
	pid    int
	done   chan struct{}
	status containerizer.ExitStatus
}

// New returns an empty fake containerizer.
func New() *Containerizer {
	return &Containerizer{
		nextPid:    1000,
		containers: make(map[string]*container),
		launched:   make(chan containerizer.LaunchSpec, 1024),
	}
}

// Launch records spec and pretends to start it.
func (f *Containerizer) Launch(ctx context.Context, spec containerizer.LaunchSpec) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	if f.launchErr != nil {
		f.mu.Unlock()
		return 0, f.launchErr
	}
	if _, dup := f.containers[spec.ContainerID]; dup {
		f.mu.Unlock()
		return 0, fmt.Errorf("fake: container %s already exists", spec.ContainerID)
	}
	f.nextPid++
	c := &container{spec: spec, pid: f.nextPid, done: make(chan struct{})}
	f.containers[spec.ContainerID] = c
	f.history = append(f.history, spec)
	f.mu.Unlock()
	select {
	case f.launched <- spec:
	default:
	}
	if f.OnLaunch != nil {
		f.OnLaunch(spec)
	}
	return c.pid, nil
}

// Launched delivers the spec of every launch, in order (buffered; launches
// beyond the buffer are not delivered here but still listed by Specs).
func (f *Containerizer) Launched() <-chan containerizer.LaunchSpec { return f.launched }

// Specs returns the specs of all launched containers, in launch order.
func (f *Containerizer) Specs() []containerizer.LaunchSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]containerizer.LaunchSpec(nil), f.history...)
}

// Running reports whether the container was launched and has not ended.
func (f *Containerizer) Running(containerID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[containerID]
	return ok && !containerizer.Ended(c.done)
}

// Exit ends a running container with the given exit code.
func (f *Containerizer) Exit(containerID string, code int) error {
	return f.end(containerID, containerizer.ExitStatus{
		WaitStatus: syscall.WaitStatus(code&0xff) << 8, Known: true,
	})
}

func (f *Containerizer) end(containerID string, status containerizer.ExitStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[containerID]
	if !ok {
		return fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, containerID)
	}
	if containerizer.Ended(c.done) {
		return nil
	}
	c.status = status
	close(c.done)
	return nil
}

// Wait blocks until the container ends or ctx is done.
func (f *Containerizer) Wait(ctx context.Context, containerID string) (containerizer.ExitStatus, error) {
	f.mu.Lock()
	c, ok := f.containers[containerID]
	f.mu.Unlock()
	if !ok {
		return containerizer.ExitStatus{}, fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, containerID)
	}
	return containerizer.AwaitEnd(ctx, c.done, &c.status)
}

// Destroy ends the container as if SIGKILLed.
func (f *Containerizer) Destroy(ctx context.Context, containerID string) error {
	return f.end(containerID, containerizer.ExitStatus{
		WaitStatus: syscall.WaitStatus(syscall.SIGKILL), Known: true, Destroyed: true,
	})
}

// Usage reports a fixed small usage for a running container.
func (f *Containerizer) Usage(containerID string) (*mesos.ResourceStatistics, error) {
	if !f.Running(containerID) {
		return nil, fmt.Errorf("%w: %s is not running", containerizer.ErrUnknownContainer, containerID)
	}
	return &mesos.ResourceStatistics{
		Timestamp:   proto.Float64(float64(time.Now().UnixNano()) / 1e9),
		Processes:   proto.Uint32(1),
		Threads:     proto.Uint32(1),
		MemRssBytes: proto.Uint64(1 << 20),
	}, nil
}

// Forget drops an ended container.
func (f *Containerizer) Forget(containerID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[containerID]; ok && containerizer.Ended(c.done) {
		delete(f.containers, containerID)
	}
}

// Recover adopts every listed container as running.
func (f *Containerizer) Recover(ctx context.Context, known []containerizer.RecoverSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range known {
		f.containers[k.ContainerID] = &container{
			spec: containerizer.LaunchSpec{ContainerID: k.ContainerID}, pid: k.Pid, done: make(chan struct{}),
		}
		f.history = append(f.history, containerizer.LaunchSpec{ContainerID: k.ContainerID})
	}
	return nil
}

var _ containerizer.Containerizer = (*Containerizer)(nil)
