package agent

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/hostinfo"
	"github.com/agoraproject/agora/internal/resources"
)

// agentResources is --resources with every standard name it leaves out
// autodetected (reference §8): cpus from the CPU count, mem from
// /proc/meminfo, disk from the work directory's file system, ports
// [31000-32000], all with --default_role.
func agentResources(cfg Config) ([]*mesos.Resource, error) {
	text, err := flagText(cfg.Resources)
	if err != nil {
		return nil, err
	}
	given, err := resources.Parse(text, cfg.DefaultRole)
	if err != nil {
		return nil, err
	}
	detected, err := detectResources(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	if detected, err = detected.WithDefaultRole(cfg.DefaultRole); err != nil {
		return nil, err
	}
	named := make(map[string]bool)
	for _, n := range given.Names() {
		named[n] = true
	}
	for _, n := range detected.Names() {
		if !named[n] {
			given = given.Add(detected.Get(n))
		}
	}
	return given.ToProto(resources.Endpoint), nil
}

// flagText reads a flag value given as file://path.
func flagText(value string) (string, error) {
	path, ok := strings.CutPrefix(value, "file://")
	if !ok {
		return value, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", value, err)
	}
	return strings.TrimSpace(string(data)), nil
}

func detectResources(workDir string) (resources.Resources, error) {
	mem, _, err := hostinfo.Memory()
	if err != nil {
		return resources.Resources{}, fmt.Errorf("detecting memory: %w", err)
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return resources.Resources{}, fmt.Errorf("creating work_dir: %w", err)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(workDir, &fs); err != nil {
		return resources.Resources{}, fmt.Errorf("detecting disk of %s: %w", workDir, err)
	}
	disk := fs.Blocks * uint64(fs.Bsize)
	return resources.DefaultResources(runtime.NumCPU(), mem, disk), nil
}

func agentAttributes(text string) ([]*mesos.Attribute, error) {
	text, err := flagText(text)
	if err != nil || text == "" {
		return nil, err
	}
	return resources.ParseAttributes(text)
}
