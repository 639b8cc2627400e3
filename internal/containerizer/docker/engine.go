package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Engine is a connection to a Docker Engine.
type Engine struct {
	cli    *client.Client
	socket string
}

// Connect opens the Engine API on a Unix socket and checks that it answers.
func Connect(ctx context.Context, socket string) (*Engine, error) {
	cli, err := client.New(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: no Docker Engine answers at unix://%s: %w", socket, err)
	}
	return &Engine{cli: cli, socket: socket}, nil
}

// Close releases the connection.
func (e *Engine) Close() error { return e.cli.Close() }

// PortMapping publishes a container port on the host (BRIDGE networking).
type PortMapping struct {
	HostPort, ContainerPort uint32
	Protocol                string // tcp (default) or udp
}

// RunSpec is a container to run.
type RunSpec struct {
	Name  string
	Image string
	// Entrypoint, when set, overrides the image's; Cmd replaces its cmd
	// when set.
	Entrypoint, Cmd []string
	Env             []string
	Labels          map[string]string
	// Network is "host" (default), "bridge", "none", or a network name.
	Network    string
	Ports      []PortMapping
	Privileged bool
	// Binds are "host:container[:ro]" volume specs.
	Binds []string
	// CPUShares and MemoryBytes limit the container (0: unlimited).
	CPUShares   int64
	MemoryBytes int64
	// ForcePull pulls the image even when the engine has it.
	ForcePull bool
	// Stdout and Stderr receive the container's output.
	Stdout, Stderr io.Writer
}

// Container is a running container.
type Container struct {
	e        *Engine
	ID, Name string
	logs     sync.WaitGroup
}

// Run creates and starts a container, copying its output to the spec's
// writers. A container left with the same name (an earlier run of the same
// container ID) is removed first.
func (e *Engine) Run(ctx context.Context, spec RunSpec) (*Container, error) {
	if err := e.ensureImage(ctx, spec.Image, spec.ForcePull); err != nil {
		return nil, err
	}
	e.cli.ContainerRemove(ctx, spec.Name, client.ContainerRemoveOptions{Force: true})
	cfg, host, err := containerConfig(spec)
	if err != nil {
		return nil, err
	}
	created, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: spec.Name, Config: cfg, HostConfig: host})
	if err != nil {
		return nil, fmt.Errorf("docker: creating container %s: %w", spec.Name, err)
	}
	c := &Container{e: e, ID: created.ID, Name: spec.Name}
	if _, err := e.cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("docker: starting container %s: %w", spec.Name, err)
	}
	// The log stream lives as long as the container, not as ctx.
	logs, err := e.cli.ContainerLogs(context.WithoutCancel(ctx), c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return c, fmt.Errorf("docker: following the logs of %s: %w", spec.Name, err)
	}
	c.logs.Go(func() {
		defer logs.Close()
		stdcopy.StdCopy(orDiscard(spec.Stdout), orDiscard(spec.Stderr), logs)
	})
	return c, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// ensureImage checks the engine has the image, pulling it when asked (no
// registry may be reachable: then the image must be `docker load`ed).
func (e *Engine) ensureImage(ctx context.Context, ref string, forcePull bool) error {
	_, err := e.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil && !forcePull:
		return nil
	case err != nil && !cerrdefs.IsNotFound(err):
		return fmt.Errorf("docker: inspecting image %s: %w", ref, err)
	}
	pull, perr := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if perr == nil {
		perr = pull.Wait(ctx)
		pull.Close()
	}
	if perr == nil {
		return nil
	}
	if err == nil {
		return fmt.Errorf("docker: force_pull_image: pulling %s: %w", ref, perr)
	}
	return fmt.Errorf("docker: image %s is not in the Docker Engine and cannot be pulled (%v); load it with 'docker load'", ref, perr)
}

