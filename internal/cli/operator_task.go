package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/client/operator"
)

// `agora task show|kill|logs`. A task is named by its ID; when frameworks
// share a task ID, --framework picks one.

// taskRef finds a task and where it runs.
type taskRef struct {
	task  *mesos.Task
	agent string // host:port of its agent ("" if the agent is gone)
}

func findTask(ctx context.Context, c *operator.Client, id, frameworkID string) (*taskRef, error) {
	all, err := c.GetTasks(ctx)
	if err != nil {
		return nil, err
	}
	matches := tasksWhere(all, func(t *mesos.Task) bool {
		return t.GetTaskId().GetValue() == id && (frameworkID == "" || t.GetFrameworkId().GetValue() == frameworkID)
	})
	switch {
	case len(matches) == 0:
		return nil, fmt.Errorf("no task %q (see `agora task list`)", id)
	case len(matches) > 1 && frameworkID == "" && !sameFramework(matches):
		return nil, fmt.Errorf("task ID %q is used by several frameworks: pick one with --framework", id)
	}
	ref := &taskRef{task: matches[0]}
	if a, err := findAgent(ctx, c, ref.task.GetAgentId().GetValue()); err == nil {
		ref.agent = operator.AgentAddress(a.GetPid())
	}
	return ref, nil
}

func sameFramework(ts []*mesos.Task) bool {
	for _, t := range ts[1:] {
		if t.GetFrameworkId().GetValue() != ts[0].GetFrameworkId().GetValue() {
			return false
		}
	}
	return true
}

// executorID is the task's executor: its own, or for a command task the
// command executor named after the task.
func (r *taskRef) executorID() string {
	if id := r.task.GetExecutorId().GetValue(); id != "" {
		return id
	}
	return r.task.GetTaskId().GetValue()
}

// containerID is the container of the task's latest status that has one.
func (r *taskRef) containerID() *mesos.ContainerID {
	sts := r.task.GetStatuses()
	for i := len(sts) - 1; i >= 0; i-- {
		if id := sts[i].GetContainerStatus().GetContainerId(); id != nil {
			return id
		}
	}
	return nil
}

func newTaskShowCommand() *cobra.Command {
	var f clientFlags
	var frameworkID string
	cmd := &cobra.Command{
		Use:   "show TASK_ID",
		Short: "Show a task: state, resources, where it runs and its status history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := findTask(cmd.Context(), f.client(), args[0], frameworkID)
			if err != nil {
				return err
			}
			if err := f.printDetail(cmd.OutOrStdout(), ref.task, taskLines(ref)); err != nil || f.output == "json" {
				return err
			}
			for _, st := range ref.task.GetStatuses() {
				fmt.Fprintf(cmd.OutOrStdout(), "  %s  %-22s %s %s\n", statusTime(st), st.GetState(),
					strings.TrimPrefix(st.GetReason().String(), "REASON_"), st.GetMessage())
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&frameworkID, "framework", "", "the task's framework ID, when several frameworks use the task ID")
	return cmd
}

func taskLines(r *taskRef) [][2]string {
	t := r.task
	container := "-"
	if id := r.containerID(); id != nil {
		container = id.GetValue()
	}
	return [][2]string{
		{"ID", t.GetTaskId().GetValue()},
		{"Name", t.GetName()},
		{"State", t.GetState().String()},
		{"Framework", t.GetFrameworkId().GetValue()},
		{"Agent", t.GetAgentId().GetValue() + " (" + orDash(r.agent) + ")"},
		{"Executor", r.executorID()},
		{"Container", container},
		{"User", orDash(t.GetUser())},
		{"Resources", scalarSummary(t.GetResources())},
		{"Statuses", fmt.Sprint(len(t.GetStatuses()))},
	}
}

func statusTime(st *mesos.TaskStatus) string {
	if st.GetTimestamp() == 0 {
		return "-"
	}
	return time.Unix(0, int64(st.GetTimestamp()*1e9)).UTC().Format(time.RFC3339)
}

func newTaskKillCommand() *cobra.Command {
	var f clientFlags
	var frameworkID string
	var signal int
	cmd := &cobra.Command{
		Use:   "kill TASK_ID",
		Short: "Kill a task's container through its agent's operator API (KILL_CONTAINER)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			ref, err := findTask(cmd.Context(), c, args[0], frameworkID)
			if err != nil {
				return err
			}
			id := ref.containerID()
			switch {
			case ref.task.GetState().IsTerminal():
				return fmt.Errorf("task %s already ended: %s", args[0], ref.task.GetState())
			case ref.agent == "":
				return fmt.Errorf("task %s: its agent %s is not registered", args[0], ref.task.GetAgentId().GetValue())
			case id == nil:
				return fmt.Errorf("task %s has no container yet (state %s)", args[0], ref.task.GetState())
			}
			if err := c.KillContainer(cmd.Context(), ref.agent, id, int32(signal)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent signal %d to task %s (container %s)\n", signal, args[0], id.GetValue())
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&frameworkID, "framework", "", "the task's framework ID, when several frameworks use the task ID")
	cmd.Flags().IntVar(&signal, "signal", int(syscall.SIGTERM), "signal to send")
	return cmd
}

// logsFollowInterval is how often `task logs -f` polls for more output.
const logsFollowInterval = 500 * time.Millisecond

func newTaskLogsCommand() *cobra.Command {
	var f clientFlags
	var frameworkID string
	var follow, stderr bool
	var tail int64
	cmd := &cobra.Command{
		Use:   "logs TASK_ID",
		Short: "Print a task's stdout (or --stderr) from its sandbox; -f follows it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			ref, err := findTask(cmd.Context(), c, args[0], frameworkID)
			if err != nil {
				return err
			}
			if ref.agent == "" {
				return fmt.Errorf("task %s: its agent %s is not registered", args[0], ref.task.GetAgentId().GetValue())
			}
			file := "stdout"
			if stderr {
				file = "stderr"
			}
			path := operator.SandboxPath(ref.task.GetFrameworkId().GetValue(), ref.executorID(), file)
			return copyLog(cmd.Context(), c, cmd.OutOrStdout(), ref.agent, path, tail, follow)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&frameworkID, "framework", "", "the task's framework ID, when several frameworks use the task ID")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what the task writes until interrupted")
	cmd.Flags().BoolVar(&stderr, "stderr", false, "print stderr instead of stdout")
	cmd.Flags().Int64Var(&tail, "tail", 0, "start this many bytes before the end (0: from the start)")
	return cmd
}

// copyLog copies an agent's file to w from tail bytes before its end (or
// its start), then, when following, what is appended to it until ctx ends.
func copyLog(ctx context.Context, c *operator.Client, w io.Writer, agent, path string, tail int64, follow bool) error {
	var offset int64
	if tail > 0 {
		_, size, err := c.ReadFile(ctx, agent, path, -1, 0)
		if err != nil {
			return err
		}
		offset = max(size-tail, 0)
	}
	for {
		data, next, err := c.ReadFile(ctx, agent, path, offset, 0)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		offset = next
		if len(data) > 0 {
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logsFollowInterval):
		}
	}
}
