package image

import (
	"encoding/json"
	"fmt"
)

// The environment through which the linux containerizer tells the command
// executor that its task runs in an image: the task is started chrooted to
// the root filesystem (prepared, with /proc, /dev and the sandbox at
// SandboxPath, in the container's mount namespace) with the image's
// runtime configuration applied the Mesos way.
const (
	// EnvRootfs is the host path of the task's root filesystem.
	EnvRootfs = "AGORA_TASK_ROOTFS"
	// EnvRuntimeConfig is the image's RuntimeConfig, as JSON.
	EnvRuntimeConfig = "AGORA_TASK_IMAGE_CONFIG"
	// EnvTaskUser is the user the task runs as when the executor must stay
	// root to enter the image (chroot needs it).
	EnvTaskUser = "AGORA_TASK_USER"
	// SandboxPath is where the sandbox appears inside an image
	// (MESOS_SANDBOX).
	SandboxPath = "/mnt/mesos/sandbox"
)

// RuntimeConfig is the part of an image's configuration that decides how
// its task runs.
type RuntimeConfig struct {
	Env        []string `json:"env,omitempty"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
	User       string   `json:"user,omitempty"`
}

// Encode is c as the value of EnvRuntimeConfig.
func (c RuntimeConfig) Encode() string {
	b, _ := json.Marshal(c) // cannot fail: strings only
	return string(b)
}

// DecodeRuntimeConfig parses the value of EnvRuntimeConfig.
func DecodeRuntimeConfig(s string) (*RuntimeConfig, error) {
	var c RuntimeConfig
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("image: decoding %s: %w", EnvRuntimeConfig, err)
	}
	return &c, nil
}

// Rootfs is a container's root filesystem, ready to be mounted in its
// mount namespace.
type Rootfs struct {
	// Dir is the (empty) directory it is mounted at.
	Dir string
	// Lower are the image's unpacked layers, lowest first, to mount as an
	// overlay with Upper and Work; nil means Dir already holds a copy of
	// the image.
	Lower       []string
	Upper, Work string
	// Config is the image's runtime configuration.
	Config RuntimeConfig
}
