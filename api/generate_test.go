package api_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code from the .proto files
// (api/v1 and the agent protocol in internal/protocol) into a temporary
// directory and checks it matches what is committed, so a .proto edit
// without `go generate` fails CI.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("protoc is required under CI=true (Debian: protobuf-compiler)")
		}
		t.Skip("protoc not installed (Debian: protobuf-compiler); skipping the generated-code check")
	}
	for _, dir := range []string{".", "../internal/protocol", "../internal/registry"} {
		checkGenerated(t, dir)
	}
}

// checkGenerated regenerates dir's .proto files (relative names, as
// go:generate passes them) in a copy and compares the output.
func checkGenerated(t *testing.T, dir string) {
	t.Helper()
	protos, err := filepath.Glob(filepath.Join(dir, "*.proto"))
	if dir == "." {
		protos, err = filepath.Glob("v1/*/*.proto")
	}
	if err != nil || len(protos) == 0 {
		t.Fatalf("no .proto files in %s: %v", dir, err)
	}
	tmp := t.TempDir()
	var rel []string
	for _, p := range protos {
		r, _ := filepath.Rel(dir, p)
		rel = append(rel, r)
		copyFile(t, p, filepath.Join(tmp, r))
	}
	script, _ := filepath.Abs("generate.sh")
	cmd := exec.Command("sh", append([]string{script}, rel...)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate.sh in %s: %v\n%s", dir, err, out)
	}
	for _, r := range rel {
		gen := r[:len(r)-len(".proto")] + ".pb.go"
		want, err := os.ReadFile(filepath.Join(dir, gen))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(tmp, gen))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate` in %s", filepath.Join(dir, gen), dir)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
