package containerizer

import (
	"os"
	"path/filepath"
	"testing"
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
