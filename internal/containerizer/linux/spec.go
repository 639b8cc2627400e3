package linux

import (
	"encoding/json"
	"fmt"
	"io"
)

// initConfig is what the launcher tells the container's init over the
// sync pipe, once the init is in its cgroups.
type initConfig struct {
	Path string   `json:"path"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
	// User, when set, is who the first process runs as.
	User *credential `json:"user,omitempty"`
	// Hostname of the container's UTS namespace.
	Hostname string `json:"hostname"`
	// Rootfs, when set, is the image root filesystem to assemble.
	Rootfs *rootfsConfig `json:"rootfs,omitempty"`
	// Binds are host paths to mount in the container.
	Binds []bindMount `json:"binds,omitempty"`
	// NetNS: the container has a network namespace of its own, in which
	// the init brings loopback up.
	NetNS bool `json:"netns"`
	// ExecDirect runs the first process as PID 1 (it reaps and handles
	// signals itself) instead of under the init.
	ExecDirect bool `json:"exec_direct"`
}

type credential struct {
	Uid    uint32   `json:"uid"`
	Gid    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// rootfsConfig is an image root filesystem.
type rootfsConfig struct {
	// Dir is where it is assembled (an empty directory on the host; the
	// mounts exist only in the container's mount namespace).
	Dir string `json:"dir"`
	// Lower are overlay layers, lowest first, with Upper and Work; none
	// means Dir holds a ready copy, which is bind-mounted onto itself.
	Lower []string `json:"lower,omitempty"`
	Upper string   `json:"upper,omitempty"`
	Work  string   `json:"work,omitempty"`
	// Sandbox is the host sandbox, mounted at /mnt/mesos/sandbox.
	Sandbox string `json:"sandbox"`
	// Pivot makes the rootfs the first process's own root (an executor in
	// an image); otherwise only the task is chrooted into it.
	Pivot bool `json:"pivot"`
}

// bindMount mounts Source (a host path) at Target (inside the container's
// root filesystem when there is one, else on the host's tree, in the
// container's mount namespace only).
type bindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
}

func readInitConfig(r io.Reader) (*initConfig, error) {
	var c initConfig
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return nil, fmt.Errorf("reading the container's configuration: %w", err)
	}
	if c.Path == "" || len(c.Argv) == 0 {
		return nil, fmt.Errorf("the container's configuration has no program")
	}
	return &c, nil
}
