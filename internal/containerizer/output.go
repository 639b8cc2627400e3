package containerizer

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/agoraproject/agora/internal/asuser"
)

// Output is a container's standard output and error, opened for its first
// process, and the user it runs as.
type Output struct {
	Stdout, Stderr *os.File
	// Credential is spec.User's, nil when that is the agent's own user or
	// none is given; Home is that user's home directory.
	Credential *syscall.Credential
	Home       string
}

// Close closes the files.
func (o Output) Close() {
	o.Stdout.Close()
	o.Stderr.Close()
}

// OpenOutput resolves spec.User, gives the sandbox to that user and opens
// spec.Stdout and spec.Stderr for appending as that user (see Output.open).
func OpenOutput(spec LaunchSpec) (Output, error) {
	cred, home, err := credentialFor(spec.User)
	if err != nil {
		return Output{}, err
	}
	if cred != nil {
		if err := os.Chown(spec.Sandbox, int(cred.Uid), int(cred.Gid)); err != nil {
			return Output{}, fmt.Errorf("containerizer: giving sandbox to user %q: %w", spec.User, err)
		}
	}
	return Output{Credential: cred, Home: home}.open(spec)
}

// Reopen opens spec's output files again for appending, as the user
// OpenOutput resolved, without resolving it or touching the sandbox
// again: for an executor that keeps no file open between its tasks.
func (o Output) Reopen(spec LaunchSpec) (Output, error) {
	return Output{Credential: o.Credential, Home: o.Home}.open(spec)
}

// open opens spec's output files for appending with o's user's file-system
// identity: the sandbox is that user's, and whatever the user's processes
// left there (a symlink to a file of root's, say) is opened only if the
// user could open it.
func (o Output) open(spec LaunchSpec) (Output, error) {
	err := asuser.Do(o.Credential, func() error {
		var err error
		if o.Stdout, err = openOutput(spec.Stdout); err != nil {
			return err
		}
		if o.Stderr, err = openOutput(spec.Stderr); err != nil {
			o.Stdout.Close()
		}
		return err
	})
	if err != nil {
		return Output{}, err
	}
	return o, nil
}

// openOutput opens a stdout/stderr file for appending.
func openOutput(path string) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	return OpenAppend(path)
}

// OpenAppend opens a regular file in a sandbox for appending, creating it
// (0644) if it is missing. Anything else a task may have left under that
// name is refused rather than opened: a FIFO would block the open (hence
// O_NONBLOCK, which changes nothing for a regular file), a device is no
// place for a log.
func OpenAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, appendFlags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containerizer: opening %s: %w", path, err)
	}
	return onlyRegular(f, path)
}

const appendFlags = os.O_WRONLY | os.O_APPEND | os.O_CREATE | syscall.O_NONBLOCK

func onlyRegular(f *os.File, path string) (*os.File, error) {
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("containerizer: %s is not a regular file", path)
	}
	return f, nil
}

// credentialFor returns the credential and home directory to run as name;
// nil when name is empty or is the agent's own user.
func credentialFor(name string) (*syscall.Credential, string, error) {
	if name == "" {
		return nil, "", nil
	}
	cred, u, err := asuser.Resolve(name)
	if err != nil {
		return nil, "", fmt.Errorf("containerizer: %w", err)
	}
	if int(cred.Uid) == os.Geteuid() {
		return nil, u.HomeDir, nil
	}
	if os.Geteuid() != 0 {
		return nil, "", fmt.Errorf("containerizer: running as user %q needs root", name)
	}
	return cred, u.HomeDir, nil
}

// OpenSandboxOutput opens spec's output files for appending as the agent,
// confined to the sandbox (os.Root: a link leading out of it is refused),
// and gives them to spec's user: for a container whose user reaches the
// sandbox through a mount, and may not be able to walk the host's path to
// it. What the user's fetched files put in the sandbox stays theirs to
// point at.
func OpenSandboxOutput(spec LaunchSpec) (Output, error) {
	cred, home, err := credentialFor(spec.User)
	if err != nil {
		return Output{}, err
	}
	root, err := os.OpenRoot(spec.Sandbox)
	if err != nil {
		return Output{}, fmt.Errorf("containerizer: %w", err)
	}
	defer root.Close()
	o := Output{Credential: cred, Home: home}
	if o.Stdout, err = openInSandbox(root, spec.Sandbox, spec.Stdout, cred); err != nil {
		return Output{}, err
	}
	if o.Stderr, err = openInSandbox(root, spec.Sandbox, spec.Stderr, cred); err != nil {
		o.Stdout.Close()
		return Output{}, err
	}
	return o, nil
}

func openInSandbox(root *os.Root, sandbox, path string, cred *syscall.Credential) (*os.File, error) {
	if path == "" {
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	rel, err := filepath.Rel(sandbox, path)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("containerizer: output file %s is not in the sandbox %s", path, sandbox)
	}
	f, err := root.OpenFile(rel, appendFlags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("containerizer: opening %s: %w", path, err)
	}
	if f, err = onlyRegular(f, path); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := f.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			f.Close()
			return nil, fmt.Errorf("containerizer: giving %s to its user: %w", path, err)
		}
	}
	return f, nil
}
