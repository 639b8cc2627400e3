// Package docker runs tasks whose ContainerInfo is of type DOCKER through
// the Docker Engine API, the way Mesos' docker containerizer and docker
// executor do:
//
//	agent ── Containerizer.Launch ──▶ `agora executor` (a plain process,
//	                                   given the engine's socket)
//	executor ── Engine.Run ─────────▶ container "mesos-<container id>"
//	                                   (image, network, ports, volumes,
//	                                   privileged, parameters; the sandbox
//	                                   at /mnt/mesos/sandbox)
//	container output ───────────────▶ <sandbox>/stdout, <sandbox>/stderr
//	KILL ── SIGTERM, grace, SIGKILL ▶ the container's main process
//
// The executor reports the task's states as for any command task. The
// agent-side Containerizer wraps the containerizer that runs executors and
// removes the Docker container when the executor's container ends or is
// destroyed. With no engine answering, Launch fails with a message saying
// so.
package docker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
)

// EnvSocket tells the executor where the Docker Engine listens.
const EnvSocket = "AGORA_DOCKER_SOCKET"

// SandboxPath is where the sandbox is mounted in a Docker container.
const SandboxPath = "/mnt/mesos/sandbox"

// connectTimeout bounds checking that an engine answers.
const connectTimeout = 5 * time.Second

// ContainerName is the Docker container of an executor's container, named
// as Mesos names them.
func ContainerName(containerID string) string { return "mesos-" + containerID }

// Config configures a Containerizer.
type Config struct {
	// Socket is the Docker Engine's Unix socket.
	Socket string
	// Executors runs the executors that drive the Docker containers.
	Executors containerizer.Containerizer
	Logger    *slog.Logger
}

// Containerizer launches executors for DOCKER tasks and cleans up their
// Docker containers.
type Containerizer struct {
	cfg Config
	log *slog.Logger
}

// NewContainerizer returns a Containerizer.
func NewContainerizer(cfg Config) *Containerizer {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Containerizer{cfg: cfg, log: cfg.Logger}
}

// Launch checks that the engine answers and starts the executor, as the
// agent's user, telling it the engine's socket.
func (c *Containerizer) Launch(ctx context.Context, spec containerizer.LaunchSpec) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	e, err := Connect(cctx, c.cfg.Socket)
	if err != nil {
		return 0, err
	}
	e.Close()
	spec.Env = append(append([]string(nil), spec.Env...), EnvSocket+"="+c.cfg.Socket)
	// The executor runs as the agent's user, as Mesos' docker executor
	// does: it speaks to the Engine and enters the container's network
	// namespace. The task runs as its image says; the framework's user
	// only owns the sandbox.
	spec.User = ""
	return c.cfg.Executors.Launch(ctx, spec)
}

// Wait waits for the executor, then removes its Docker container (the
// executor removes it itself when all goes well).
func (c *Containerizer) Wait(ctx context.Context, containerID string) (containerizer.ExitStatus, error) {
	st, err := c.cfg.Executors.Wait(ctx, containerID)
	if err == nil {
		c.removeContainer(containerID)
	}
	return st, err
}

// Destroy kills the executor and removes its Docker container.
func (c *Containerizer) Destroy(ctx context.Context, containerID string) error {
	err := c.cfg.Executors.Destroy(ctx, containerID)
	c.removeContainer(containerID)
	return err
}

func (c *Containerizer) removeContainer(containerID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Connect(ctx, c.cfg.Socket)
	if err != nil {
		return
	}
	defer e.Close()
	if err := e.Remove(ctx, ContainerName(containerID)); err != nil {
		c.log.Error("removing a Docker container", "container_id", containerID, "err", err)
	}
}

// Usage samples the executor.
func (c *Containerizer) Usage(containerID string) (*mesos.ResourceStatistics, error) {
	return c.cfg.Executors.Usage(containerID)
}

// Forget drops an ended executor's container.
func (c *Containerizer) Forget(containerID string) { c.cfg.Executors.Forget(containerID) }

// Recover re-adopts the executors.
func (c *Containerizer) Recover(ctx context.Context, known []containerizer.RecoverSpec) error {
	return c.cfg.Executors.Recover(ctx, known)
}

// TaskRun is what the executor knows about a DOCKER task's container.
type TaskRun struct {
	ContainerID string // the executor's container ID
	Sandbox     string // the host sandbox
	// Env is the task's environment beyond the image's (MESOS_* and the
	// command's variables).
	Env            []string
	Stdout, Stderr io.Writer
}

