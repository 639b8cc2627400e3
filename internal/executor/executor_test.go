package executor

import (
	"bytes"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/testenv"
)

func useJSON(c *Config) { c.Encoding = wire.JSON }

func TestEchoHelloFinishes(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "echo hello"))

	starting := a.expectUpdate(mesos.TaskState_TASK_STARTING)
	running := a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	finished := a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	seen := map[string]bool{}
	for _, s := range []*mesos.TaskStatus{starting, running, finished} {
		checkCommonFields(t, s, "task-1")
		if seen[string(s.GetUuid())] {
			t.Errorf("%s reuses uuid %x", s.GetState(), s.GetUuid())
		}
		seen[string(s.GetUuid())] = true
	}
	cs := running.GetContainerStatus()
	if cs.GetContainerId().GetValue() != testContainerID || cs.GetExecutorPid() != uint32(os.Getpid()) {
		t.Errorf("RUNNING container_status = %v, want container %q and executor pid %d", cs, testContainerID, os.Getpid())
	}
	if finished.GetMessage() != "Command exited with status 0" || finished.Reason != nil {
		t.Errorf("FINISHED message %q reason %v", finished.GetMessage(), finished.Reason)
	}
	if out := e.readStdout(t); out != "hello\n" {
		t.Errorf("task stdout = %q, want %q", out, "hello\n")
	}
}

// TestFailedUpdateCallIsRetried: an UPDATE call whose connection breaks
// while the event stream stays up is sent again; without that, the update
// would wait for a re-subscription that never comes.
func TestFailedUpdateCallIsRetried(t *testing.T) {
	a := newFakeAgent(t, withDroppedUpdates(2))
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "true"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func checkCommonFields(t *testing.T, s *mesos.TaskStatus, taskID string) {
	t.Helper()
	if len(s.GetUuid()) != 16 {
		t.Errorf("%s uuid is %d bytes, want 16", s.GetState(), len(s.GetUuid()))
	}
	if s.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("%s source = %s", s.GetState(), s.GetSource())
	}
	if s.GetTaskId().GetValue() != taskID || s.GetExecutorId().GetValue() != testExecutorID ||
		s.GetAgentId().GetValue() != testAgentID {
		t.Errorf("%s ids: task %q executor %q agent %q", s.GetState(),
			s.GetTaskId().GetValue(), s.GetExecutorId().GetValue(), s.GetAgentId().GetValue())
	}
	if now := epochSeconds(time.Now()); s.GetTimestamp() < now-60 || s.GetTimestamp() > now+1 {
		t.Errorf("%s timestamp %f is not about now (%f)", s.GetState(), s.GetTimestamp(), now)
	}
}

