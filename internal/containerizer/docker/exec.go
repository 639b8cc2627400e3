package docker

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// NetNS is the network namespace of the container's main process
// (/proc/<pid>/ns/net), "" when the container shares the host's network
// or its process is not known. Mesos' docker executor runs a task's HTTP
// and TCP checks in it.
func (c *Container) NetNS(ctx context.Context) (string, error) {
	r, err := c.e.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("docker: inspecting %s: %w", c.Name, err)
	}
	ct := r.Container
	if ct.HostConfig != nil && ct.HostConfig.NetworkMode.IsHost() {
		return "", nil
	}
	if ct.State == nil || ct.State.Pid <= 0 {
		return "", fmt.Errorf("docker: %s has no running process", c.Name)
	}
	return fmt.Sprintf("/proc/%d/ns/net", ct.State.Pid), nil
}

// Exec runs cmd in the container (`docker exec`), its output discarded,
// and returns its exit code once it has ended. When ctx ends first the
// command is left to run (the Engine cannot kill an exec) and ctx's error
// is returned.
func (c *Container) Exec(ctx context.Context, cmd, env []string) (int, error) {
	created, err := c.e.cli.ExecCreate(ctx, c.ID, client.ExecCreateOptions{Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, fmt.Errorf("docker: exec in %s: %w", c.Name, err)
	}
	attached, err := c.e.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("docker: exec in %s: %w", c.Name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		stdcopy.StdCopy(io.Discard, io.Discard, attached.Reader)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	attached.Close()
	<-done
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	// The output ends as the command does; the Engine may record its exit
	// a moment later.
	for {
		r, err := c.e.cli.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return 0, fmt.Errorf("docker: exec in %s: %w", c.Name, err)
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