func containerConfig(spec RunSpec) (*container.Config, *container.HostConfig, error) {
	cfg := &container.Config{Image: spec.Image, Cmd: spec.Cmd, Entrypoint: spec.Entrypoint, Env: spec.Env, Labels: spec.Labels}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(orDefault(spec.Network, "host")),
		Privileged:  spec.Privileged,
		Binds:       spec.Binds,
		Resources:   container.Resources{CPUShares: spec.CPUShares, Memory: spec.MemoryBytes},
	}
	if len(spec.Ports) > 0 {
		cfg.ExposedPorts = network.PortSet{}
		host.PortBindings = network.PortMap{}
		for _, pm := range spec.Ports {
			port, err := network.ParsePort(strconv.Itoa(int(pm.ContainerPort)) + "/" + orDefault(strings.ToLower(pm.Protocol), "tcp"))
			if err != nil {
				return nil, nil, fmt.Errorf("docker: port mapping %+v: %w", pm, err)
			}
			cfg.ExposedPorts[port] = struct{}{}
			host.PortBindings[port] = append(host.PortBindings[port], network.PortBinding{HostPort: strconv.Itoa(int(pm.HostPort))})
		}
	}
	return cfg, host, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Wait blocks until the container has stopped and its output is copied,
// and returns its exit code.
func (c *Container) Wait(ctx context.Context) (int, error) {
	w := c.e.cli.ContainerWait(ctx, c.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		c.logs.Wait()
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("docker: waiting for %s: %s", c.Name, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return 0, fmt.Errorf("docker: waiting for %s: %w", c.Name, err)
	}
}

// Kill sends a signal ("SIGTERM", "SIGKILL") to the container's main
// process. A container that is gone or stopped already is not an error.
func (c *Container) Kill(ctx context.Context, signal string) error {
	_, err := c.e.cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{Signal: signal})
	if err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("docker: sending %s to %s: %w", signal, c.Name, err)
	}
	return nil
}

// Remove removes the container, killing it if it runs.
func (c *Container) Remove(ctx context.Context) error { return c.e.Remove(ctx, c.Name) }

// Remove removes a container by name or ID; a missing one is not an error.
func (e *Engine) Remove(ctx context.Context, nameOrID string) error {
	_, err := e.cli.ContainerRemove(ctx, nameOrID, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: removing %s: %w", nameOrID, err)
	}
	return nil
}

// Load loads a `docker save` tarball into the engine.
func (e *Engine) Load(ctx context.Context, tarball io.Reader) error {
	res, err := e.cli.ImageLoad(ctx, tarball)
	if err != nil {
		return fmt.Errorf("docker: loading an image: %w", err)
	}
	defer res.Close()
	out, err := io.ReadAll(res)
	if err != nil {
		return fmt.Errorf("docker: loading an image: %w", err)
	}
	if strings.Contains(string(out), `"error"`) {
		return fmt.Errorf("docker: loading an image: %s", out)
	}
	return nil
}

// RemoveImage removes an image from the engine; a missing one is not an
// error.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: removing image %s: %w", ref, err)
	}
	return nil
}

// Exists reports whether a container by that name or ID exists.
func (e *Engine) Exists(ctx context.Context, nameOrID string) bool {
	_, err := e.cli.ContainerInspect(ctx, nameOrID, client.ContainerInspectOptions{})
	return err == nil
}

// LabelSandbox labels every container Agora starts with its executor's
// sandbox, so that what an agent started can be found again.
const LabelSandbox = "agora.sandbox"

// RemoveUnder removes every container whose sandbox is under dir.
func (e *Engine) RemoveUnder(ctx context.Context, dir string) error {
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("label", LabelSandbox)})
	if err != nil {
		return fmt.Errorf("docker: listing containers: %w", err)
	}
	var errs []error
	for _, c := range list.Items {
		if strings.HasPrefix(c.Labels[LabelSandbox], dir) {
			errs = append(errs, e.Remove(ctx, c.ID))
		}
	}
	return errors.Join(errs...)
}
