package fetcher

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/testenv"
)

// userSandbox is a sandbox owned by nobody, in a directory anyone may
// enter (t.TempDir's are 0700), and nobody's credential.
func userSandbox(t *testing.T) (string, *syscall.Credential) {
	t.Helper()
	testenv.Nobody(t, "fetching as another user")
	cred, err := asuser.Lookup("nobody")
	if err != nil || cred == nil {
		t.Fatalf("Lookup(nobody) = %v, %v", cred, err)
	}
	dir, err := os.MkdirTemp("", "agora-fetch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sandbox := filepath.Join(dir, "sandbox")
	if err := errors.Join(os.Chmod(dir, 0o755), os.Mkdir(sandbox, 0o755),
		os.Chown(sandbox, int(cred.Uid), int(cred.Gid))); err != nil {
		t.Fatal(err)
	}
	return sandbox, cred
}

// TestFetchAsTheUser: fetched files are the user's; a local file only
// root may read is not fetched for the user (Mesos runs its fetcher as
// the task's user).
func TestFetchAsTheUser(t *testing.T) {
	sandbox, cred := userSandbox(t)
	srv := serve(t, map[string][]byte{"/app.tgz": tgz(t, map[string]string{"bin/run": "#!/bin/sh\n"})})
	f := New(Config{})
	err := f.Fetch(context.Background(), Request{URIs: []*mesos.CommandInfo_URI{uri(srv.URL + "/app.tgz")}, Sandbox: sandbox, User: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.tgz", "bin", "bin/run"} {
		fi, err := os.Lstat(filepath.Join(sandbox, name))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != cred.Uid {
			t.Errorf("%s owned by %d, want nobody (%d)", name, st.Uid, cred.Uid)
		}
	}

	private := filepath.Join(filepath.Dir(sandbox), "private")
	if err := os.WriteFile(private, []byte("root's"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = f.Fetch(context.Background(), Request{URIs: []*mesos.CommandInfo_URI{uri("file://" + private)}, Sandbox: sandbox, User: "nobody"})
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("fetching a root-only file for nobody: %v, want permission denied", err)
	}
	if _, err := os.Lstat(filepath.Join(sandbox, "private")); err == nil {
		t.Error("the root-only file was copied into nobody's sandbox")
	}
}

// TestFetchDoesNotFollowTheUsersSymlinks: a sandbox whose tasks pointed a
// directory at one of root's does not get files written there.
func TestFetchDoesNotFollowTheUsersSymlinks(t *testing.T) {
	sandbox, _ := userSandbox(t)
	rootDir := filepath.Join(filepath.Dir(sandbox), "root-only")
	if err := os.Mkdir(rootDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rootDir, filepath.Join(sandbox, "conf")); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, map[string][]byte{"/x": []byte("payload")})
	u := uri(srv.URL + "/x")
	u.OutputFile = proto.String("conf/x")
	err := New(Config{}).Fetch(context.Background(), Request{URIs: []*mesos.CommandInfo_URI{u}, Sandbox: sandbox, User: "nobody"})
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("fetch through the user's symlink: %v, want permission denied", err)
	}
	if entries, _ := os.ReadDir(rootDir); len(entries) != 0 {
		t.Errorf("root's directory got %d entries", len(entries))
	}
}
