package executor

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/containerizer/image"
)

// launchError is a task that cannot be started: it ends TASK_FAILED with
// this reason and message.
type launchError struct {
	reason  mesos.TaskStatus_Reason
	message string
}

func (e *launchError) Error() string { return e.message }

func invalidTask(format string, args ...any) *launchError {
	return &launchError{reason: mesos.TaskStatus_REASON_TASK_INVALID, message: fmt.Sprintf(format, args...)}
}

func launchFailed(format string, args ...any) *launchError {
	return &launchError{reason: mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED, message: fmt.Sprintf(format, args...)}
}

// taskPlace is where and how a task runs.
type taskPlace struct {
	// sandbox is the task's sandbox as it sees it: MESOS_SANDBOX and its
	// working directory.
	sandbox string
	// stdout and stderr receive its output; owned are closed once the
	// process started (the executor's own are not).
	stdout, stderr *os.File
	owned          bool
	// rootfs, when set, is the image root filesystem the task is chrooted
	// to, and image its runtime configuration.
	rootfs string
	image  *image.RuntimeConfig
}

func (p taskPlace) close() {
	if p.owned {
		p.stdout.Close()
		p.stderr.Close()
	}
}

// commandPlace is where a command task runs: the executor's sandbox and
// output, in the image the agent's containerizer prepared, if any. In a
// host the output files are opened for the task.
func (e *executor) commandPlace() (taskPlace, error) {
	place := taskPlace{sandbox: e.cfg.Sandbox, stdout: e.cfg.Stdout, stderr: e.cfg.Stderr,
		rootfs: e.cfg.Rootfs, image: e.cfg.Image}
	if open := e.cfg.Hosting.output(); open != nil {
		stdout, stderr, err := open()
		if err != nil {
			return place, err
		}
		place.stdout, place.stderr, place.owned = stdout, stderr, true
	}
	return place, nil
}

// buildProcessSpec turns a task's CommandInfo into what to exec: the argv,
// the environment (the executor's own, or the image's plus the MESOS_*
// variables, then MESOS_SANDBOX and MESOS_TASK_ID, then the command's
// variables, later ones winning), the working directory and, when we are
// root and the command names another user, that user's credentials.
func buildProcessSpec(task *mesos.TaskInfo, place taskPlace, cfg Config, log *slog.Logger) (processSpec, *launchError) {
	cmd := task.GetCommand()
	if cmd == nil {
		return processSpec{}, invalidTask("Task %q has no command", task.GetTaskId().GetValue())
	}
	env, lerr := taskEnviron(cfg, task, place)
	if lerr != nil {
		return processSpec{}, lerr
	}
	path, args, lerr := commandArgv(cmd, place, env)
	if lerr != nil {
		return processSpec{}, lerr
	}
	user := cmd.GetUser()
	if user == "" {
		user = cfg.TaskUser
	}
	cred, userEnv, lerr := taskCredential(user, log)
	if lerr != nil {
		return processSpec{}, lerr
	}
	dir := place.sandbox
	if place.image != nil && place.image.WorkingDir != "" {
		dir = place.image.WorkingDir
	}
	return processSpec{
		path:    path,
		args:    args,
		env:     append(env, userEnv...),
		dir:     dir,
		chroot:  place.rootfs,
		cred:    cred,
		stdout:  place.stdout,
		stderr:  place.stderr,
		session: cfg.Hosting != nil,
		hosting: cfg.Hosting,
	}, nil
}

