package containerizer

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary act as one of the helper processes below
// instead of running tests: the posix tests need executors whose children
// sit in process groups of their own and ignore SIGTERM, which no standard
// command does.
const helperEnv = "AGORA_POSIX_TEST_HELPER"

// Helper roles.
const (
	// helperLeader ignores SIGTERM, starts `sleep 300` in a process group
	// of its own (ignoring SIGTERM too: ignored signals survive exec),
	// writes its pid to child.pid, and waits.
	helperLeader = "leader"
	// helperLeaderExits does the same but exits at once, leaving the child.
	helperLeaderExits = "leader-exits"
	// helperForkingLeader starts, in a process group of its own, a helper
	// that keeps starting `sleep 300` processes, each in a new group.
	helperForkingLeader = "forking-leader"
	helperForker        = "forker"
)

func TestMain(m *testing.M) {
	role := os.Getenv(helperEnv)
	if role == "" {
		os.Exit(m.Run())
	}
	if err := runHelper(role); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
}

func runHelper(role string) error {
	signal.Ignore(syscall.SIGTERM)
	switch role {
	case helperLeader, helperLeaderExits:
		if err := startChildAndRecord(exec.Command("sleep", "300")); err != nil {
			return err
		}
		if role == helperLeaderExits {
			return nil
		}
	case helperForkingLeader:
		forker := exec.Command(os.Args[0])
		forker.Env = append(os.Environ(), helperEnv+"="+helperForker)
		if err := startChildAndRecord(forker); err != nil {
			return err
		}
	case helperForker:
		for range 500 { // bounded, should Destroy fail
			if err := ownGroup(exec.Command("sleep", "300")).Start(); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
		}
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	time.Sleep(time.Hour)
	return nil
}

func ownGroup(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// startChildAndRecord starts cmd in a process group of its own and writes
// its pid, newline-terminated, to child.pid in the working directory.
func startChildAndRecord(cmd *exec.Cmd) error {
	if err := ownGroup(cmd).Start(); err != nil {
		return err
	}
	return os.WriteFile("child.pid", fmt.Appendf(nil, "%d\n", cmd.Process.Pid), 0o644)
}

// helperSpec is a launch of the test binary in a helper role.
func helperSpec(t *testing.T, id, role string) LaunchSpec {
	spec := testSpec(t, id, os.Args[0])
	spec.Env = append(spec.Env, helperEnv+"="+role)
	return spec
}
