package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/protocol"
)

// testExecutorPath is the test executor (testdata/testexecutor) and
// testHostPath the executor host (testdata/testhost), built once by
// TestMain.
var testExecutorPath, testHostPath string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "agent-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testExecutorPath = filepath.Join(dir, "testexecutor")
	testHostPath = filepath.Join(dir, "testhost")
	for path, pkg := range map[string]string{testExecutorPath: "./testdata/testexecutor", testHostPath: "./testdata/testhost"} {
		build := exec.Command("go", "build", "-o", path, pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg+":", err)
			return 1
		}
	}
	return m.Run()
}

// posixForTest is the posix containerizer; every container it launched is
// destroyed when the test ends (executors outlive the agent by design).
type posixForTest struct {
	*containerizer.Posix
	mu  sync.Mutex
	ids []string
	// forgotten holds the last status of each container the agent forgot.
	forgotten map[string]containerizer.ExitStatus
}

func newPosixForTest(t testing.TB) *posixForTest {
	p := &posixForTest{Posix: containerizer.NewPosix(nil)}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, id := range p.ids {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			// The agent forgets the containers that ended.
			if err := p.Destroy(ctx, id); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
				t.Errorf("destroying %s: %v", id, err)
			}
			cancel()
		}
	})
	return p
}

// Forget keeps the status of what the agent forgets, for Ended.
func (p *posixForTest) Forget(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if st, err := p.Posix.Wait(ctx, id); err == nil {
		p.mu.Lock()
		if p.forgotten == nil {
			p.forgotten = map[string]containerizer.ExitStatus{}
		}
		p.forgotten[id] = st
		p.mu.Unlock()
	}
	p.Posix.Forget(id)
}

// Ended waits for a container's end, also one the agent has forgotten.
func (p *posixForTest) Ended(ctx context.Context, id string) (containerizer.ExitStatus, error) {
	st, err := p.Posix.Wait(ctx, id)
	if errors.Is(err, containerizer.ErrUnknownContainer) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if st, ok := p.forgotten[id]; ok {
			return st, nil
		}
	}
	return st, err
}

func (p *posixForTest) Launch(ctx context.Context, spec containerizer.LaunchSpec) (int, error) {
	pid, err := p.Posix.Launch(ctx, spec)
	if err == nil {
		p.mu.Lock()
		p.ids = append(p.ids, spec.ContainerID)
		p.mu.Unlock()
	}
	return pid, err
}

// realAgent starts an agent with the posix containerizer and the test
// executor as its command executor.
func realAgent(t testing.TB, m *fakeMaster) *Agent {
	return startAgent(t, Config{
		Masters:         []string{m.addr()},
		Containerizer:   newPosixForTest(t),
		ExecutorCommand: []string{testExecutorPath},
	})
}

func wantUpdate(t testing.TB, u *protocol.AgentCall_Update, task string, state mesos.TaskState) {
	t.Helper()
	if got := u.GetStatus().GetTaskId().GetValue(); got != task {
		t.Fatalf("update for task %q, want %q (%v)", got, task, u)
	}
	if got := u.GetStatus().GetState(); got != state {
		t.Fatalf("update state %s, want %s (%v)", got, state, u)
	}
	if len(u.GetStatus().GetUuid()) != 16 {
		t.Fatalf("update without a 16-byte uuid: %v", u)
	}
}