// TaskRunSpec turns a DOCKER task into the container to run: Mesos'
// rules for the command (shell: /bin/sh -c value; else value and
// arguments after the image's entrypoint), the sandbox at
// /mnt/mesos/sandbox, the task's cpus and mem as limits.
func TaskRunSpec(task *mesos.TaskInfo, run TaskRun) (RunSpec, error) {
	info := task.GetContainer()
	d := info.GetDocker()
	if d.GetImage() == "" {
		return RunSpec{}, fmt.Errorf("docker: the task's ContainerInfo has no docker.image")
	}
	spec := RunSpec{
		Name:       ContainerName(run.ContainerID),
		Image:      d.GetImage(),
		Env:        append(append([]string(nil), run.Env...), "MESOS_SANDBOX="+SandboxPath, "MESOS_CONTAINER_NAME="+ContainerName(run.ContainerID)),
		Network:    networkMode(d.GetNetwork()),
		Privileged: d.GetPrivileged(),
		ForcePull:  d.GetForcePullImage(),
		Binds:      []string{run.Sandbox + ":" + SandboxPath},
		Stdout:     run.Stdout,
		Stderr:     run.Stderr,
		Labels:     map[string]string{LabelSandbox: run.Sandbox},
	}
	cmd := task.GetCommand()
	switch {
	case cmd.GetShell():
		spec.Entrypoint, spec.Cmd = []string{"/bin/sh", "-c"}, []string{cmd.GetValue()}
	case cmd.GetValue() != "":
		spec.Cmd = append([]string{cmd.GetValue()}, cmd.GetArguments()...)
	default:
		spec.Cmd = cmd.GetArguments()
	}
	for _, pm := range d.GetPortMappings() {
		spec.Ports = append(spec.Ports, PortMapping{HostPort: pm.GetHostPort(), ContainerPort: pm.GetContainerPort(), Protocol: pm.GetProtocol()})
	}
	for _, v := range info.GetVolumes() {
		b, err := volumeBind(v, run.Sandbox)
		if err != nil {
			return RunSpec{}, err
		}
		spec.Binds = append(spec.Binds, b)
	}
	for _, p := range d.GetParameters() {
		if err := applyParameter(&spec, p.GetKey(), p.GetValue()); err != nil {
			return RunSpec{}, err
		}
	}
	for _, r := range task.GetResources() {
		switch r.GetName() {
		case "cpus":
			spec.CPUShares += int64(r.GetScalar().GetValue() * 1024)
		case "mem":
			spec.MemoryBytes += int64(r.GetScalar().GetValue() * (1 << 20))
		}
	}
	return spec, nil
}

func networkMode(n mesos.ContainerInfo_DockerInfo_Network) string {
	switch n {
	case mesos.ContainerInfo_DockerInfo_BRIDGE:
		return "bridge"
	case mesos.ContainerInfo_DockerInfo_NONE:
		return "none"
	}
	return "host"
}

// volumeBind is a ContainerInfo volume as a Docker bind: a relative
// host_path is in the sandbox, a relative container_path under
// /mnt/mesos/sandbox.
func volumeBind(v *mesos.Volume, sandbox string) (string, error) {
	host, target := v.GetHostPath(), v.GetContainerPath()
	if host == "" || target == "" {
		return "", fmt.Errorf("docker: volume %q: only host_path volumes are supported", target)
	}
	if !filepath.IsAbs(host) {
		host = filepath.Join(sandbox, host)
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(SandboxPath, target)
	}
	b := host + ":" + target
	if v.GetMode() == mesos.Volume_RO {
		b += ":ro"
	}
	return b, nil
}

// applyParameter applies one DockerInfo parameter, the `docker run` flag
// --key=value, for the flags that have an Engine API equivalent here.
func applyParameter(spec *RunSpec, key, value string) error {
	switch strings.TrimLeft(key, "-") {
	case "label", "l":
		k, v, _ := strings.Cut(value, "=")
		spec.Labels[k] = v
	case "env", "e":
		spec.Env = append(spec.Env, value)
	case "volume", "v":
		spec.Binds = append(spec.Binds, value)
	case "network", "net":
		spec.Network = value
	case "privileged":
		spec.Privileged = value == "" || value == "true"
	case "entrypoint":
		spec.Entrypoint = []string{value}
	default:
		return fmt.Errorf("docker: parameter %q is not supported", key)
	}
	return nil
}
