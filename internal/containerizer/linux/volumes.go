package linux

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/image"
)

// volumeBinds turns ContainerInfo.volumes with a host_path into bind
// mounts. A relative container_path is under the sandbox (inside the image
// when there is one); an absolute one without an image must exist on the
// host. A relative host_path is relative to the sandbox.
func volumeBinds(spec containerizer.LaunchSpec, inImage bool) ([]bindMount, error) {
	var out []bindMount
	for _, v := range spec.Container.GetVolumes() {
		host, target := v.GetHostPath(), v.GetContainerPath()
		if host == "" {
			return nil, fmt.Errorf("linux: volume %q: only host_path volumes are supported", target)
		}
		if !isAbs(host) {
			host = filepath.Join(spec.Sandbox, host)
		}
		if target == "" || (!isAbs(target) && escapes(target)) {
			return nil, fmt.Errorf("linux: volume container_path %q is not a path inside the container", target)
		}
		fi, err := os.Stat(host)
		if err != nil {
			return nil, fmt.Errorf("linux: volume %s: %w", host, err)
		}
		switch {
		case inImage && !isAbs(target):
			target = filepath.Join(image.SandboxPath, target)
		case !inImage && !isAbs(target):
			target = filepath.Join(spec.Sandbox, target)
			if err := makeMountPoint(target, fi.IsDir()); err != nil {
				return nil, err
			}
		}
		out = append(out, bindMount{Source: host, Target: target, ReadOnly: v.GetMode() == mesos.Volume_RO})
	}
	return out, nil
}

func escapes(rel string) bool {
	clean := filepath.Clean(rel)
	return clean == ".." || strings.HasPrefix(clean, "../")
}

func makeMountPoint(path string, dir bool) error {
	if dir {
		return os.MkdirAll(path, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func writeInitConfig(w *os.File, cfg *initConfig) error {
	return json.NewEncoder(w).Encode(cfg)
}
