package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/containerizer"
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
// opens its output files. The executor's sandbox belongs to its user
// (TaskUser), whose tasks may have changed it; the nested sandbox is made
// as that user and then given to t's user, and t's files are made as t's
// user (package asuser): an executor running as root does nothing there
// the users could not.
func (e *executor) prepareNested(t *task) error {
	_, child := newUUIDText()
	dir := filepath.Join(e.cfg.Directory, "containers", child)
	link := filepath.Join(e.cfg.Directory, "tasks", t.id().GetValue())
	owner, _, _ := taskCredential(e.cfg.TaskUser, e.log)
	taskUser := t.info.GetCommand().GetUser()
	if taskUser == "" {
		taskUser = e.cfg.TaskUser
	}
	// An unknown user fails the launch itself, with its reason.
	cred, _, _ := taskCredential(taskUser, e.log)
	var nested *os.File
	err := asuser.Do(owner, func() error {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("Failed to create the task's sandbox: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return fmt.Errorf("Failed to create the task's sandbox: %w", err)
		}
		os.Remove(link)
		if err := os.Symlink(filepath.Join("..", "containers", child), link); err != nil {
			return fmt.Errorf("Failed to link the task's sandbox: %w", err)
		}
		var err error
		nested, err = os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		return err
	})
	if err != nil {
		return err
	}
	if cred != nil {
		// By descriptor: the directory just made, wherever a path leads now.
		err = nested.Chown(int(cred.Uid), int(cred.Gid))
	}
	nested.Close()
	if err != nil {
		return fmt.Errorf("Failed to give the task's sandbox to user %q: %w", taskUser, err)
	}
	cmd := t.info.GetCommand()
	if len(cmd.GetUris()) > 0 {
		f := fetcher.New(fetcher.Config{Logger: e.log})
		if err := f.Fetch(e.ctx, fetcher.Request{URIs: cmd.GetUris(), Sandbox: dir, User: taskUser}); err != nil {
			return err
		}
	}
	var stdout, stderr *os.File
	err = asuser.Do(cred, func() (err error) {
		if stdout, err = containerizer.OpenAppend(filepath.Join(dir, "stdout")); err != nil {
			return fmt.Errorf("Failed to open the task's stdout: %w", err)
		}
		if stderr, err = containerizer.OpenAppend(filepath.Join(dir, "stderr")); err != nil {
			stdout.Close()
			return fmt.Errorf("Failed to open the task's stderr: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.place = taskPlace{sandbox: dir, stdout: stdout, stderr: stderr, owned: true}
	t.child = &mesos.ContainerID{Value: proto.String(child), Parent: e.containerID}
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
