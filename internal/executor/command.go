package executor

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
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

// buildProcessSpec turns a task's CommandInfo into what to exec: the argv,
// the environment (the executor's own, then MESOS_SANDBOX and MESOS_TASK_ID,
// then the command's variables, later ones winning), the sandbox as working
// directory and, when we are root and the command names another user, that
// user's credentials.
func buildProcessSpec(task *mesos.TaskInfo, cfg Config, log *slog.Logger) (processSpec, *launchError) {
	cmd := task.GetCommand()
	if cmd == nil {
		return processSpec{}, invalidTask("Task %q has no command", task.GetTaskId().GetValue())
	}
	path, args, lerr := commandArgv(cmd)
	if lerr != nil {
		return processSpec{}, lerr
	}
	env, lerr := taskEnviron(cfg, task)
	if lerr != nil {
		return processSpec{}, lerr
	}
	cred, userEnv, lerr := taskCredential(cmd.GetUser(), log)
	if lerr != nil {
		return processSpec{}, lerr
	}
	return processSpec{
		path:   path,
		args:   args,
		env:    append(env, userEnv...),
		dir:    cfg.Sandbox,
		cred:   cred,
		stdout: cfg.Stdout,
		stderr: cfg.Stderr,
	}, nil
}

// commandArgv is the program and argv of a command: `/bin/sh -c value` for a
// shell command (arguments ignored), else value with argv = arguments.
func commandArgv(cmd *mesos.CommandInfo) (string, []string, *launchError) {
	value := cmd.GetValue()
	if value == "" {
		return "", nil, invalidTask("Command has no value")
	}
	if cmd.GetShell() {
		return "/bin/sh", []string{"sh", "-c", value}, nil
	}
	args := cmd.GetArguments()
	if len(args) == 0 {
		args = []string{value}
	}
	path := value
	if !strings.Contains(value, "/") {
		found, err := exec.LookPath(value)
		if err != nil {
			return "", nil, launchFailed("Failed to launch command %q: %v", value, err)
		}
		path = found
	}
	return path, args, nil
}

// taskEnviron is the task's environment. Secret variables are refused: this
// executor has no secret resolver.
func taskEnviron(cfg Config, task *mesos.TaskInfo) ([]string, *launchError) {
	vars := task.GetCommand().GetEnvironment().GetVariables()
	env := make([]string, 0, len(cfg.Environ)+2+len(vars))
	env = append(env, cfg.Environ...)
	env = append(env, "MESOS_SANDBOX="+cfg.Sandbox, "MESOS_TASK_ID="+task.GetTaskId().GetValue())
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
	u, err := user.Lookup(name)
	if err != nil {
		return nil, nil, launchFailed("Failed to run the task as user %q: %v", name, err)
	}
	uid, gid, err := parseIDs(u.Uid, u.Gid)
	if err != nil {
		return nil, nil, launchFailed("Failed to run the task as user %q: %v", name, err)
	}
	if int(uid) == os.Getuid() {
		return nil, nil, nil
	}
	if os.Geteuid() != 0 {
		log.Warn("not root: running the task as the executor's user", "requested_user", name)
		return nil, nil, nil
	}
	cred := &syscall.Credential{Uid: uid, Gid: gid, Groups: supplementaryGroups(u)}
	env := []string{"USER=" + u.Username, "LOGNAME=" + u.Username, "HOME=" + u.HomeDir}
	return cred, env, nil
}

func parseIDs(uidText, gidText string) (uid, gid uint32, err error) {
	u, err := strconv.ParseUint(uidText, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("uid %q: %w", uidText, err)
	}
	g, err := strconv.ParseUint(gidText, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("gid %q: %w", gidText, err)
	}
	return uint32(u), uint32(g), nil
}

// supplementaryGroups lists u's groups; unreadable group data just means
// none beyond the primary group.
func supplementaryGroups(u *user.User) []uint32 {
	ids, err := u.GroupIds()
	if err != nil {
		return nil
	}
	groups := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			groups = append(groups, uint32(g))
		}
	}
	return groups
}
