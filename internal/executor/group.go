package executor

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/fetcher"
)

// taskGroup is one LAUNCH_GROUP's tasks. They share the executor's
// container (its namespaces and cgroups) and start together; when one
// fails or is killed, the others are killed (reference §5, default
// executor).
type taskGroup struct {
	tasks []*task
}

// onLaunchGroup runs a task group: this executor is then the default
// executor, which runs any number of groups and leaves when none is left.
// Each task gets a nested sandbox, the Mesos layout:
//
//	<sandbox>/containers/<child container id>/{stdout,stderr}
//	<sandbox>/tasks/<task id> -> ../containers/<child container id>
func (e *executor) onLaunchGroup(info *mesos.TaskGroupInfo) {
	switch {
	case e.shutdown || e.abort != nil:
		e.log.Warn("ignoring LAUNCH_GROUP while shutting down", "tasks", len(info.GetTasks()))
		return
	case e.mode == modeCommand:
		for _, ti := range info.GetTasks() {
			e.rejectTask(ti.GetTaskId(), "The command executor cannot run task groups")
		}
		return
	}
	e.mode = modeDefault
	g := &taskGroup{}
	for _, ti := range info.GetTasks() {
		if e.findTask(ti.GetTaskId().GetValue()) != nil {
			e.log.Info("ignoring repeated task of a task group", "task_id", ti.GetTaskId().GetValue())
			continue
		}
		g.tasks = append(g.tasks, &task{info: ti, group: g})
	}
	e.tasks = append(e.tasks, g.tasks...)
	for _, t := range g.tasks {
		if t.exited {
			continue // a member failed to start before it
		}
		if err := e.prepareNested(t); err != nil {
			e.finishTask(t, mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum(), err.Error())
		} else {
			e.startTask(t)
		}
		if t.exited {
			e.groupMemberFailed(t)
		}
	}
}

// prepareNested makes t's nested sandbox, fetches its URIs into it and
// opens its output files.
func (e *executor) prepareNested(t *task) error {
	_, child := newUUIDText()
	dir := filepath.Join(e.cfg.Directory, "containers", child)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("Failed to create the task's sandbox: %w", err)
	}
	link := filepath.Join(e.cfg.Directory, "tasks", t.id().GetValue())
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return fmt.Errorf("Failed to create the task's sandbox: %w", err)
	}
	os.Remove(link)
	if err := os.Symlink(filepath.Join("..", "containers", child), link); err != nil {
		return fmt.Errorf("Failed to link the task's sandbox: %w", err)
	}
	cmd := t.info.GetCommand()
	if len(cmd.GetUris()) > 0 {
		f := fetcher.New(fetcher.Config{Logger: e.log})
		if err := f.Fetch(e.ctx, fetcher.Request{URIs: cmd.GetUris(), Sandbox: dir, User: cmd.GetUser()}); err != nil {
			return err
		}
	}
	stdout, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("Failed to open the task's stdout: %w", err)
	}
	stderr, err := os.OpenFile(filepath.Join(dir, "stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		stdout.Close()
		return fmt.Errorf("Failed to open the task's stderr: %w", err)
	}
	if err := e.giveToTaskUser(t, dir, stdout, stderr); err != nil {
		stdout.Close()
		stderr.Close()
		return err
	}
	t.place = taskPlace{sandbox: dir, stdout: stdout, stderr: stderr, owned: true}
	t.child = &mesos.ContainerID{Value: proto.String(child), Parent: e.containerID}
	return nil
}

// giveToTaskUser makes the nested sandbox and output files the task's
// user's when the executor runs as another (root in an executor host): the
// task must be able to write where it runs.
func (e *executor) giveToTaskUser(t *task, dir string, files ...*os.File) error {
	user := t.info.GetCommand().GetUser()
	if user == "" {
		user = e.cfg.TaskUser
	}
	cred, _, lerr := taskCredential(user, e.log)
	if lerr != nil || cred == nil {
		return nil // an unknown user fails the launch itself, with its reason
	}
	uid, gid := int(cred.Uid), int(cred.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("Failed to give the task's sandbox to user %q: %w", user, err)
	}
	for _, f := range files {
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("Failed to give %s to user %q: %w", f.Name(), user, err)
		}
	}
	return nil
}

// groupMemberFailed kills the rest of t's group, which failed or was
// killed; members that never started end TASK_KILLED at once.
func (e *executor) groupMemberFailed(t *task) {
	for _, other := range t.group.tasks {
		switch {
		case other == t || other.exited:
		case other.proc == nil:
			e.finishTask(other, mesos.TaskState_TASK_KILLED, nil,
				fmt.Sprintf("Task %s of its group ended first", t.id().GetValue()))
		default:
			e.killTask(other, killGrace(other.info.GetKillPolicy()), endKilled)
		}
	}
}
