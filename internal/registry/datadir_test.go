package registry

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenMakesOnlyItsOwnDirectoryPrivate: the registry's directory is
// 0700, the directories made above it 0755 (an agent's sandboxes may sit
// below one of them).
func TestOpenMakesOnlyItsOwnDirectoryPrivate(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "agora", "master", "registry")
	reg, err := Open(Config{BindAddr: "127.0.0.1:0", DataDir: dir, Bootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	reg.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(dir): 0o755, filepath.Join(base, "agora"): 0o755} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s is %v, want %v", path, got, want)
		}
	}
}
