package containerizer

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenSandboxOutputStaysInTheSandbox: output files a container's
// fetched content turned into links leading out of the sandbox are
// refused; links inside it, and plain files, are opened.
func TestOpenSandboxOutputStaysInTheSandbox(t *testing.T) {
	spec := testSpec(t, "c1", "/bin/true")
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("not the task's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, spec.Stdout); err != nil {
		t.Fatal(err)
	}
	if out, err := OpenSandboxOutput(spec); err == nil {
		out.Close()
		t.Fatal("opened an output file through a link out of the sandbox")
	}
	if data, _ := os.ReadFile(outside); string(data) != "not the task's\n" {
		t.Errorf("the file outside was changed: %q", data)
	}

	os.Remove(spec.Stdout)
	if err := os.Symlink("real-stdout", spec.Stdout); err != nil {
		t.Fatal(err)
	}
	out, err := OpenSandboxOutput(spec)
	if err != nil {
		t.Fatal(err)
	}
	out.Stdout.WriteString("inside\n")
	out.Close()
	if data, _ := os.ReadFile(filepath.Join(spec.Sandbox, "real-stdout")); string(data) != "inside\n" {
		t.Errorf("a link inside the sandbox was not followed: %q", data)
	}
}

// TestOpenAppendRefusesAFIFO: a FIFO a task left where its output goes is
// refused at once, not waited on.
func TestOpenAppendRefusesAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stdout")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := OpenAppend(path)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("opened a FIFO as an output file")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO blocked")
	}
	f, err := OpenAppend(filepath.Join(filepath.Dir(path), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
