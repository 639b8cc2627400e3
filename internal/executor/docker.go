package executor

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer/docker"
)

// runner is a task's running command: a process of its own, or a Docker
// container.
type runner interface {
	// wait blocks until the command has ended.
	wait() processExit
	// signalGroup signals every process of the command.
	signalGroup(sig syscall.Signal) error
}

// dockerTimeout bounds the Engine calls that are not waits.
const dockerTimeout = time.Minute

// isDockerTask reports whether a task runs in a Docker container. The type
// is a required field: an absent ContainerInfo is not DOCKER.
func isDockerTask(info *mesos.TaskInfo) bool {
	return info.Container != nil && info.GetContainer().GetType() == mesos.ContainerInfo_DOCKER
}

// startDocker runs a DOCKER task through the Docker Engine, as Mesos'
// docker executor does: container "mesos-<container id>", the sandbox at
// /mnt/mesos/sandbox, its output into the sandbox's stdout and stderr.
func (e *executor) startDocker(t *task) (*dockerRunner, *launchError) {
	if e.cfg.DockerSocket == "" {
		return nil, launchFailed("Docker tasks need the docker containerizer (--containerizers=docker,mesos)")
	}
	env, lerr := dockerEnviron(t.info)
	if lerr != nil {
		return nil, lerr
	}
	spec, err := docker.TaskRunSpec(t.info, docker.TaskRun{ContainerID: e.containerID.GetValue(), Sandbox: e.cfg.Directory,
		Env: env, Stdout: t.place.stdout, Stderr: t.place.stderr})
	if err != nil {
		return nil, invalidTask("%v", err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, dockerTimeout)
	defer cancel()
	engine, err := docker.Connect(ctx, e.cfg.DockerSocket)
	if err != nil {
		return nil, launchFailed("%v", err)
	}
	c, err := engine.Run(ctx, spec)
	if err != nil {
		engine.Close()
		return nil, launchFailed("Failed to launch container: %v", err)
	}
	return &dockerRunner{ctx: e.ctx, engine: engine, c: c}, nil
}

// dockerEnviron is a Docker task's environment: MESOS_TASK_ID and the
// command's variables (the image brings its own; the host's stay out).
func dockerEnviron(info *mesos.TaskInfo) ([]string, *launchError) {
	env := []string{"MESOS_TASK_ID=" + info.GetTaskId().GetValue()}
	for _, v := range info.GetCommand().GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			return nil, invalidTask("Environment variable %q is a secret: secrets are not supported", v.GetName())
		}
		if v.GetName() == "" || strings.Contains(v.GetName(), "=") {
			return nil, invalidTask("Invalid environment variable name %q", v.GetName())
		}
		env = append(env, v.GetName()+"="+v.GetValue())
	}
	return env, nil
}

// dockerRunner is a task running in a Docker container.
type dockerRunner struct {
	ctx    context.Context
	engine *docker.Engine
	c      *docker.Container
}

// wait waits for the container to stop, then removes it. Its exit code is
// reported as a process's would be.
func (d *dockerRunner) wait() processExit {
	defer d.engine.Close()
	code, err := d.c.Wait(d.ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(d.ctx), dockerTimeout)
	defer cancel()
	d.c.Remove(rctx)
	if err != nil {
		return processExit{err: fmt.Errorf("waiting for Docker container %s: %w", d.c.Name, err)}
	}
	return processExit{status: syscall.WaitStatus((code & 0xff) << 8)}
}

func (d *dockerRunner) signalGroup(sig syscall.Signal) error {
	ctx, cancel := context.WithTimeout(d.ctx, dockerTimeout)
	defer cancel()
	return d.c.Kill(ctx, signalName(sig))
}

// probeTarget is where the task's checks look, as in Mesos' docker
// executor: HTTP and TCP probes dial from the container's network
// namespace (its loopback is not the host's unless it shares the host's
// network), and COMMAND checks run in the container (`docker exec`).
func (d *dockerRunner) probeTarget(ctx context.Context) probeTarget {
	target := probeTarget{dial: (&net.Dialer{}).DialContext, command: d.execProbe}
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	switch ns, err := d.c.NetNS(ctx); {
	case err != nil:
		target.dial = func(context.Context, string, string) (net.Conn, error) { return nil, err }
	case ns != "":
		target.dial = dialerIn(ns)
	}
	return target
}

// execProbe runs a COMMAND check in the container; a shell command runs
// under sh -c, as the task's own would.
func (d *dockerRunner) execProbe(cmd *mesos.CommandInfo) probeFunc {
	argv := cmd.GetArguments()
	switch {
	case cmd.GetShell():
		argv = []string{"sh", "-c", cmd.GetValue()}
	case len(argv) == 0:
		argv = []string{cmd.GetValue()}
	}
	env := commandVariables(cmd)
	return func(ctx context.Context) probeOutcome {
		code, err := d.c.Exec(ctx, argv, env)
		if ctx.Err() != nil {
			return probeOutcome{err: fmt.Errorf("command check timed out: %w", ctx.Err())}
		}
		if err != nil {
			return probeOutcome{err: err}
		}
		exit := int32(code)
		return probeOutcome{exitCode: &exit}
	}
}