// TestHostedOutputIsOpenedForTheTask: in a host the task's output files
// are opened for it (and not held by the executor); when they cannot be,
// the task fails with the reason.
func TestHostedOutputIsOpenedForTheTask(t *testing.T) {
	dir := t.TempDir()
	a := newFakeAgent(t)
	e := startExecutor(t, a, func(c *Config) {
		c.Hosting = &Hosting{Output: func() (*os.File, *os.File, error) {
			stdout, err := os.OpenFile(filepath.Join(dir, "stdout"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				return nil, nil, err
			}
			return stdout, stdout, nil
		}}
	})
	a.nextSubscribe()
	a.launch(shellTask("task-1", "echo hosted"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out, _ := os.ReadFile(filepath.Join(dir, "stdout")); string(out) != "hosted\n" {
		t.Errorf("the task's output: %q", out)
	}

	a = newFakeAgent(t)
	e = startExecutor(t, a, func(c *Config) {
		c.Hosting = &Hosting{Output: func() (*os.File, *os.File, error) { return nil, nil, errors.New("disk gone") }}
	})
	a.nextSubscribe()
	a.launch(shellTask("task-2", "echo never"))
	failed := a.expectUpdate(mesos.TaskState_TASK_FAILED)
	if failed.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(failed.GetMessage(), "disk gone") {
		t.Errorf("TASK_FAILED %s: %q", failed.GetReason(), failed.GetMessage())
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestNonZeroExitFails(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, useJSON)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "exit 3"))

	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	failed := a.expectUpdate(mesos.TaskState_TASK_FAILED)
	if failed.GetMessage() != "Command exited with status 3" {
		t.Errorf("message = %q", failed.GetMessage())
	}
	if failed.Reason != nil {
		t.Errorf("reason = %s, want none", failed.GetReason())
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestKillReachesTheWholeProcessGroup(t *testing.T) {
	a := newFakeAgent(t, withKillingState())
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	const grace = 10 * time.Second
	// Two descendants: one dies of SIGTERM, one ignores it and must be
	// swept up by SIGKILL when the shell ends, well before the grace period.
	script := `sleep 600 & echo $! > grandchild.pid
sh -c 'trap "" TERM; echo $$ > stubborn.pid; exec sleep 600' &
wait`
	a.launch(withKillGrace(shellTask("task-1", script), grace))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	grandchild := readPIDFile(t, filepath.Join(e.dir, "grandchild.pid"))
	stubborn := readPIDFile(t, filepath.Join(e.dir, "stubborn.pid"))

	start := time.Now()
	a.kill("task-1", -1)
	a.expectUpdate(mesos.TaskState_TASK_KILLING)
	killed := a.expectUpdate(mesos.TaskState_TASK_KILLED)
	if elapsed := time.Since(start); elapsed >= grace {
		t.Errorf("KILLED after %v: SIGTERM should have ended the task within the %v grace", elapsed, grace)
	}
	if killed.GetMessage() != "Command terminated with signal SIGTERM" {
		t.Errorf("KILLED message = %q", killed.GetMessage())
	}
	waitProcessGone(t, grandchild)
	waitProcessGone(t, stubborn)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestTrappedSIGTERMIsFollowedBySIGKILLAfterGrace(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	const grace = 500 * time.Millisecond
	task := withKillGrace(shellTask("task-1", ""), grace)
	task.Command = helperCommand("trap-term")
	a.launch(task)
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	waitFileContains(t, e.stdout, "ready")

	start := time.Now()
	// No policy in the KILL: the task's applies. No KILLING: not capable.
	a.kill("task-1", -1)
	killed := a.expectUpdate(mesos.TaskState_TASK_KILLED)
	if elapsed := time.Since(start); elapsed < grace {
		t.Errorf("KILLED after %v, before the %v grace period", elapsed, grace)
	}
	if killed.GetMessage() != "Command terminated with signal SIGKILL" {
		t.Errorf("KILLED message = %q", killed.GetMessage())
	}
	if out := e.readStdout(t); !strings.Contains(out, "got-term") {
		t.Errorf("the task never saw SIGTERM; stdout %q", out)
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// helperCommand runs this test binary as a task that behaves as mode says
// (see TestMain).
func helperCommand(mode string) *mesos.CommandInfo {
	return &mesos.CommandInfo{
		Shell: proto.Bool(false),
		Value: proto.String(os.Args[0]),
		Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
			{Name: proto.String(helperEnv), Value: proto.String(mode)},
		}},
	}
}

func TestSecondKillShortensTheGracePeriod(t *testing.T) {
	a := newFakeAgent(t, withKillingState())
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(withKillGrace(shellTask("task-1", `trap '' TERM; echo ready; sleep 600`), time.Hour))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	waitFileContains(t, e.stdout, "ready")

	a.kill("task-1", -1)
	a.expectUpdate(mesos.TaskState_TASK_KILLING)
	const shorter = 200 * time.Millisecond
	start := time.Now()
	a.kill("task-1", shorter)
	a.kill("other-task", 0) // not ours: ignored
	a.expectUpdate(mesos.TaskState_TASK_KILLED)
	if elapsed := time.Since(start); elapsed < shorter {
		t.Errorf("KILLED %v after the second KILL, before its %v grace", elapsed, shorter)
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestShellFalseExecsValueWithArguments(t *testing.T) {
	cases := []struct {
		name  string
		value string
		args  []string
		want  string
	}{
		{"absolute path, argv[0] from arguments", "/bin/sh",
			[]string{"custom-argv0", "-c", `tr '\0' ' ' < /proc/$$/cmdline`}, "custom-argv0 -c tr"},
		{"looked up in PATH", "echo", []string{"echo", "a b", "$HOME"}, "a b $HOME\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFakeAgent(t)
			e := startExecutor(t, a, nil)
			a.nextSubscribe()
			task := shellTask("task-1", "")
			task.Command = &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String(tc.value), Arguments: tc.args}
			a.launch(task)
			a.expectUpdate(mesos.TaskState_TASK_STARTING)
			a.expectUpdate(mesos.TaskState_TASK_RUNNING)
			a.expectUpdate(mesos.TaskState_TASK_FINISHED)
			if out := e.readStdout(t); !strings.HasPrefix(out, tc.want) {
				t.Errorf("stdout = %q, want prefix %q", out, tc.want)
			}
		})
	}
}

func TestTaskEnvironment(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, useJSON)
	a.nextSubscribe()
	task := shellTask("task-1", `echo "$FOO|$INHERITED|$MESOS_TASK_ID|$MESOS_SANDBOX|$(pwd)"`)
	task.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{
		{Name: proto.String("FOO"), Value: proto.String("bar baz")},
		{Name: proto.String("INHERITED"), Type: mesos.Environment_Variable_VALUE.Enum(), Value: proto.String("overridden")},
	}}
	a.launch(task)
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	want := strings.Join([]string{"bar baz", "overridden", "task-1", e.dir, e.dir}, "|") + "\n"
	if out := e.readStdout(t); out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}

func TestInvalidTasksFail(t *testing.T) {
	secret := shellTask("task-1", "true")
	secret.Command.Environment = &mesos.Environment{Variables: []*mesos.Environment_Variable{{
		Name: proto.String("TOKEN"), Type: mesos.Environment_Variable_SECRET.Enum(),
		Secret: &mesos.Secret{Type: mesos.Secret_VALUE.Enum(), Value: &mesos.Secret_Value{Data: []byte("x")}},
	}}}
	unknownUser := shellTask("task-1", "true")
	unknownUser.Command.User = proto.String("no-such-user-agora")
	noCommand := shellTask("task-1", "")
	noCommand.Command = nil
	missingBinary := shellTask("task-1", "")
	missingBinary.Command = &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/nonexistent/agora-binary")}

	cases := []struct {
		name        string
		task        *mesos.TaskInfo
		wantStarted bool
		wantInMsg   string
		wantReason  mesos.TaskStatus_Reason
	}{
		{"secret variable", secret, false, "secrets are not supported", mesos.TaskStatus_REASON_TASK_INVALID},
		{"unknown user", unknownUser, false, `"no-such-user-agora"`, mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED},
		{"no command", noCommand, false, "has no command", mesos.TaskStatus_REASON_TASK_INVALID},
		{"exec fails", missingBinary, true, "/nonexistent/agora-binary", mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newFakeAgent(t)
			e := startExecutor(t, a, nil)
			a.nextSubscribe()
			a.launch(tc.task)
			if tc.wantStarted {
				a.expectUpdate(mesos.TaskState_TASK_STARTING)
			}
			failed := a.expectUpdate(mesos.TaskState_TASK_FAILED)
			if !strings.Contains(failed.GetMessage(), tc.wantInMsg) || failed.GetReason() != tc.wantReason {
				t.Errorf("FAILED %s %q, want %s and a message containing %q",
					failed.GetReason(), failed.GetMessage(), tc.wantReason, tc.wantInMsg)
			}
			if err := e.result(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// executorAsRootForNobody starts an executor, as root, whose sandbox user
// nobody may enter; it skips where there is no root or no nobody.
func executorAsRootForNobody(t *testing.T, a *fakeAgent) (*runningExecutor, *user.User) {
	t.Helper()
	nobody := testenv.Nobody(t, "switching users")
	e := startExecutor(t, a, nil)
	for _, dir := range []string{e.dir, filepath.Dir(e.dir)} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return e, nobody
}

func TestRunsTheTaskAsTheCommandUser(t *testing.T) {
	a := newFakeAgent(t)
	e, nobody := executorAsRootForNobody(t, a)
	a.nextSubscribe()
	task := shellTask("task-1", `echo "$(id -u) $USER"`)
	task.Command.User = proto.String("nobody")
	a.launch(task)
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	if out, want := e.readStdout(t), nobody.Uid+" nobody\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
}

func TestMaxCompletionTimeFailsTheTask(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	task := shellTask("task-1", "sleep 600")
	task.MaxCompletionTime = &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(100 * time.Millisecond))}
	start := time.Now()
	a.launch(task)
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	failed := a.expectUpdate(mesos.TaskState_TASK_FAILED)
	if failed.GetReason() != mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED {
		t.Errorf("reason = %s", failed.GetReason())
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("failed after %v, before the max completion time", elapsed)
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestShutdownKillsTheTaskAndExits(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "sleep 600"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.launch(shellTask("task-2", "true"))
	rejected := a.expectUpdate(mesos.TaskState_TASK_FAILED)
	if rejected.GetTaskId().GetValue() != "task-2" {
		t.Errorf("second task: FAILED for %q", rejected.GetTaskId().GetValue())
	}
	a.shutdown()
	a.expectUpdate(mesos.TaskState_TASK_KILLED)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestShutdownBeforeLaunchExits(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.shutdown()
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestExitsOnlyAfterTheTerminalUpdateIsAcknowledged(t *testing.T) {
	a := newFakeAgent(t, withoutAutoAck())
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "true"))
	updates := []*mesos.TaskStatus{
		a.expectUpdate(mesos.TaskState_TASK_STARTING),
		a.expectUpdate(mesos.TaskState_TASK_RUNNING),
		a.expectUpdate(mesos.TaskState_TASK_FINISHED),
	}
	// A negative check needs some wait; an executor that does not wait for
	// the ack returns within microseconds of its last POST.
	select {
	case err := <-e.done:
		t.Fatalf("Run returned (%v) before the terminal update was acknowledged", err)
	case <-time.After(100 * time.Millisecond):
	}
	for _, s := range updates {
		a.ack(s)
	}
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestGivesUpOnAnUnacknowledgedTerminalUpdate(t *testing.T) {
	a := newFakeAgent(t, withoutAutoAck())
	const wait = 200 * time.Millisecond
	e := startExecutor(t, a, func(c *Config) { c.ShutdownGracePeriod = wait })
	a.nextSubscribe()
	a.launch(shellTask("task-1", "true"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	start := time.Now()
	if err := e.result(t); !errors.Is(err, ErrUnacknowledged) {
		t.Fatalf("Run = %v, want ErrUnacknowledged", err)
	}
	if elapsed := time.Since(start); elapsed > wait+5*time.Second {
		t.Errorf("gave up after %v", elapsed)
	}
}

func TestReconnectReplaysUnacknowledgedUpdates(t *testing.T) {
	for _, tc := range []struct {
		name          string
		enc           wire.Encoding
		ackStarting   bool
		wantTaskAgain bool
	}{
		{"protobuf, nothing acknowledged", wire.Protobuf, false, true},
		{"json, STARTING acknowledged", wire.JSON, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newFakeAgent(t, withoutAutoAck())
			e := startExecutor(t, a, func(c *Config) {
				c.Encoding = tc.enc
				c.Checkpoint = true
				c.SubscriptionBackoffMax = 20 * time.Millisecond
			})
			if first := a.nextSubscribe().call.GetSubscribe(); len(first.GetUnacknowledgedUpdates())+len(first.GetUnacknowledgedTasks()) != 0 {
				t.Errorf("first SUBSCRIBE replays %v", first)
			}
			task := shellTask("task-1", "echo $$ > task.pid; exec sleep 600")
			a.launch(task)
			starting := a.expectUpdate(mesos.TaskState_TASK_STARTING)
			running := a.expectUpdate(mesos.TaskState_TASK_RUNNING)
			taskPID := readPIDFile(t, filepath.Join(e.dir, "task.pid"))
			wantReplay := []*mesos.TaskStatus{starting, running}
			if tc.ackStarting {
				a.ack(starting)
				wantReplay = wantReplay[1:]
			}
			// Let a round trip prove the ack arrived before the drop.
			a.kill("not-our-task", 0)

			a.dropStream()
			sub := a.nextSubscribe().call.GetSubscribe()
			checkReplay(t, sub.GetUnacknowledgedUpdates(), wantReplay)
			if got := len(sub.GetUnacknowledgedTasks()) == 1 && proto.Equal(sub.GetUnacknowledgedTasks()[0], task); got != tc.wantTaskAgain {
				t.Errorf("unacknowledged_tasks = %v, want the task: %v", sub.GetUnacknowledgedTasks(), tc.wantTaskAgain)
			}
			if err := syscall.Kill(taskPID, 0); err != nil {
				t.Errorf("task process %d did not survive the reconnection: %v", taskPID, err)
			}
			for _, s := range wantReplay {
				a.ack(s)
			}
			a.kill("task-1", 0)
			a.ack(a.expectUpdate(mesos.TaskState_TASK_KILLED))
			if err := e.result(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

func checkReplay(t *testing.T, got []*executorv1.Call_Update, want []*mesos.TaskStatus) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d updates, want %d", len(got), len(want))
	}
	for i := range want {
		if s := got[i].GetStatus(); !bytes.Equal(s.GetUuid(), want[i].GetUuid()) || s.GetState() != want[i].GetState() {
			t.Errorf("replayed update %d: %s %x, want %s %x", i, s.GetState(), s.GetUuid(), want[i].GetState(), want[i].GetUuid())
		}
	}
}

func TestAgentLostWithoutCheckpointKillsTheTask(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "echo $$ > task.pid; exec sleep 600"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	taskPID := readPIDFile(t, filepath.Join(e.dir, "task.pid"))
	a.dropStream()
	if err := e.result(t); !errors.Is(err, ErrAgentLost) {
		t.Fatalf("Run = %v, want ErrAgentLost", err)
	}
	waitProcessGone(t, taskPID)
}

// TestSlowAgentIsWaitedFor: the wait for the terminal update's ack starts
// when the agent has taken the update, not when it was sent: an agent
// slower to answer the call than the shutdown grace period must not make
// the executor give up on a finished task.
func TestSlowAgentIsWaitedFor(t *testing.T) {
	const grace = 200 * time.Millisecond
	a := newFakeAgent(t, withSlowUpdates(3*grace))
	e := startExecutor(t, a, func(c *Config) { c.ShutdownGracePeriod = grace })
	a.nextSubscribe()
	a.launch(shellTask("task-1", "true"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	a.expectUpdate(mesos.TaskState_TASK_FINISHED)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestGivesUpAfterTheRecoveryTimeout(t *testing.T) {
	a := newFakeAgent(t)
	const recovery = 300 * time.Millisecond
	e := startExecutor(t, a, func(c *Config) {
		c.Checkpoint = true
		c.RecoveryTimeout = recovery
		c.SubscriptionBackoffMax = 50 * time.Millisecond
	})
	a.nextSubscribe()
	a.launch(shellTask("task-1", "echo $$ > task.pid; exec sleep 600"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	taskPID := readPIDFile(t, filepath.Join(e.dir, "task.pid"))
	start := time.Now()
	a.dropStream()
	a.srv.Close() // the agent is gone for good: every re-subscription fails
	if err := e.result(t); !errors.Is(err, ErrAgentLost) {
		t.Fatalf("Run = %v, want ErrAgentLost", err)
	}
	if elapsed := time.Since(start); elapsed < recovery {
		t.Errorf("gave up after %v, before the %v recovery timeout", elapsed, recovery)
	}
	waitProcessGone(t, taskPID)
}

func TestCancelShutsDown(t *testing.T) {
	a := newFakeAgent(t)
	e := startExecutor(t, a, nil)
	a.nextSubscribe()
	a.launch(shellTask("task-1", "sleep 600"))
	a.expectUpdate(mesos.TaskState_TASK_STARTING)
	a.expectUpdate(mesos.TaskState_TASK_RUNNING)
	e.cancel()
	a.expectUpdate(mesos.TaskState_TASK_KILLED)
	if err := e.result(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// readPIDFile waits for a task to write its pid into path.
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	var text string
	waitFor(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		text = strings.TrimSpace(string(b))
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
	pid, err := strconv.Atoi(text)
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	// Whatever the test's outcome, the process does not outlive it.
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

func waitFileContains(t *testing.T, path, want string) {
	t.Helper()
	waitFor(t, want+" in "+path, func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), want)
	})
}

// waitProcessGone waits until pid has exited (a zombie counts: it is dead,
// just not reaped by its new parent yet).
func waitProcessGone(t *testing.T, pid int) {
	t.Helper()
	waitFor(t, "process "+strconv.Itoa(pid)+" to die", func() bool {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
	})
}

// waitFor polls a condition on real processes until a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