// commandArgv is the program and argv of a command: `/bin/sh -c value` for a
// shell command (arguments ignored), else value with argv = arguments. In
// an image, a command without a value runs the image's entrypoint and cmd
// as Mesos does: Entrypoint + (arguments, or else Cmd); without an
// entrypoint, Cmd[0] + (arguments, or else the rest of Cmd).
func commandArgv(cmd *mesos.CommandInfo, place taskPlace, env []string) (string, []string, *launchError) {
	value := cmd.GetValue()
	if cmd.GetShell() {
		if value == "" {
			return "", nil, invalidTask("Command has no value")
		}
		return "/bin/sh", []string{"sh", "-c", value}, nil
	}
	args := cmd.GetArguments()
	switch {
	case value != "" && len(args) == 0:
		args = []string{value}
	case value == "" && place.image != nil:
		var lerr *launchError
		if value, args, lerr = imageArgv(place.image, args); lerr != nil {
			return "", nil, lerr
		}
	case value == "":
		return "", nil, invalidTask("Command has no value")
	}
	path, err := lookPath(value, place.rootfs, envValue(env, "PATH"))
	if err != nil {
		return "", nil, launchFailed("Failed to launch command %q: %v", value, err)
	}
	return path, args, nil
}

// imageArgv is the program and argv from an image's entrypoint and cmd.
func imageArgv(img *image.RuntimeConfig, args []string) (string, []string, *launchError) {
	var argv []string
	switch {
	case len(img.Entrypoint) > 0 && len(args) > 0:
		argv = append(append(argv, img.Entrypoint...), args...)
	case len(img.Entrypoint) > 0:
		argv = append(append(argv, img.Entrypoint...), img.Cmd...)
	case len(img.Cmd) > 0 && len(args) > 0:
		argv = append([]string{img.Cmd[0]}, args...)
	case len(img.Cmd) > 0:
		argv = append(argv, img.Cmd...)
	default:
		return "", nil, invalidTask("Command has no value and the image has neither an entrypoint nor a cmd")
	}
	return argv[0], argv, nil
}

// lookPath finds a program the way a shell would, in rootfs when set.
func lookPath(name, rootfs, pathEnv string) (string, error) {
	if rootfs == "" {
		if strings.Contains(name, "/") {
			return name, nil
		}
		return exec.LookPath(name)
	}
	if strings.Contains(name, "/") {
		return name, nil // resolved after the chroot
	}
	if pathEnv == "" {
		pathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(filepath.Join(rootfs, p)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable file not found in the image's $PATH")
}

func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if after, ok := strings.CutPrefix(kv, name+"="); ok {
			v = after
		}
	}
	return v
}

// taskEnviron is the task's environment. Secret variables are refused: this
// executor has no secret resolver.
func taskEnviron(cfg Config, task *mesos.TaskInfo, place taskPlace) ([]string, *launchError) {
	vars := task.GetCommand().GetEnvironment().GetVariables()
	env := make([]string, 0, len(cfg.Environ)+2+len(vars))
	if place.image != nil {
		env = append(env, place.image.Env...)
		for _, kv := range cfg.Environ {
			if strings.HasPrefix(kv, "MESOS_") {
				env = append(env, kv)
			}
		}
	} else {
		env = append(env, cfg.Environ...)
	}
	env = append(env, "MESOS_SANDBOX="+place.sandbox, "MESOS_TASK_ID="+task.GetTaskId().GetValue())
	for _, v := range vars {
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

// taskCredential resolves the user a command asks to run as. It returns nil
// credentials when there is nothing to switch: no user given, the executor's
// own user, or an executor that is not root (which cannot switch, and runs
// the task as itself with a warning). The extra variables describe the new
// user to the task.
func taskCredential(name string, log *slog.Logger) (*syscall.Credential, []string, *launchError) {
	if name == "" {
		return nil, nil, nil
	}
	cred, u, err := asuser.Resolve(name)
	if err != nil {
		return nil, nil, launchFailed("Failed to run the task: %v", err)
	}
	if int(cred.Uid) == os.Getuid() {
		return nil, nil, nil
	}
	if os.Geteuid() != 0 {
		log.Warn("not root: running the task as the executor's user", "requested_user", name)
		return nil, nil, nil
	}
	env := []string{"USER=" + u.Username, "LOGNAME=" + u.Username, "HOME=" + u.HomeDir}
	return cred, env, nil
}
