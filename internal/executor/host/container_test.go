package host

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/testenv"
)

// TestExecutorLogIsWrittenAsTheSandboxUser: the host (root) appends a
// hosted executor's log to a file in a sandbox the task's user may have
// changed; a symlink the user put there leads nowhere the user could not
// write.
func TestExecutorLogIsWrittenAsTheSandboxUser(t *testing.T) {
	testenv.Nobody(t, "writing as another user")
	cred, err := asuser.Lookup("nobody")
	if err != nil || cred == nil {
		t.Fatalf("Lookup(nobody) = %v, %v", cred, err)
	}
	dir, err := os.MkdirTemp("", "agora-host-log-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sandbox := filepath.Join(dir, "sandbox")
	private := filepath.Join(dir, "private")
	err = errors.Join(os.Chmod(dir, 0o755), os.Mkdir(sandbox, 0o755), os.Chown(sandbox, int(cred.Uid), int(cred.Gid)),
		os.WriteFile(private, []byte("root's\n"), 0o600))
	if err != nil {
		t.Fatal(err)
	}
	stderr := filepath.Join(sandbox, "stderr")
	log := logTo(stderr, cred, slog.LevelInfo)
	log.Info("first")
	if data, _ := os.ReadFile(stderr); len(data) == 0 {
		t.Fatal("the log line was not written")
	}

	os.Remove(stderr)
	if err := os.Symlink(private, stderr); err != nil {
		t.Fatal(err)
	}
	log.Info("second")
	if data, _ := os.ReadFile(private); string(data) != "root's\n" {
		t.Errorf("the log went through the user's symlink into root's file: %q", data)
	}
}
