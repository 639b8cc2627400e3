package asuser

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/agoraproject/agora/internal/testenv"
)

func nobody(t *testing.T) *syscall.Credential {
	t.Helper()
	testenv.Nobody(t, "switching the file-system identity")
	cred, err := Lookup("nobody")
	if err != nil || cred == nil {
		t.Fatalf("Lookup(nobody) = %v, %v", cred, err)
	}
	return cred
}

// openDir is a directory anyone may enter (t.TempDir's are 0700), owned
// by cred's user when cred is set.
func openDir(t *testing.T, cred *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "agora-asuser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLookupHasNothingToSwitchForRootOrNoUser(t *testing.T) {
	for _, name := range []string{"", "root"} {
		if os.Geteuid() != 0 && name == "root" {
			continue
		}
		if cred, err := Lookup(name); cred != nil || err != nil {
			t.Errorf("Lookup(%q) = %+v, %v; want nil, nil", name, cred, err)
		}
	}
}

func TestLookupUnknownUser(t *testing.T) {
	testenv.RequireRoot(t, "Lookup only resolves users as root")
	if _, err := Lookup("no-such-user-agora"); err == nil {
		t.Fatal("Lookup of an unknown user succeeded")
	}
}

func TestDoCreatesFilesAsTheUser(t *testing.T) {
	cred := nobody(t)
	path := filepath.Join(openDir(t, cred), "made")
	if err := Do(cred, func() error { return os.WriteFile(path, []byte("x"), 0o644) }); err != nil {
		t.Fatal(err)
	}
	st := stat(t, path)
	if st.Uid != cred.Uid || st.Gid != cred.Gid {
		t.Errorf("file owned by %d:%d, want %d:%d", st.Uid, st.Gid, cred.Uid, cred.Gid)
	}
}

// The point of the package: a symlink the user planted does not lead root
// to write where the user may not.
func TestDoRefusesWhatTheUserMayNotDo(t *testing.T) {
	cred := nobody(t)
	private := filepath.Join(openDir(t, nil), "private")
	if err := os.WriteFile(private, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	sandbox := openDir(t, cred)
	link := filepath.Join(sandbox, "stderr")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	err := Do(cred, func() error {
		f, err := os.OpenFile(link, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			f.Close()
		}
		return err
	})
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("opening a root-only file through the user's symlink: %v, want permission denied", err)
	}
	if err := Do(cred, func() error { _, err := os.ReadFile(private); return err }); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("reading a root-only file as the user: %v, want permission denied", err)
	}
	// Root again afterwards, on this goroutine and every other.
	if _, err := os.ReadFile(private); err != nil {
		t.Fatalf("after Do: %v", err)
	}
}

// Only Do's own thread changes identity: the rest of the process stays
// root while Do runs, and every thread is root once all have returned.
func TestDoLeavesOtherThreadsAlone(t *testing.T) {
	cred := nobody(t)
	private := filepath.Join(openDir(t, nil), "private")
	if err := os.WriteFile(private, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	go Do(cred, func() error { close(inside); <-release; return nil })
	<-inside
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() {
			if _, err := os.ReadFile(private); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(release)
	for range 200 {
		wg.Go(func() {
			Do(cred, func() error { return nil })
			if _, err := os.ReadFile(private); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a root read failed while or after Do ran: %v", err)
	}
}

func TestDoRaisesPanicsInTheCaller(t *testing.T) {
	cred := nobody(t)
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v, want boom", p)
		}
	}()
	Do(cred, func() error { panic("boom") })
	t.Fatal("Do returned")
}

func TestDoWithoutCredentialRunsInPlace(t *testing.T) {
	want := errors.New("fn's error")
	if err := Do(nil, func() error { return want }); err != want {
		t.Fatalf("Do(nil) = %v, want fn's error", err)
	}
}

func stat(t *testing.T, path string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}
