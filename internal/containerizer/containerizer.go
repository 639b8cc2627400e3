// Package containerizer starts, watches and stops the processes that run
// executors: the seam between the agent and the operating system.
//
// The agent speaks to one Containerizer. A container is a group of processes
// started from a LaunchSpec and named by a container ID the agent chooses.
// The agent calls Launch once per container, then Wait (usually in the
// goroutine that owns the executor) to learn when and how it ended, Destroy
// to end it early, and Usage for /monitor/statistics. Recover re-adopts
// containers that outlived an agent restart, found by pid in the agent's
// checkpoint.
//
// Contracts every implementation keeps:
//
//   - Launch returns once the process runs (or failed to start); it never
//     waits for the container to end.
//   - Wait may be called any number of times, by any number of goroutines,
//     before or after the container ended; each call returns the same
//     ExitStatus. It returns ErrUnknownContainer for IDs never launched or
//     recovered.
//   - Destroy kills every process of the container and returns after the
//     container has ended (Wait then returns). Destroying an ended container
//     is not an error.
//   - A container survives the death of the agent: it is not a child that
//     dies with its parent.
//
// Implementations: Posix (a session per container, no resource isolation)
// in this package; package hosted (Agora's own executors as goroutines of
// one executor host process, each task in a session of its own); package
// linux (namespaces, cgroups, image root filesystems; needs root); package
// docker (ContainerInfo.type DOCKER, through the Docker Engine API);
// Composite, which routes each container to one of them; an in-memory fake
// in package fake for tests and the simulator.
package containerizer

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// ErrUnknownContainer is returned for a container ID that was never launched
// or recovered.
var ErrUnknownContainer = errors.New("containerizer: unknown container")

// ErrUnavailable is returned by a containerizer that takes no new
// container for now (an executor host of another version, draining); the
// Composite launches the container with its Mesos containerizer instead.
var ErrUnavailable = errors.New("containerizer: not taking new containers")

// LaunchSpec describes one container's first process.
type LaunchSpec struct {
	// ContainerID names the container; the agent makes it (a random UUID).
	ContainerID string
	// Sandbox is the container's host directory; it exists before Launch.
	Sandbox string
	// Path is the program to run; empty means Argv[0], looked up in PATH.
	Path string
	// Argv is the argument vector, Argv[0] included.
	Argv []string
	// Env is the complete environment ("NAME=value").
	Env []string
	// Dir is the working directory; empty means Sandbox.
	Dir string
	// User runs the process as this user (the agent must be root); empty
	// means the agent's own user.
	User string
	// Stdout and Stderr are files the process writes to; they are opened
	// for appending and created when missing.
	Stdout, Stderr string
	// Resources are the container's resources, for isolators that enforce
	// them.
	Resources []*mesos.Resource
	// Container is the ContainerInfo the container is made from: its type
	// picks the containerizer; hostname, image, volumes and network shape
	// it. nil is a plain MESOS container.
	Container *mesos.ContainerInfo
	// ImageForTask says Container's image is the task's, not the
	// executor's: the executor runs on the host's filesystem and starts
	// its task in the image, as Mesos runs command tasks.
	ImageForTask bool
	// BuiltinExecutor says the first process is Agora's own executor,
	// which reaps orphans and handles SIGTERM itself: the linux
	// containerizer runs it as PID 1 of the container instead of under an
	// init.
	BuiltinExecutor bool
}

// Limitation is a resource limit the container ran into, which ended it.
type Limitation struct {
	// Reason is the task status reason, e.g.
	// REASON_CONTAINER_LIMITATION_MEMORY.
	Reason mesos.TaskStatus_Reason
	// Message says what happened.
	Message string
	// Resources are the limited resources (TaskStatus.limitation).
	Resources []*mesos.Resource
}

// ExitStatus is how a container ended.
type ExitStatus struct {
	// WaitStatus is the raw wait(2) status of the container's first process;
	// meaningful only when Known.
	WaitStatus syscall.WaitStatus
	// Known is false when the status could not be learnt (a recovered
	// process is not our child, so its exit code is lost).
	Known bool
	// Destroyed is true when Destroy ended the container.
	Destroyed bool
	// Message says what happened, for logs and task status messages.
	Message string
	// Limitation, when set, is the resource limit that ended the
	// container.
	Limitation *Limitation
}

// String describes the status the way task messages do.
func (s ExitStatus) String() string {
	switch {
	case s.Limitation != nil:
		return s.Limitation.Message
	case s.Message != "":
		return s.Message
	case !s.Known:
		return "exit status unknown"
	case s.WaitStatus.Exited():
		return fmt.Sprintf("exited with status %d", s.WaitStatus.ExitStatus())
	case s.WaitStatus.Signaled():
		return fmt.Sprintf("terminated by signal %s", s.WaitStatus.Signal())
	}
	return fmt.Sprintf("wait status %#x", int(s.WaitStatus))
}

// RecoverSpec names a container that may have outlived an agent restart.
type RecoverSpec struct {
	ContainerID string
	// Pid is the container's first process, from the checkpoint
	// (runs/<container_id>/pids/forked.pid).
	Pid int
	// Container is the ContainerInfo it was launched with (the executor's,
	// or a command task's), from the checkpoint; Composite routes by its
	// type. nil is a MESOS container.
	Container *mesos.ContainerInfo
}

// Containerizer starts and watches containers. See the package doc for the
// contracts.
type Containerizer interface {
	// Launch starts the container and returns its first process's pid.
	Launch(ctx context.Context, spec LaunchSpec) (pid int, err error)
	// Wait blocks until the container ends or ctx is done.
	Wait(ctx context.Context, containerID string) (ExitStatus, error)
	// Destroy kills all the container's processes and waits for its end.
	Destroy(ctx context.Context, containerID string) error
	// Usage samples the container's resource usage.
	Usage(containerID string) (*mesos.ResourceStatistics, error)
	// Recover adopts the listed containers that are still alive; the others
	// are known as ended with an unknown status.
	Recover(ctx context.Context, known []RecoverSpec) error
	// Forget drops the record of an ended container, once its end has been
	// dealt with; the container is unknown afterwards. A container that
	// has not ended is kept.
	Forget(containerID string)
}

// AwaitEnd is a containerizer's Wait once it has found the container:
// status is set before done is closed, so it is read once done is closed;
// ctx's error returns if ctx ends first.
func AwaitEnd(ctx context.Context, done <-chan struct{}, status *ExitStatus) (ExitStatus, error) {
	select {
	case <-done:
		return *status, nil
	case <-ctx.Done():
		return ExitStatus{}, ctx.Err()
	}
}

// Ended reports whether a container's done channel is closed: the
// container has ended and its status is set.
func Ended(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
